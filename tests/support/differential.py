"""The differential harness: the same commands to real Redis 7.0 and to Vermilion, and
the raw reply bytes compared.

``Pair`` holds one raw connection to each server. ``pair.check(*args)`` sends a command to
both and asserts the reply bytes are identical (returning them); ``pair.compare(*args)``
returns both without asserting. Some replies legitimately differ between two servers
(client ids, run ids, times, hash-order listings): normalise those explicitly with
``check(..., normalize=fn)`` or compare with ``sorted_reply``.
"""

from __future__ import annotations

from .resp import RawClient


class Mismatch(AssertionError):
    pass


class Pair:
    def __init__(self, redis_port: int, vermilion_port: int):
        self.redis = RawClient(redis_port)
        self.ours = RawClient(vermilion_port)
        self.history: list[tuple] = []

    def close(self) -> None:
        self.redis.close()
        self.ours.close()

    def compare(self, *args) -> tuple[bytes, bytes]:
        self.history.append(args)
        return self.redis.call(*args), self.ours.call(*args)

    def check(self, *args, normalize=None) -> bytes:
        expected, got = self.compare(*args)
        if normalize is not None:
            expected, got = normalize(expected), normalize(got)
        if expected != got:
            recent = "\n".join("  " + " ".join(map(_show, cmd)) for cmd in self.history[-10:])
            raise Mismatch(
                f"reply differs for {' '.join(map(_show, args))}\n"
                f"  redis:     {expected!r}\n  vermilion: {got!r}\nrecent commands:\n{recent}"
            )
        return got

    def raw(self, data: bytes, wait: float = 0.3) -> tuple[bytes, bytes]:
        """Send raw bytes to both; return everything each sent back within ``wait``."""
        self.redis.send(data)
        self.ours.send(data)
        return self.redis.read_all(wait), self.ours.read_all(wait)


def _show(a) -> str:
    if isinstance(a, bytes):
        return repr(a)[2:-1]
    return str(a)


def sorted_reply(reply: bytes) -> bytes:
    """Normalise a flat array of bulk strings to sorted order (hash-order listings)."""
    if not reply.startswith((b"*", b"~")):
        return reply
    header, _, rest = reply.partition(b"\r\n")
    items = []
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        if line.startswith(b"$") and line != b"$-1":
            n = int(line[1:])
            items.append(line + b"\r\n" + rest[: n + 2])
            rest = rest[n + 2 :]
        else:
            items.append(line + b"\r\n")
    return header + b"\r\n" + b"".join(sorted(items))
