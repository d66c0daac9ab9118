"""Look-aside, read-through, write-through and write-around over one ``Cache`` and a database.

Design note
-----------
Every strategy answers ``read(key) -> bytes | None`` and ``write(key, value)`` (None deletes),
so the lab can drive them alike; ``quiesce()`` waits for background work and ``close()``
stops it. What differs is who touches what, and what happens when the cache is unreachable
(the *degraded mode*; the cache layer already turns an open breaker or a cache error into a
database read with no fill):

look-aside     the application owns the database handle: it reads the cache, loads from the
               database on a miss and fills; on a write it commits to the database, then
               invalidates (a versioned tombstone) or updates the cache (``on_write``).
               Degraded: reads go to the database, writes commit and defer the invalidation.
read-through   the cache layer owns the loader (and the writer): callers hand it a key and
               never see the database on reads. Same miss path as look-aside underneath;
               the difference is ownership, so coalescing and fallback live in one place.
write-through  a write commits to the database and then stores the committed version in the
               cache before it returns, version-guarded, so the cache is never newer than a
               committed row and two writers landing out of order cannot go backwards.
               Degraded: the write commits and defers an invalidation.
write-around   a write goes to the database only; the cache keeps the old value until its
               TTL ends and refills on a later miss: no cache write per database write, stale
               reads for up to one TTL. Degraded: nothing changes for writes.

Write-back lives in ``writeback.py``.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from .cache import Cache
from .db import Database
from .entry import Row

Writer = Callable[[str, bytes | None], Awaitable[int]]


class Strategy:
    name = "?"

    def __init__(self, cache: Cache):
        self.cache = cache

    async def read(self, key: str) -> bytes | None:
        raise NotImplementedError

    async def write(self, key: str, value: bytes | None) -> None:
        raise NotImplementedError

    async def quiesce(self, timeout: float = 10.0) -> None:
        await self.cache.quiesce(timeout)

    async def close(self) -> None:
        await self.cache.close()


def _check_on_write(on_write: str) -> str:
    if on_write not in ("invalidate", "update"):
        raise ValueError("on_write must be 'invalidate' or 'update'")
    return on_write


class LookAside(Strategy):
    name = "look-aside"

    def __init__(self, cache: Cache, db: Database, on_write: str = "invalidate"):
        super().__init__(cache)
        self.db = db
        self.on_write = _check_on_write(on_write)

    async def read(self, key: str) -> bytes | None:
        # The application passes its own loader on every call: that is look-aside.
        return await self.cache.get(key, self.db.get)

    async def write(self, key: str, value: bytes | None) -> None:
        version = await self.db.put(key, value)
        if self.on_write == "invalidate":
            await self.cache.invalidate(key, version)
        else:
            await self.cache.update(key, Row(value, version))


class ReadThrough(Strategy):
    """``loader(key) -> Row | None`` and ``writer(key, value) -> committed version`` belong to
    the cache layer; callers only ever call ``read`` and ``write``."""

    name = "read-through"

    def __init__(self, cache: Cache, loader, writer: Writer | None = None, on_write: str = "invalidate"):
        super().__init__(cache)
        self._loader = loader
        self._writer = writer
        self.on_write = _check_on_write(on_write)

    async def read(self, key: str) -> bytes | None:
        return await self.cache.get(key, self._loader)

    async def write(self, key: str, value: bytes | None) -> None:
        if self._writer is None:
            raise TypeError("this read-through cache was built without a writer")
        version = await self._writer(key, value)
        if self.on_write == "invalidate":
            await self.cache.invalidate(key, version)
        else:
            await self.cache.update(key, Row(value, version))


class WriteThrough(Strategy):
    name = "write-through"

    def __init__(self, cache: Cache, db: Database):
        super().__init__(cache)
        self.db = db

    async def read(self, key: str) -> bytes | None:
        return await self.cache.get(key, self.db.get)

    async def write(self, key: str, value: bytes | None) -> None:
        version = await self.db.put(key, value)  # commit first: the cache follows the DB
        await self.cache.update(key, Row(value, version))


class WriteAround(Strategy):
    name = "write-around"

    def __init__(self, cache: Cache, db: Database):
        super().__init__(cache)
        self.db = db

    async def read(self, key: str) -> bytes | None:
        return await self.cache.get(key, self.db.get)

    async def write(self, key: str, value: bytes | None) -> None:
        await self.db.put(key, value)
