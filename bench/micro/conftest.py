"""Inputs shared by the microbenchmarks: the requests ``redis-benchmark`` sends, and an
in-process node.

The node is a real ``Node`` that is never started: ``node.call`` and ``Client`` run exactly
the code a served request runs, minus the event loop and the socket. The requests are the
bytes ``redis-benchmark``'s GET and SET tests put on the wire (key ``key:__rand_int__``,
3-byte value ``VXK``), so the numbers here line up with ``python -m bench``.
"""

from __future__ import annotations

import pytest

from server.connection import Client
from server.node import Node

KEY = b"key:__rand_int__"
VALUE = b"VXK"


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


GET = resp(b"GET", KEY)
SET = resp(b"SET", KEY, VALUE)
PIPELINE_16 = (SET + GET) * 8  # what one -P 16 client sends per round trip (mixed)
GET_16 = GET * 16
SET_16 = SET * 16
PING_INLINE_16 = b"PING\r\n" * 16


class Sink:
    """The one transport method the batch path calls: ``write``."""

    __slots__ = ("written",)

    def __init__(self):
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)


@pytest.fixture
def node():
    n = Node(port=0, save="")
    n.clock.update()
    return n


@pytest.fixture
def client(node):
    """A real Client on the node; its transport is a Sink (no socket)."""
    c = Client(node)
    c.transport = Sink()
    node.clients[c.id] = c
    return c
