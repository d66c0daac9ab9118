"""Connection limits, each side by side with real Redis configured the same way:
maxclients, the idle timeout, the limits before AUTH (requirepass), the query buffer limit."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.protocol.wire import Seen, exchange
from tests.support.resp import RawClient, encode_command
from tests.support.servers import real_redis

# -- maxclients --------------------------------------------------------------------------------


def test_maxclients_refuses_with_redis_error_then_closes(make_guarded):
    limit = 4
    with real_redis("--maxclients", str(limit)) as rp:
        ours = make_guarded(maxclients=limit)
        holders = [RawClient(p) for p in (rp.port, ours.port) for _ in range(limit)]
        for h in holders:
            assert h.call("PING") == b"+PONG\r\n"
        theirs, mine = exchange([rp.port, ours.port], encode_command("PING"))
        assert theirs.reply == b"-ERR max number of clients reached\r\n" and theirs.closed
        assert mine == theirs
        # The ones already in are unaffected, and a freed slot can be taken again.
        for h in holders:
            assert h.call("ECHO", "still here") == b"$10\r\nstill here\r\n"
        holders.pop().close()
        _wait_for(lambda: len(ours.node.clients) < limit)
        with RawClient(ours.port) as late:
            assert late.call("PING") == b"+PONG\r\n"
        assert ours.node.stats.rejected_connections >= 1
        for h in holders:
            h.close()


# -- idle timeout ------------------------------------------------------------------------------


def test_idle_clients_are_closed_after_timeout_and_busy_ones_are_not(make_guarded):
    g = make_guarded(timeout=1)
    idle = RawClient(g.port)
    busy = RawClient(g.port)
    assert idle.call("PING") == b"+PONG\r\n"
    start = time.monotonic()
    while time.monotonic() - start < 3.5:
        assert busy.call("PING") == b"+PONG\r\n"
        time.sleep(0.2)
    # Redis closes idle clients silently: no reply, just EOF.
    assert idle.is_closed(wait=0.5) and idle.buf == b""
    assert busy.call("GET", "plain") == b"$5\r\nvalue\r\n"
    idle.close()
    busy.close()


def test_timeout_zero_never_closes(guarded):
    with guarded.client() as c:
        time.sleep(2.5)
        assert c.call("PING") == b"+PONG\r\n"


# -- before AUTH ---------------------------------------------------------------------------------


_HELLO_ID = re.compile(rb"id\r\n:\d+")


@pytest.fixture(scope="module")
def auth_pair():
    """Real Redis and a Vermilion node, both with requirepass."""
    from tests.support.servers import vermilion

    with real_redis("--requirepass", "pw") as rp, vermilion(requirepass="pw") as node:
        yield rp.port, node.port


@pytest.mark.parametrize(
    "data",
    [
        encode_command("PING") * 481,  # NOAUTH each: 16354 bytes still fit Redis's reply buffer
        encode_command("PING") * 482,  # 16388 do not: closed, and nothing is sent
        b"PING\r\n" * 1000,
        encode_command("ECHO", b"x" * 16384),
        encode_command("ECHO", *["a"] * 9),
        encode_command("AUTH", "pw") + encode_command("ECHO", b"y" * 100_000),  # limits lift mid-read
        encode_command("AUTH", "pw") + encode_command("ECHO", *["b"] * 50),
        encode_command("AUTH", "wrong") + encode_command("ECHO", *["c"] * 11),
        encode_command("HELLO", "3", "AUTH", "default", "pw") + encode_command("ECHO", b"z" * 20000),
        encode_command("NOPE") + encode_command("GET"),  # lookup and arity come before auth
        b"*11\r\n",
        b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
        encode_command("PING") + b"*2\r\n$4\r\nECHO\r\n$16385\r\n",
    ],
    ids=["481_noauth_replies", "482_noauth_replies", "inline_flood", "16k_bulk", "10_args", "auth_then_big_bulk", "auth_then_many_args",
         "bad_auth_then_11_args", "hello_auth_then_big", "unknown_and_arity", "11_args", "16k_plus_1",
         "ping_then_big_bulk"],
)
def test_before_auth_behaves_like_redis(auth_pair, data):
    theirs, ours = exchange(auth_pair, data)
    ours = Seen(_HELLO_ID.sub(b"id\r\n:0", ours.reply), ours.closed)
    theirs = Seen(_HELLO_ID.sub(b"id\r\n:0", theirs.reply), theirs.closed)
    assert ours == theirs, f"\n redis:     {theirs.reply[:300]!r} closed={theirs.closed}\n vermilion: {ours.reply[:300]!r} closed={ours.closed}"


def test_unauthenticated_flood_does_not_disturb_others(make_guarded):
    g = make_guarded(requirepass="pw")
    flooders = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", g.port))
        s.sendall(encode_command("GET", "x") * 5000)
        flooders.append(s)
    g.check()
    for s in flooders:
        s.close()


# -- query buffer limit ------------------------------------------------------------------------------


QUERY_BUFFER_CASES = [
    (b"*2\r\n$4\r\nECHO\r\n$2000000\r\n" + b"x" * 1_500_000, "half_of_a_2mb_bulk"),
    (b"*2\r\n$4\r\nECHO\r\n$2000000\r\n" + b"x" * 900_000, "under_the_limit_waits"),
    (encode_command("ECHO", b"a" * 900_000, b"b" * 900_000), "two_900k_arguments_pass"),
    (encode_command("ECHO", b"a" * 1_100_000), "complete_bulk_above_the_limit"),
    (encode_command("SET", "qb", b"q" * 1_000_000) + encode_command("GET", "plain"), "1mb_value_passes"),
]


@pytest.mark.parametrize("data", [c[0] for c in QUERY_BUFFER_CASES], ids=[c[1] for c in QUERY_BUFFER_CASES])
def test_query_buffer_limit_like_redis(make_guarded, data):
    with real_redis("--client-query-buffer-limit", "1mb") as rp:
        g = make_guarded(client_query_buffer_limit="1mb")
        with RawClient(rp.port) as c:
            c.call("SET", "plain", "value")
        theirs, ours = exchange([rp.port, g.port], data, settle=1.0)
        assert (ours.reply[:200], ours.closed) == (theirs.reply[:200], theirs.closed)
        assert ours == theirs


def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
