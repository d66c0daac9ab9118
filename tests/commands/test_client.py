"""CLIENT subcommands end to end: identity, listing, killing, pausing, reply modes."""

from __future__ import annotations

import threading
import time

import redis

from tests.support.resp import RawClient

CLIENT_LIST_FIELDS = (
    "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem "
    "multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
).split()


def parse_line(line: bytes) -> dict[str, str]:
    return dict(field.split("=", 1) for field in line.decode().split(" "))


def client_lines(reply: bytes) -> list[bytes]:
    """The lines of a CLIENT LIST/INFO bulk (or RESP3 verbatim) reply."""
    body = reply.split(b"\r\n", 1)[1][:-2]
    if reply.startswith(b"="):
        body = body[4:]
    return [line for line in body.split(b"\n") if line]


# -- identity ------------------------------------------------------------------------------


def test_client_id_is_unique_and_increasing(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        ida = int(a.call("CLIENT", "ID")[1:-2])
        idb = int(b.call("CLIENT", "ID")[1:-2])
        assert idb > ida > 0


def test_setname_getname_and_invalid_names(node):
    with RawClient(node.port) as c:
        assert c.call("CLIENT", "GETNAME") == b"$-1\r\n"
        assert c.call("CLIENT", "SETNAME", "worker-1") == b"+OK\r\n"
        assert c.call("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
        for bad in ("a b", "a\nb", "caf\xe9"):
            assert c.call("CLIENT", "SETNAME", bad) == (
                b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
            )
        assert c.call("CLIENT", "GETNAME") == b"$8\r\nworker-1\r\n"
        assert c.call("CLIENT", "SETNAME", "") == b"+OK\r\n"
        assert c.call("CLIENT", "GETNAME") == b"$-1\r\n"
        c.call("HELLO", "3")
        assert c.call("CLIENT", "GETNAME") == b"_\r\n"


def test_client_info_describes_the_caller_with_redis_fields(node):
    with RawClient(node.port) as c:
        c.call("CLIENT", "SETNAME", "me")
        c.call("SELECT", "2")
        (line,) = client_lines(c.call("CLIENT", "INFO"))
        fields = parse_line(line)
        assert list(fields) == CLIENT_LIST_FIELDS
        assert fields["name"] == "me" and fields["db"] == "2" and fields["cmd"] == "client|info"
        assert fields["flags"] == "N" and fields["resp"] == "2" and fields["user"] == "default"
        assert fields["laddr"] == f"127.0.0.1:{node.port}"
        assert fields["multi"] == "-1" and fields["qbuf"] == "26" and fields["argv-mem"] == "10"
        c.call("HELLO", "3")
        reply = c.call("CLIENT", "INFO")
        assert reply.startswith(b"=") and b"txt:id=" in reply and b" resp=3\n" in reply


def test_client_list_field_names_match_real_redis(node, redis_ref):
    with RawClient(redis_ref.port) as theirs, RawClient(node.port) as ours:
        (ref,) = client_lines(theirs.call("CLIENT", "LIST", "ID", theirs.call("CLIENT", "ID")[1:-2]))
        (mine,) = client_lines(ours.call("CLIENT", "LIST", "ID", ours.call("CLIENT", "ID")[1:-2]))
        assert list(parse_line(mine)) == list(parse_line(ref))
        assert parse_line(mine)["cmd"] == parse_line(ref)["cmd"] == "client|list"


def test_client_list_shows_every_connection_and_filters(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        a.call("CLIENT", "SETNAME", "alpha")
        b.call("CLIENT", "SETNAME", "beta")
        b.call("GET", "x")
        lines = [parse_line(x) for x in client_lines(a.call("CLIENT", "LIST"))]
        by_name = {f["name"]: f for f in lines}
        assert set(by_name) >= {"alpha", "beta"}
        assert by_name["beta"]["cmd"] == "get" and by_name["alpha"]["cmd"] == "client|list"
        assert client_lines(a.call("CLIENT", "LIST", "TYPE", "replica")) == []
        assert client_lines(a.call("CLIENT", "LIST", "TYPE", "master")) == []
        assert len(client_lines(a.call("CLIENT", "LIST", "TYPE", "NORMAL"))) == len(lines)
        only_b = client_lines(a.call("CLIENT", "LIST", "ID", by_name["beta"]["id"], "999999"))
        assert [parse_line(x)["name"] for x in only_b] == ["beta"]
        assert a.call("CLIENT", "LIST", "TYPE", "bogus") == b"-ERR Unknown client type 'bogus'\r\n"
        assert a.call("CLIENT", "LIST", "ID", "x") == b"-ERR Invalid client ID\r\n"


def test_client_list_flags_for_no_evict_no_touch_and_monitor(node):
    with RawClient(node.port) as a, RawClient(node.port) as m, RawClient(node.port) as c:
        m.call("MONITOR")
        a.call("CLIENT", "SETNAME", "flagged")
        a.call("CLIENT", "NO-EVICT", "on")
        a.call("CLIENT", "NO-TOUCH", "on")
        lines = [parse_line(x) for x in client_lines(c.call("CLIENT", "LIST"))]
        flags = {f["name"]: f["flags"] for f in lines}
        assert flags["flagged"] == "eT"
        assert "O" in {f["flags"] for f in lines}  # the MONITOR connection


def test_redis_py_client_list_parses_our_lines(r):
    r.client_setname("parsed")
    entries = r.client_list()
    me = [e for e in entries if e["name"] == "parsed"]
    assert len(me) == 1 and me[0]["cmd"] == "client|list" and me[0]["db"] == "0"
    assert r.client_info()["name"] == "parsed"
    assert r.client_id() == int(me[0]["id"])


def test_redis_py_connects_with_setinfo(node):
    """redis-py sends CLIENT SETINFO LIB-NAME/LIB-VER on connect; we accept it like 7.2."""
    r = redis.Redis(port=node.port)
    r.ping()
    client = next(iter(node.clients.values()))
    assert client.lib_name.startswith(b"redis-py")
    r.close()
    with RawClient(node.port) as c:
        assert c.call("CLIENT", "SETINFO", "LIB-NAME", "mylib") == b"+OK\r\n"
        assert c.call("CLIENT", "SETINFO", "lib-ver", "1.0") == b"+OK\r\n"
        assert c.call("CLIENT", "SETINFO", "color", "red") == b"-ERR Unrecognized option 'color'\r\n"
        assert c.call("CLIENT", "SETINFO", "LIB-NAME", "a b") == (
            b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n"
        )


# -- KILL ----------------------------------------------------------------------------------


def _id(c: RawClient) -> int:
    return int(c.call("CLIENT", "ID")[1:-2])


def _addr(c: RawClient) -> str:
    (line,) = client_lines(c.call("CLIENT", "INFO"))
    return parse_line(line)["addr"]


def test_kill_by_address_old_form_closes_that_connection(node):
    with RawClient(node.port) as killer, RawClient(node.port) as victim:
        addr = _addr(victim)
        assert killer.call("CLIENT", "KILL", addr) == b"+OK\r\n"
        assert victim.is_closed()
        assert killer.call("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"


def test_kill_old_form_can_kill_the_caller(node):
    with RawClient(node.port) as c:
        assert c.call("CLIENT", "KILL", _addr(c)) == b"+OK\r\n"
        assert c.is_closed()


def test_kill_by_id_returns_the_count(node):
    with RawClient(node.port) as killer, RawClient(node.port) as victim:
        assert killer.call("CLIENT", "KILL", "ID", str(_id(victim))) == b":1\r\n"
        assert victim.is_closed()
        assert killer.call("CLIENT", "KILL", "ID", str(10**9)) == b":0\r\n"
        assert killer.call("PING") == b"+PONG\r\n"


def test_kill_skipme_protects_the_caller_unless_told_otherwise(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        assert b.call("PING") == b"+PONG\r\n"  # b is registered before the kill
        assert a.call("CLIENT", "KILL", "TYPE", "normal") == b":1\r\n"
        assert b.is_closed()
        assert a.call("PING") == b"+PONG\r\n"
        assert a.call("CLIENT", "KILL", "ID", str(_id(a)), "SKIPME", "no") == b":1\r\n"
        assert a.is_closed()


def test_kill_filters_combine(node):
    with RawClient(node.port) as a, RawClient(node.port) as b, RawClient(node.port) as c:
        b_addr = _addr(b)
        assert a.call("CLIENT", "KILL", "ADDR", b_addr, "ID", str(_id(c))) == b":0\r\n"
        assert a.call("CLIENT", "KILL", "ADDR", b_addr, "USER", "default") == b":1\r\n"
        assert b.is_closed()
        assert a.call("CLIENT", "KILL", "LADDR", f"127.0.0.1:{node.port}") == b":1\r\n"
        assert c.is_closed()


def test_kill_pubsub_type_only_hits_subscribers(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        assert a.call("CLIENT", "KILL", "TYPE", "pubsub") == b":0\r\n"
        assert a.call("CLIENT", "KILL", "TYPE", "master") == b":0\r\n"
        assert a.call("CLIENT", "KILL", "TYPE", "replica") == b":0\r\n"
        assert b.call("PING") == b"+PONG\r\n"


def test_kill_errors(node):
    with RawClient(node.port) as c:
        assert c.call("CLIENT", "KILL", "ID", "0") == b"-ERR client-id should be greater than 0\r\n"
        assert c.call("CLIENT", "KILL", "TYPE", "x") == b"-ERR Unknown client type 'x'\r\n"
        assert c.call("CLIENT", "KILL", "USER", "bob") == b"-ERR No such user 'bob'\r\n"
        assert c.call("CLIENT", "KILL", "SKIPME", "maybe") == b"-ERR syntax error\r\n"
        assert c.call("CLIENT", "KILL", "ID", "1", "TYPE") == b"-ERR syntax error\r\n"


# -- PAUSE ---------------------------------------------------------------------------------


def _reply_within(c: RawClient, seconds: float) -> bytes | None:
    c.sock.settimeout(seconds)
    try:
        return c.read_reply()
    except OSError:
        return None
    finally:
        c.sock.settimeout(10)


def test_pause_write_holds_writes_but_not_reads_until_unpause(node):
    with RawClient(node.port) as admin, RawClient(node.port) as writer, RawClient(node.port) as reader:
        admin.call("SET", "k", "before")
        assert admin.call("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        writer.send_command("SET", "k", "after")
        assert _reply_within(writer, 0.3) is None
        assert reader.call("GET", "k") == b"$6\r\nbefore\r\n"
        assert admin.call("CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert _reply_within(writer, 5) == b"+OK\r\n"
        assert reader.call("GET", "k") == b"$5\r\nafter\r\n"


def test_pause_all_holds_reads_too_and_keeps_pipeline_order(node):
    with RawClient(node.port) as admin, RawClient(node.port) as c:
        assert admin.call("CLIENT", "PAUSE", "500") == b"+OK\r\n"
        c.send(b"PING\r\nSET a 1\r\nGET a\r\n")
        assert c.read_all(0.2) == b""
        assert [c.read_reply() for _ in range(3)] == [b"+PONG\r\n", b"+OK\r\n", b"$1\r\n1\r\n"]


def test_pause_all_holds_even_unpause_like_redis(node):
    """Redis 7.0 postpones every command of a normal client under PAUSE ALL, UNPAUSE too."""
    with RawClient(node.port) as admin, RawClient(node.port) as other:
        assert admin.call("CLIENT", "PAUSE", "400", "ALL") == b"+OK\r\n"
        start = time.monotonic()
        assert other.call("CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert time.monotonic() - start >= 0.25


def test_pause_ends_by_itself_when_the_timeout_passes(node):
    with RawClient(node.port) as admin, RawClient(node.port) as writer:
        assert admin.call("CLIENT", "PAUSE", "300", "WRITE") == b"+OK\r\n"
        start = time.monotonic()
        assert writer.call("SET", "k", "v") == b"+OK\r\n"
        waited = time.monotonic() - start
        assert 0.2 <= waited < 3


def test_pause_argument_errors(node):
    with RawClient(node.port) as c:
        assert c.call("CLIENT", "PAUSE", "abc") == b"-ERR timeout is not an integer or out of range\r\n"
        assert c.call("CLIENT", "PAUSE", "-1") == b"-ERR timeout is negative\r\n"
        assert c.call("CLIENT", "PAUSE", "10", "READ") == b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
        assert c.call("CLIENT", "PAUSE", "10", "ALL", "x") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"
        )


def test_redis_py_blocked_write_completes_after_unpause(node):
    r = redis.Redis(port=node.port, socket_timeout=10)
    admin = redis.Redis(port=node.port)
    admin.client_pause(60000, all=False)
    done = threading.Event()

    def write():
        r.set("k", "v")
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert not done.wait(0.3)
    assert admin.get("k") is None
    admin.client_unpause()
    assert done.wait(5)
    t.join()
    assert admin.get("k") == b"v"
    r.close()
    admin.close()


# -- REPLY ---------------------------------------------------------------------------------


def test_reply_off_silences_a_pipeline_until_on(node):
    with RawClient(node.port) as c:
        c.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nBADCMD\r\nCLIENT REPLY ON\r\nGET a\r\n")
        assert c.read_all(0.5) == b"+OK\r\n$1\r\n1\r\n"


def test_reply_skip_silences_only_the_next_command(node):
    with RawClient(node.port) as c:
        c.send(b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\nPING\r\n")
        assert c.read_all(0.5) == b"$1\r\n1\r\n+PONG\r\n"


def test_reply_skip_while_off_stays_off(node):
    with RawClient(node.port) as c:
        c.send(b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n")
        assert c.read_all(0.5) == b"+OK\r\n+PONG\r\n"


def test_reply_off_sent_alone_then_on(node):
    with RawClient(node.port) as c:
        c.send_command("CLIENT", "REPLY", "OFF")
        c.send_command("SET", "x", "1")
        assert c.read_all(0.3) == b""
        assert c.call("CLIENT", "REPLY", "ON") == b"+OK\r\n"
        assert c.call("GET", "x") == b"$1\r\n1\r\n"
        assert c.call("CLIENT", "REPLY", "MAYBE") == b"-ERR syntax error\r\n"


# -- NO-EVICT / NO-TOUCH -----------------------------------------------------------------------


def test_no_evict_and_no_touch_toggle_and_validate(node):
    with RawClient(node.port) as c:
        for sub in ("NO-EVICT", "NO-TOUCH"):
            assert c.call("CLIENT", sub, "on") == b"+OK\r\n"
            assert c.call("CLIENT", sub, "OFF") == b"+OK\r\n"
            assert c.call("CLIENT", sub, "maybe") == b"-ERR syntax error\r\n"
        c.call("CLIENT", "NO-TOUCH", "on")
        (line,) = client_lines(c.call("CLIENT", "INFO"))
        assert parse_line(line)["flags"] == "T"


def test_client_no_touch_leaves_access_clocks_alone_except_for_touch(node):
    """CLIENT NO-TOUCH (7.2): reads by this client do not reset OBJECT IDLETIME; TOUCH still does."""
    with RawClient(node.port) as a, RawClient(node.port) as b:
        assert a.call("SET", "k", "v") == b"+OK\r\n"
        node.clock.advance(5000)
        assert b.call("CLIENT", "NO-TOUCH", "ON") == b"+OK\r\n"
        assert b.call("GET", "k") == b"$1\r\nv\r\n"
        idle = int(a.call("OBJECT", "IDLETIME", "k")[1:-2])
        assert idle >= 4
        assert b.call("TOUCH", "k") == b":1\r\n"
        assert a.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
        node.clock.advance(3000)
        assert b.call("CLIENT", "NO-TOUCH", "OFF") == b"+OK\r\n"
        assert b.call("GET", "k") == b"$1\r\nv\r\n"
        assert a.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
