"""Feed a byte stream to a request reader in a given chunking and record what it saw.

An ``Outcome`` is everything a reader tells its caller: the requests in order, the protocol
error text if the stream broke, and how many bytes it still holds (the query buffer, which
the connection checks against client-query-buffer-limit). Two readers agree on a stream
when their outcomes are equal.

``max_requests`` mirrors the connection's unauthenticated mode, where requests are taken
one at a time (each may be AUTH, which changes the limits for the next).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from protocol.reader import INLINE_MAX_SIZE, PyRequestReader, RequestReader

READERS = (PyRequestReader, RequestReader)


@dataclass(frozen=True)
class Outcome:
    requests: tuple
    error: str | None
    pending: int

    def __repr__(self) -> str:  # compact for assertion messages
        reqs = list(map(list, self.requests))
        return f"Outcome(requests={reqs!r}, error={self.error!r}, pending={self.pending})"


def run(reader, chunks, max_requests: int = 0) -> Outcome:
    """Feed ``chunks`` in order, stopping at the first protocol error."""
    out: list[tuple] = []
    err = None
    for chunk in chunks:
        reqs, err = reader.feed(chunk, max_requests)
        out += map(tuple, reqs)
        while max_requests and err is None and reqs:
            reqs, err = reader.feed(b"", max_requests)
            out += map(tuple, reqs)
        if err is not None:
            break
    return Outcome(tuple(out), err.reason if err is not None else None, reader.pending())


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def cut(data: bytes, cuts) -> list[bytes]:
    """Split ``data`` at the given offsets (any order, out-of-range ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def random_chunks(data: bytes, rng: random.Random) -> list[bytes]:
    if len(data) < 2:
        return whole(data)
    k = rng.randint(1, min(len(data) - 1, 12))
    return cut(data, rng.sample(range(1, len(data)), k))


def chunkings(data: bytes, seed: int = 0, randoms: int = 3) -> list[list[bytes]]:
    """Whole, one byte at a time, and a few random chunkings."""
    rng = random.Random(seed)
    out = [whole(data), random_chunks(data, rng)]
    if len(data) <= 4096:
        out.append(bytewise(data))
    out += [random_chunks(data, rng) for _ in range(randoms - 1)]
    return out


def outcome(data: bytes, reader_cls=PyRequestReader, chunks=None, max_requests=0, **kw) -> Outcome:
    return run(reader_cls(**kw), chunks if chunks is not None else whole(data), max_requests)


def agree(data: bytes, seed: int = 0, max_requests: int = 0, **kw) -> Outcome:
    """Both readers, every chunking: one outcome. Returns it.

    Redis's "too big" limits look at the whole unparsed buffer, so a stream above
    INLINE_MAX_SIZE may legitimately depend on how it was cut: those streams are compared
    only between the two readers, chunking by chunking.
    """
    reference = outcome(data, PyRequestReader, max_requests=max_requests, **kw)
    for chunks in chunkings(data, seed):
        seen = {cls.__name__: run(cls(**kw), chunks, max_requests) for cls in READERS}
        py, fast = seen["PyRequestReader"], seen["RequestReader"]
        assert fast == py, _explain(data, chunks, py, fast)
        if len(data) <= INLINE_MAX_SIZE:
            assert py == reference, _explain(data, chunks, reference, py, "whole", "this chunking")
    return reference


def _explain(data, chunks, a, b, name_a="reference", name_b="fast") -> str:
    shown = data if len(data) <= 300 else data[:300] + b"..."
    sizes = [len(c) for c in chunks]
    if len(sizes) > 20:
        sizes = f"{len(sizes)} chunks"
    return f"\n stream {shown!r}\n chunks {sizes}\n {name_a}: {a!r}\n {name_b}: {b!r}"
