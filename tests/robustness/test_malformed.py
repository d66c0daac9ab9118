"""Malformed frames and binary data: a protocol error closes only the client that sent it,
other clients keep their connection and state, and no byte of stored data changes."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from tests.protocol.cases import CASES
from tests.protocol.streams import garbage_streams, mutated_streams, resp_streams
from tests.protocol.wire import exchange

ERROR_CASES = [c for c in CASES if c.error and c.auth]


def test_every_protocol_error_closes_only_its_client(guarded):
    bystander = guarded.client()
    assert bystander.call("SELECT", "3") == b"+OK\r\n"
    assert bystander.call("SET", "mine", "1") == b"+OK\r\n"
    for case in ERROR_CASES:
        (seen,) = exchange([guarded.port], case.data)
        assert seen.closed, case.id
        assert seen.reply.endswith(ProtocolError(case.error).reply), case.id
        # The bystander's connection, with its selected db, is untouched.
        assert bystander.call("GET", "mine") == b"$1\r\n1\r\n", case.id
    assert bystander.call("INCR", "mine") == b":2\r\n"
    bystander.close()
    guarded.check()


def test_pipeline_after_a_protocol_error_is_not_run(guarded):
    with guarded.client() as c:
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$x\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n")
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n"
        assert c.is_closed()
    with guarded.client() as c:
        assert c.call("MGET", "a", "b") == b"*2\r\n$1\r\n1\r\n$-1\r\n"


STREAMS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@STREAMS
@given(st.one_of(garbage_streams, mutated_streams(), resp_streams))
def test_any_byte_stream_leaves_the_server_healthy(guarded, data):
    exchange([guarded.port], data, settle=0.02)
    with guarded.client() as c:
        assert c.call("PING") == b"+PONG\r\n"
        assert c.call("GET", "plain") == b"$5\r\nvalue\r\n"


def test_garbage_from_many_clients_at_once(guarded):
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", guarded.port))
        s.sendall(bytes((i * 37 + j * 11) % 256 for j in range(5000)))
        socks.append(s)
    guarded.check()
    for s in socks:
        s.close()


# -- binary keys and values -----------------------------------------------------------------------


@pytest.mark.parametrize("byte", range(256))
def test_every_byte_value_as_key_and_value(pair, byte):
    b = bytes([byte])
    for key, value in ((b, b), (b"k" + b + b"k", b + b"\r\n" + b), (b * 3, b"")):
        pair.check("SET", key, value)
        pair.check("GET", key)
        pair.check("STRLEN", key)
        pair.check("EXISTS", key)


def test_values_holding_crlf_and_resp_frames(pair):
    tricky = [b"\r\n", b"a\r\nb", b"\r\n\r\n", b"*1\r\n$4\r\nPING\r\n", b"$-1\r\n", b"-ERR x\r\n",
              b"\r", b"\n", b"\0", b"\0\r\n\0", b"\xff\xfe", b'"quoted"', b"'single'", b"\\x41"]
    for i, v in enumerate(tricky):
        pair.check("SET", v, v)
        pair.check("APPEND", v, v)
        pair.check("GET", v)
        pair.check("GETRANGE", v, "1", "-2")
        pair.check("SETRANGE", v, "2", v)
        pair.check("GET", v)
    pair.check("MGET", *tricky)


def test_megabyte_value_with_every_byte(guarded):
    value = bytes(range(256)) * 4096 * 4
    with guarded.client() as c:
        assert c.call("SET", "blob", value) == b"+OK\r\n"
        assert c.call("GET", "blob") == b"$%d\r\n%b\r\n" % (len(value), value)
        assert c.call("STRLEN", "blob") == b":%d\r\n" % len(value)


def test_inline_binary_through_hex_escapes(pair):
    expected, got = pair.raw(b'SET "\\x00\\r\\n\\xff" "\\x01\\x02"\r\nGET "\\x00\\r\\n\\xff"\r\n')
    assert got == expected == b"+OK\r\n$2\r\n\x01\x02\r\n"


# -- HTTP cross-protocol attack -----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
     b"PING\r\nhost: x\r\nPING\r\n", b"*1\r\n$4\r\npost\r\n"],
    ids=["post", "get_with_host_header", "host_after_ping", "multibulk_post"],
)
def test_http_request_is_dropped_without_reply(redis_ref, guarded, data):
    # Redis treats "POST" and "Host:" as an attack: it logs it and closes the connection at
    # once, without sending even the replies of commands before it in the same read.
    theirs, ours = exchange([redis_ref.port, guarded.port], data, timeout=3)
    assert theirs.reply == b"" and theirs.closed
    assert ours == theirs
