"""Connection commands end to end: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET, requirepass,
maxclients and protected mode."""

from __future__ import annotations

import socket

import pytest
import redis

from server import errors as E
from tests.support.resp import RawClient


def test_ping_and_echo_round_trip_binary(r, shared_node):
    assert r.ping() is True
    assert r.echo(b"a\r\nb") == b"a\r\nb"
    with RawClient(shared_node.port) as c:
        assert c.call("PING", b"\x00hi\xff") == b"$4\r\n\x00hi\xff\r\n"


def test_ping_with_two_arguments_is_an_arity_error(node):
    with RawClient(node.port) as c:
        assert c.call("PING", "a", "b") == b"-ERR wrong number of arguments for 'ping' command\r\n"


def test_quit_replies_ok_then_closes(node):
    with RawClient(node.port) as c:
        c.send(b"PING\r\nQUIT\r\nPING\r\n")
        assert c.read_all(0.5) == b"+PONG\r\n+OK\r\n"
        assert c.is_closed()


def test_select_switches_database_per_connection(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        assert a.call("SELECT", "3") == b"+OK\r\n"
        a.call("SET", "k", "in3")
        assert b.call("GET", "k") == b"$-1\r\n"
        b.call("SELECT", "3")
        assert b.call("GET", "k") == b"$3\r\nin3\r\n"


@pytest.mark.parametrize(
    "arg, reply",
    [
        ("16", b"-ERR DB index is out of range\r\n"),
        ("-1", b"-ERR DB index is out of range\r\n"),
        ("x", b"-ERR value is not an integer or out of range\r\n"),
        ("2147483648", b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"),
    ],
)
def test_select_refuses_bad_indexes(node, arg, reply):
    with RawClient(node.port) as c:
        assert c.call("SELECT", arg) == reply


def test_select_other_than_zero_is_refused_in_cluster_mode(make_node):
    n = make_node(cluster_enabled="yes")
    with RawClient(n.port) as c:
        assert c.call("SELECT", "1") == b"-ERR SELECT is not allowed in cluster mode\r\n"
        assert c.call("SELECT", "0") == b"+OK\r\n"


# -- requirepass, AUTH -------------------------------------------------------------------------


def test_requirepass_refuses_commands_until_auth(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        assert c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("CLIENT", "ID") == b"-NOAUTH Authentication required.\r\n"
        # Commands flagged no_auth still run.
        assert c.call("AUTH", "wrong") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        assert c.call("AUTH", "pw") == b"+OK\r\n"
        assert c.call("GET", "k") == b"$-1\r\n"


def test_auth_with_username_and_redis_py_password(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        assert c.call("AUTH", "default", "pw") == b"+OK\r\n"
        assert c.call("AUTH", "other", "pw") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    r = redis.Redis(port=n.port, password="pw")
    assert r.ping() is True
    r.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=n.port, password="nope").ping()


def test_auth_without_requirepass_is_a_configuration_error(node):
    with RawClient(node.port) as c:
        assert c.call("AUTH", "x") == b"-ERR " + E.AUTH_NOT_CONFIGURED.encode() + b"\r\n"
        assert c.call("AUTH", "default", "anything") == b"+OK\r\n"
        assert c.call("AUTH", "a", "b", "c") == b"-ERR syntax error\r\n"


def test_unknown_command_before_auth_is_reported_as_unknown(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        assert c.call("NOSUCH").startswith(b"-ERR unknown command 'NOSUCH'")


# -- HELLO -------------------------------------------------------------------------------------


def test_hello_3_switches_protocol_and_describes_the_server(node):
    with RawClient(node.port) as c:
        cid = int(c.call("CLIENT", "ID")[1:-2])
        reply = c.call("HELLO", "3")
        assert reply.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n")
        assert b"$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:%d\r\n" % cid in reply
        assert reply.endswith(b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n")
        assert c.call("GET", "missing") == b"_\r\n"
        assert c.call("HELLO", "2").startswith(b"*14\r\n")
        assert c.call("GET", "missing") == b"$-1\r\n"


def test_redis_py_resp3_client_uses_hello(node):
    r = redis.Redis(port=node.port, protocol=3)
    assert r.ping() is True
    info = r.execute_command("HELLO", "3")
    assert info[b"proto"] == 3 and info[b"server"] == b"redis"
    r.set("k", "v")
    assert r.get("k") == b"v"
    r.close()


def test_hello_auth_and_setname_in_one_call(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        noauth = c.call("HELLO", "3")
        assert noauth.startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
        assert c.call("HELLO", "3", "AUTH", "default", "bad").startswith(b"-WRONGPASS")
        assert c.call("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me").startswith(b"%7\r\n")
        assert c.call("CLIENT", "GETNAME") == b"$2\r\nme\r\n"
    r = redis.Redis(port=n.port, protocol=3, password="pw")
    assert r.ping() is True
    r.close()


def test_hello_validates_the_name_before_authenticating(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        assert c.call("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "a b") == (
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        )
        assert c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"


# -- RESET -------------------------------------------------------------------------------------


def test_reset_restores_a_fresh_connection_state(node):
    with RawClient(node.port) as c:
        c.call("SELECT", "4")
        c.call("HELLO", "3")
        c.call("CLIENT", "SETNAME", "named")
        c.call("CLIENT", "NO-EVICT", "on")
        c.call("CLIENT", "NO-TOUCH", "on")
        assert c.call("RESET") == b"+RESET\r\n"
        info = c.call("CLIENT", "INFO")
        assert info.startswith(b"$")  # back to RESP2
        assert b" name= " in info and b" db=0 " in info and b" flags=N " in info and b"resp=2" in info


def test_reset_turns_replies_back_on(node):
    with RawClient(node.port) as c:
        c.send(b"CLIENT REPLY OFF\r\nPING\r\nRESET\r\nPING\r\n")
        assert c.read_all(0.5) == b"+RESET\r\n+PONG\r\n"


def test_reset_deauthenticates_when_a_password_is_set(make_node):
    n = make_node(requirepass="pw")
    with RawClient(n.port) as c:
        c.call("AUTH", "pw")
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"


def test_reset_stops_monitoring(node):
    with RawClient(node.port) as m, RawClient(node.port) as c:
        assert m.call("MONITOR") == b"+OK\r\n"
        assert m.call("RESET") == b"+RESET\r\n"
        c.call("SET", "k", "v")
        assert m.read_all(0.3) == b""
        assert m.call("PING") == b"+PONG\r\n"


# -- limits and protection ---------------------------------------------------------------------


def test_maxclients_refuses_the_extra_connection(make_node):
    n = make_node(maxclients=2)
    with RawClient(n.port) as a, RawClient(n.port) as b:
        assert a.call("PING") == b"+PONG\r\n"
        assert b.call("PING") == b"+PONG\r\n"
        with RawClient(n.port) as c:
            c.send(b"PING\r\n")
            assert c.read_all(0.5) == b"-ERR max number of clients reached\r\n"
            assert c.is_closed()


def _call_from(source: str, host: str, port: int, data: bytes) -> bytes:
    """Send ``data`` from a chosen loopback source address; return all the server sends."""
    with socket.socket() as s:
        s.settimeout(5)
        s.bind((source, 0))
        s.connect((host, port))
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


def test_protected_mode_refuses_peers_other_than_127_0_0_1(make_node):
    """Like Redis 7.0, only 127.0.0.1 and ::1 count as local: a peer at 127.0.0.3 is denied."""
    n = make_node(bind="127.0.0.2", protected_mode="yes")
    reply = _call_from("127.0.0.3", "127.0.0.2", n.port, b"")  # the refusal comes unasked
    assert reply == E.PROTECTED_MODE.encode() + b"\r\n"
    assert reply.startswith(b"-DENIED Redis is running in protected mode")


def test_protected_mode_allows_any_peer_once_a_password_is_set(make_node):
    n = make_node(bind="127.0.0.2", protected_mode="yes", requirepass="pw")
    reply = _call_from("127.0.0.3", "127.0.0.2", n.port, b"AUTH pw\r\nPING\r\nQUIT\r\n")
    assert reply == b"+OK\r\n+PONG\r\n+OK\r\n"
