"""Pub/sub test helpers: collect what a subscriber received without sleeping, and twin
connections (real Redis 7.0 + Vermilion) for differential pub/sub tests.

Messages reach a subscriber asynchronously, but in order with everything else written to
its connection. ``received(conn)`` sends a PING on the subscriber's own connection and reads
replies until the PING's answer: everything before it is what had been delivered when the
server ran the PING -- every message caused by a command whose reply the test has already
read on another connection.
"""

from __future__ import annotations

from .resp import RawClient

#: PING's answer outside and inside RESP2 subscribed mode.
PONGS = (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")


def received(conn: RawClient) -> list[bytes]:
    """Every reply delivered to ``conn`` so far (raw bytes, one per message)."""
    conn.send_command("PING")
    out = []
    while True:
        reply = conn.read_reply()
        if reply in PONGS:
            return out
        out.append(reply)


def read_replies(conn: RawClient, n: int) -> list[bytes]:
    return [conn.read_reply() for _ in range(n)]


class Twin:
    """One connection to each server, driven in lockstep (``redis`` is the reference)."""

    def __init__(self, redis_port: int, our_port: int, resp: int = 2):
        self.redis = RawClient(redis_port)
        self.ours = RawClient(our_port)
        if resp == 3:
            self.both("HELLO", "3")

    def close(self) -> None:
        self.redis.close()
        self.ours.close()

    def send(self, *args) -> None:
        self.redis.send_command(*args)
        self.ours.send_command(*args)

    def send_raw(self, data: bytes) -> None:
        self.redis.send(data)
        self.ours.send(data)

    def both(self, *args) -> tuple[bytes, bytes]:
        return self.redis.call(*args), self.ours.call(*args)

    def replies(self, n: int) -> tuple[list[bytes], list[bytes]]:
        """The next ``n`` replies from each server."""
        return read_replies(self.redis, n), read_replies(self.ours, n)

    def check(self, *args, n: int = 1) -> list[bytes]:
        """Send a command and assert both servers answer with the same ``n`` replies."""
        self.send(*args)
        expected, got = self.replies(n)
        assert got == expected, f"{args}: redis {expected!r} vermilion {got!r}"
        return got

    def received(self) -> tuple[list[bytes], list[bytes]]:
        return received(self.redis), received(self.ours)

    def check_received(self, normalize=None) -> list[bytes]:
        """Assert both subscribers received the same messages, in the same order."""
        expected, got = self.received()
        if normalize is not None:
            expected, got = normalize(expected), normalize(got)
        assert got == expected, f"messages differ:\n  redis:     {expected!r}\n  vermilion: {got!r}"
        return got
