"""Connection and CLIENT commands: the same requests to Redis 7.0.15 and to Vermilion, the
reply bytes compared. Values that differ between two servers by nature (client ids,
ports, ages, buffer sizes) are normalised explicitly."""

from __future__ import annotations

import re

import pytest

from tests.support.resp import RawClient
from tests.support.servers import real_redis


def _no_id(reply: bytes) -> bytes:
    """HELLO's map holds the connection id."""
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n", reply)


#: CLIENT LIST fields whose values legitimately differ between the two servers.
_VOLATILE = re.compile(rb"\b(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|tot-mem|rbs|rbp)=\S*")


def _client_line_shape(reply: bytes) -> bytes:
    header, _, body = reply.partition(b"\r\n")
    return _VOLATILE.sub(rb"\1=*", body)


@pytest.mark.parametrize(
    "cmd",
    [
        ("PING",),
        ("PING", "hello"),
        ("PING", "a", "b"),
        ("ECHO", b"\x00\xff"),
        ("ECHO",),
        ("SELECT", "15"),
        ("SELECT", "16"),
        ("SELECT", "-1"),
        ("SELECT", "1.5"),
        ("SELECT", "99999999999999999999"),
        ("SELECT",),
        ("AUTH",),
        ("AUTH", "x"),
        ("AUTH", "nouser", "x"),
        ("AUTH", "a", "b", "c"),
        ("AUTH", "default", "anything"),
        ("HELLO", "1"),
        ("HELLO", "4"),
        ("HELLO", "-1"),
        ("HELLO", "abc"),
        ("HELLO", "3.0"),
        ("HELLO", "2", "foo"),
        ("HELLO", "2", "AUTH"),
        ("HELLO", "2", "AUTH", "a"),
        ("HELLO", "2", "AUTH", "nouser", "x"),
        ("HELLO", "2", "SETNAME"),
        ("HELLO", "2", "SETNAME", "a b"),
        ("HELLO", "3", "AUTH", "default", "x", "SETNAME", "a b"),
        ("HELLO", "4", "AUTH", "a", "b"),
        ("RESET", "x"),
    ],
)
def test_connection_command_replies(pair, cmd):
    pair.check(*cmd)


@pytest.mark.parametrize(
    "cmd",
    [
        ("HELLO",),
        ("HELLO", "2"),
        ("HELLO", "3"),
        ("HELLO", "2", "AUTH", "default", "x"),
        ("HELLO", "3", "SETNAME", "n", "AUTH", "default", "x"),
        ("HELLO", "2", "setname", ""),
    ],
)
def test_hello_replies_up_to_the_client_id(pair, cmd):
    pair.check(*cmd, normalize=_no_id)
    pair.check("CLIENT", "GETNAME")
    pair.check("GET", "nosuchkey")


def test_quit_and_reset_replies(pair):
    pair.check("CLIENT", "SETNAME", "x")
    pair.check("SELECT", "2")
    pair.check("RESET")
    pair.check("CLIENT", "GETNAME")
    theirs, ours = pair.raw(b"QUIT extra args\r\nPING\r\n")
    assert theirs == ours == b"+OK\r\n"


@pytest.mark.parametrize(
    "cmd",
    [
        ("CLIENT",),
        ("CLIENT", "FOO"),
        ("CLIENT", "HELP"),
        ("CLIENT", "HELP", "x"),
        ("CLIENT", "ID", "x"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME"),
        ("CLIENT", "SETNAME", "a", "b"),
        ("CLIENT", "SETNAME", "a b"),
        ("CLIENT", "SETNAME", "caf\xe9"),
        ("CLIENT", "SETNAME", ""),
        ("CLIENT", "LIST", "TYPE"),
        ("CLIENT", "LIST", "TYPE", "foo"),
        ("CLIENT", "LIST", "TYPE", "master"),
        ("CLIENT", "LIST", "TYPE", "replica"),
        ("CLIENT", "LIST", "TYPE", "slave"),
        ("CLIENT", "LIST", "TYPE", "pubsub"),
        ("CLIENT", "LIST", "ID"),
        ("CLIENT", "LIST", "ID", "abc"),
        ("CLIENT", "LIST", "ID", "0", "-1", "999999"),
        ("CLIENT", "LIST", "ID", "1", "TYPE", "normal"),
        ("CLIENT", "LIST", "TYPE", "normal", "ID", "1"),
        ("CLIENT", "LIST", "foo"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
        ("CLIENT", "KILL", "foo"),
        ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "ID", "abc"),
        ("CLIENT", "KILL", "ID", "0"),
        ("CLIENT", "KILL", "ID"),
        ("CLIENT", "KILL", "ID", "1", "foo"),
        ("CLIENT", "KILL", "TYPE", "foo"),
        ("CLIENT", "KILL", "TYPE", "master"),
        ("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "maybe"),
        ("CLIENT", "KILL", "USER", "nobody"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"),
        ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
        ("CLIENT", "KILL", "MAXAGE", "10"),
        ("CLIENT", "NO-EVICT"),
        ("CLIENT", "NO-EVICT", "maybe"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "NO-EVICT", "OFF"),
        ("CLIENT", "REPLY"),
        ("CLIENT", "REPLY", "maybe"),
        ("CLIENT", "REPLY", "ON"),
        ("CLIENT", "PAUSE"),
        ("CLIENT", "PAUSE", "abc"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "99999999999999999999"),
        ("CLIENT", "PAUSE", "10", "foo"),
        ("CLIENT", "PAUSE", "10", "all", "extra"),
        ("CLIENT", "UNPAUSE"),
        ("CLIENT", "UNPAUSE", "x"),
    ],
)
def test_client_subcommand_replies(pair, cmd):
    pair.check(*cmd)


def test_client_pause_then_unpause(pair):
    pair.check("CLIENT", "PAUSE", "50", "WRITE")
    pair.check("CLIENT", "UNPAUSE")
    pair.check("CLIENT", "PAUSE", "9223372036854775807")  # 7.0 accepts it (the end overflows)
    pair.check("CLIENT", "UNPAUSE")


def test_client_kill_skipme_and_old_form_of_self(pair):
    pair.check("CLIENT", "KILL", "TYPE", "pubsub")
    pair.check("CLIENT", "KILL", "USER", "default", "TYPE", "master")


@pytest.mark.parametrize("resp", ["2", "3"])
def test_client_info_and_list_have_the_same_shape(pair, resp):
    pair.check("HELLO", resp, normalize=_no_id)
    pair.check("CLIENT", "SETNAME", "shape")
    pair.check("SELECT", "3")
    pair.check("CLIENT", "NO-EVICT", "on")
    pair.check("CLIENT", "INFO", normalize=_client_line_shape)
    pair.check("CLIENT", "LIST", "TYPE", "normal", normalize=_client_line_shape)


def test_client_list_of_other_connections(pair, redis_ref, diff_node):
    with RawClient(redis_ref.port) as a, RawClient(diff_node.port) as b:
        for c in (a, b):
            c.call("CLIENT", "SETNAME", "other")
            c.call("GET", "x")
        ids = (a.call("CLIENT", "ID")[1:-2], b.call("CLIENT", "ID")[1:-2])
        theirs = pair.redis.call("CLIENT", "LIST", "ID", ids[0])
        ours = pair.ours.call("CLIENT", "LIST", "ID", ids[1])
        assert _client_line_shape(ours) == _client_line_shape(theirs)


@pytest.mark.parametrize(
    "pipeline, replies",
    [
        (b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\n", 2),
        (b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\nPING\r\n", 2),
        (b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n", 2),
        (b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n", 2),
        (b"CLIENT REPLY SKIP\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\n", 1),
        (b"CLIENT REPLY OFF\r\nNOSUCHCMD\r\nCLIENT REPLY BAD\r\nCLIENT REPLY ON\r\n", 1),
        (b"CLIENT REPLY OFF\r\nRESET\r\nPING\r\n", 2),
    ],
)
def test_client_reply_modes_in_pipelines(pair, pipeline, replies):
    theirs, ours = pair.raw(pipeline, wait=0.4)
    assert ours == theirs
    assert theirs.count(b"\r\n") >= replies


def test_unauthenticated_replies_with_requirepass(make_node):
    """Before AUTH: NOAUTH for most commands, and the long HELLO text."""
    node = make_node(requirepass="pw")
    with real_redis("--requirepass", "pw") as ref:
        with RawClient(ref.port) as theirs, RawClient(node.port) as ours:
            for cmd in [
                ("GET", "k"),
                ("CLIENT", "ID"),
                ("NOSUCH",),
                ("GET",),
                ("HELLO",),
                ("HELLO", "3"),
                ("HELLO", "3", "AUTH", "default", "wrong"),
                ("AUTH", "wrong"),
                ("AUTH", "default", "wrong"),
                ("PING",),
                ("AUTH", "pw"),
                ("PING",),
                ("RESET",),
                ("PING",),
            ]:
                assert ours.call(*cmd) == theirs.call(*cmd), cmd
