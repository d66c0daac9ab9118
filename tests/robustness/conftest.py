"""``guarded``: a fresh node holding witness data. At the end of the test, and whenever a test
calls ``guarded.check()``, a new connection must get PONG and every witness key back.
``make_guarded(**config)`` starts more, e.g. ``make_guarded(requirepass="pw")``."""

from __future__ import annotations

import contextlib

import pytest

from tests.support.resp import RawClient
from tests.support.servers import vermilion

#: Keys and values that a parser bug would mangle: every byte value, CRLF, RESP lookalikes.
WITNESSES = {
    b"plain": b"value",
    bytes(range(256)): bytes(range(255, -1, -1)),
    b"crlf\r\nkey": b"crlf\r\nvalue\r\n",
    b"*1\r\n$4\r\nPING\r\n": b"$-1\r\n",
    b"": b"empty key",
    b"big": bytes(range(256)) * 1000,
}


class Guarded:
    def __init__(self, node, password: str | None = None):
        self.node = node
        self.port = node.port
        self.password = password
        with self.client() as c:
            for k, v in WITNESSES.items():
                assert c.call("SET", k, v) == b"+OK\r\n"

    def client(self, timeout: float = 10.0) -> RawClient:
        """A new connection, authenticated if the node has a password."""
        c = RawClient(self.port, timeout=timeout)
        if self.password is not None:
            assert c.call("AUTH", self.password) == b"+OK\r\n"
        return c

    def check(self) -> None:
        """PING and every witness key, on a new connection."""
        with self.client() as c:
            assert c.call("PING") == b"+PONG\r\n"
            for k, v in WITNESSES.items():
                assert c.call("GET", k) == b"$%d\r\n%b\r\n" % (len(v), v), k[:40]


@pytest.fixture
def guarded():
    with vermilion() as node:
        g = Guarded(node)
        yield g
        g.check()


@pytest.fixture
def make_guarded():
    made: list[Guarded] = []
    with contextlib.ExitStack() as stack:

        def start(**config) -> Guarded:
            node = stack.enter_context(vermilion(**config))
            g = Guarded(node, config.get("requirepass"))
            made.append(g)
            return g

        yield start
        for g in made:
            g.check()
