"""Huge declared lengths cost nothing until the bytes arrive: ``*2147483647`` or
``$536870912`` followed by silence must not make the node allocate (nodes run in this
process, so its resident size is the node's), and every other client keeps being served.
Redis itself waits on such requests without replying, and so must we."""

from __future__ import annotations

import socket
import time

import pytest

from protocol.reader import MAX_BULK_LEN
from tests.protocol.wire import exchange

HUGE_HEADERS = [
    b"*2147483647\r\n",
    b"*1\r\n$%d\r\n" % MAX_BULK_LEN,
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % MAX_BULK_LEN,
    b"*2147483647\r\n$%d\r\n" % MAX_BULK_LEN + b"x" * 1000,
    b"*1\r\n$4\r\nPING\r\n*2147483647\r\n",  # after a request: the fast path's chunk
    b"*1\r\n$%d\r\n" % MAX_BULK_LEN + b"y" * 100_000,
]


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _open(port: int, data: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    return s


@pytest.mark.parametrize("header", HUGE_HEADERS, ids=range(len(HUGE_HEADERS)))
def test_huge_declared_length_waits_like_redis(redis_ref, guarded, header):
    theirs, ours = exchange([redis_ref.port, guarded.port], header, settle=0.3)
    assert not theirs.closed
    assert ours == theirs


def test_many_huge_declarations_allocate_nothing(guarded):
    before = rss_kb()
    hostile = [_open(guarded.port, HUGE_HEADERS[i % len(HUGE_HEADERS)]) for i in range(200)]
    # Every hostile request is being read, and the node still answers at once.
    with guarded.client() as c:
        for _ in range(5):
            start = time.monotonic()
            assert c.call("PING") == b"+PONG\r\n"
            assert time.monotonic() - start < 0.5
    guarded.check()
    grown_mb = (rss_kb() - before) / 1024
    # 200 clients hold ~20 MB of real bytes between them; a declared length of 512 MB
    # or 2**31 arguments must cost nothing.
    assert grown_mb < 120, f"resident size grew by {grown_mb:.0f} MB"
    assert len(guarded.node.clients) >= 200
    for s in hostile:
        s.close()
    _wait_for(lambda: len(guarded.node.clients) == 0)


def test_huge_bulk_trickling_in_is_held_without_copying(guarded):
    # A client that keeps feeding a 512 MB argument in small pieces: each piece is held,
    # not re-joined with what came before (that would be quadratic).
    s = _open(guarded.port, b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % MAX_BULK_LEN)
    piece = b"z" * 1000
    start = time.monotonic()
    for _ in range(20_000):  # 20 MB in 1000-byte writes
        s.sendall(piece)
    with guarded.client() as c:
        assert c.call("PING") == b"+PONG\r\n"
    assert time.monotonic() - start < 20
    s.close()


def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
