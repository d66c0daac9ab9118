"""The cache layer every strategy is built on: versioned entries, stampede control, fallback.

Design note
-----------
``Cache`` talks to one Redis-protocol server through a ``redis.asyncio.Redis`` client, every
call going through ``Resilience`` (retry + breaker + timeout). It offers:

``get_row(key, loader)``  the read path. Local tier (optional) -> cache -> on a miss the
        stampede control (``stampede.py``) decides who calls ``loader`` and the result is
        filled. A cache *error* (or an open breaker) is not a miss: the read goes straight to
        ``loader`` and nothing is filled (``stats.fallbacks``).
``fill(key, row)``        a version-guarded write of a loaded row (Lua ``SET_IF_NEWER``): it
        never replaces a newer version, a tombstone of a newer version, or a dirty write-back
        value. A fill whose load started more than ``tombstone_ttl / 2`` ago is dropped, so
        it cannot outlive the tombstone that guards against it (the stale-set race: a slow
        fill of an old row landing after a write's invalidation).
``update(key, row)``      the same guarded write for a row just committed (write-through, or
        look-aside's update-on-write).
``invalidate(key, version)``  a tombstone of the committed version, living
        ``tombstone_ttl`` seconds: a read treats it as a miss, an older fill cannot pass it.

When an update or invalidation cannot reach the cache, the key and version are kept in
``repairs`` (bounded: ``max_repairs``, overflow counted in ``stats.repairs_dropped``) and
replayed as tombstones after the next successful cache call (or by ``repair()``), so a cache
that was only paused or partitioned does not keep serving the old value. A cache that lost its
data needs nothing. TTLs carry jitter: ``ttl * U(1 - jitter, 1 + jitter)``.

The optional local tier (``local_ttl``) keeps fresh entries in process memory
(cachetools.TTLCache); this process's writes update it, other processes' writes do not, so its
TTL bounds the staleness it adds.
"""

from __future__ import annotations

import asyncio
import functools
import random
import secrets
import time
from typing import Awaitable, Callable, NamedTuple

from cachetools import TTLCache

from . import scripts
from .entry import ABSENT, ABSENT_ROW, TOMBSTONE, VALUE, Entry, Row, decode, rank
from .resilience import CacheError, Resilience, oliveyoung
from .stampede import SingleFlight, StampedeControl, draw_u, xfetch_should_refresh

Loader = Callable[[str], Awaitable[Row | None]]

#: Lease waiters poll the cache starting at this pause, doubling up to the maximum (seconds).
LEASE_POLL_FIRST = 0.005
LEASE_POLL_MAX = 0.05


class CacheStats:
    """What the layer did; the lab samples these every second.

    Reads: ``hits`` (stale ones included; ``local_hits`` of them from the local tier),
    ``misses``, ``fallbacks`` (cache error or open breaker: straight to the loader),
    ``stale_served``, ``early_refreshes`` (XFetch), ``loads`` (loader calls).
    Leases: ``leases`` (loads made holding one), ``lease_waits`` (reads served by another
    holder's fill), ``lease_timeouts`` (waited ``lease_wait`` and loaded anyway).
    Writes: ``fills`` / ``fills_rejected`` (a newer entry was there) / ``fills_dropped`` (the
    load took too long) / ``fill_errors``, ``updates``, ``invalidations``, ``repairs_done``,
    ``repairs_dropped`` (the repair table was full), ``background_errors``.
    """

    FIELDS = (
        "hits", "misses", "fallbacks", "stale_served", "early_refreshes", "loads",
        "local_hits", "fills", "fills_rejected", "fills_dropped", "fill_errors",
        "updates", "invalidations", "leases", "lease_waits", "lease_timeouts",
        "repairs_done", "repairs_dropped", "background_errors",
    )
    __slots__ = FIELDS

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FIELDS}


class Repair(NamedTuple):
    """A deferred invalidation; ``writer``/``seq`` also discard superseded write-back entries."""

    version: int
    writer: str = ""
    seq: int = 0
    queue: str = ""

    def merge(self, other: Repair) -> Repair:
        return Repair(
            max(self.version, other.version),
            other.writer or self.writer,
            max(self.seq, other.seq),
            other.queue or self.queue,
        )


class Cache:
    def __init__(
        self,
        redis,
        *,
        prefix: str = "c:",
        ttl: float = 60.0,
        jitter: float = 0.1,
        negative_ttl: float | None = None,
        stampede: StampedeControl | None = None,
        resilience: Resilience | None = None,
        tombstone_ttl: float = 10.0,
        local_ttl: float | None = None,
        local_size: int = 10_000,
        max_repairs: int = 100_000,
        max_background: int = 1_000,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if ttl <= 0 or tombstone_ttl <= 0:
            raise ValueError("ttl and tombstone_ttl must be positive")
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.jitter = jitter
        self.negative_ttl = negative_ttl if negative_ttl is not None else ttl
        self.stampede = stampede or StampedeControl()
        self.resilience = resilience if resilience is not None else oliveyoung()
        self.tombstone_ttl = tombstone_ttl
        self.fill_deadline = tombstone_ttl / 2
        self.max_repairs = max_repairs
        self.max_background = max_background
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = CacheStats()
        self.repairs: dict[str, Repair] = {}
        self._local = TTLCache(local_size, local_ttl, timer=time.monotonic) if local_ttl else None
        self._flights = SingleFlight()
        self._background = SingleFlight()
        self._repair_task: asyncio.Task | None = None

    # -- names -----------------------------------------------------------------------------
    def key(self, key: str) -> str:
        return f"{self.prefix}k:{key}"

    def lease_key(self, key: str) -> str:
        return f"{self.prefix}l:{key}"

    @property
    def breaker(self):
        return self.resilience.breaker

    # -- the one door to the server ----------------------------------------------------------
    async def call(self, fn, *args, **kwargs):
        """Run one cache operation through retry + breaker; CacheError on any failure."""
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        result = await self.resilience.call(fn, *args)
        if self.repairs and self._repair_task is None:
            self._repair_task = asyncio.ensure_future(self._repair_in_background())
        return result

    async def eval(self, script: str, keys: list[str], args: list) -> object:
        return await self.call(self.redis.eval, script, len(keys), *keys, *args)

    async def fetch(self, key: str) -> Entry | None:
        """The entry stored for ``key`` (None when absent or foreign); CacheError on errors."""
        return decode(await self.call(self.redis.get, self.key(key)))

    # -- reads -------------------------------------------------------------------------------
    async def get(self, key: str, loader: Loader) -> bytes | None:
        return (await self.get_row(key, loader)).value

    async def get_row(self, key: str, loader: Loader) -> Row:
        if self._local is not None:
            cached = self._local.get(key)
            if cached is not None:
                self.stats.hits += 1
                self.stats.local_hits += 1
                return cached.row
        try:
            entry = await self.fetch(key)
        except CacheError:
            self.stats.fallbacks += 1
            return await self._load(key, loader)
        if entry is not None and entry.is_usable:
            fresh = True
            if entry.kind in (VALUE, ABSENT):
                now_ms = self._now_ms()
                st = self.stampede
                if st.swr and now_ms >= entry.soft_at:
                    fresh = False
                    self.stats.stale_served += 1
                    self._revalidate(key, loader)
                elif st.xfetch_beta is not None and self._xfetch_due(entry, now_ms):
                    self.stats.early_refreshes += 1
                    refresh = lambda: self._load_and_fill_guarded(key, loader, refresh=True)  # noqa: E731
                    return await (self._flights.do(key, refresh) if st.single_flight else refresh())
            self.stats.hits += 1
            if fresh:
                self.local_put(key, entry)
            return entry.row
        self.stats.misses += 1
        if self.stampede.single_flight:
            return await self._flights.do(key, lambda: self._load_and_fill_guarded(key, loader))
        return await self._load_and_fill_guarded(key, loader)

    async def _load(self, key: str, loader: Loader) -> Row:
        self.stats.loads += 1
        return await loader(key) or ABSENT_ROW

    async def _load_and_fill_guarded(self, key: str, loader: Loader, refresh: bool = False) -> Row:
        if self.stampede.lease:
            return await self._leased(key, loader, refresh)
        return await self._load_and_fill(key, loader)

    async def _load_and_fill(self, key: str, loader: Loader) -> Row:
        started = self.clock()
        row = await self._load(key, loader)
        await self.fill(key, row, started=started)
        return row

    def _xfetch_due(self, entry: Entry, now_ms: int) -> bool:
        gap = (entry.expires_at - now_ms) / 1000.0
        return xfetch_should_refresh(gap, entry.delta / 1000.0, self.stampede.xfetch_beta, draw_u(self.rng))

    def _revalidate(self, key: str, loader: Loader) -> None:
        if len(self._background) < self.max_background:
            self._background.start(key, lambda: self._background_refresh(key, loader))

    async def _background_refresh(self, key: str, loader: Loader) -> None:
        try:
            await self._load_and_fill_guarded(key, loader, refresh=True)
        except Exception:
            self.stats.background_errors += 1

    # -- the lease ---------------------------------------------------------------------------
    async def _try_lease(self, key: str, token: str) -> bool:
        ttl_ms = max(1, int(self.stampede.lease_ttl * 1000))
        return bool(await self.call(self.redis.set, self.lease_key(key), token, nx=True, px=ttl_ms))

    async def _release_lease(self, key: str, token: str) -> None:
        try:
            await self.eval(scripts.RELEASE_LEASE, [self.lease_key(key)], [token])
        except CacheError:
            pass  # it expires by itself after lease_ttl

    async def _leased(self, key: str, loader: Loader, refresh: bool) -> Row:
        """Load under the key's lease. Losers poll the cache (a refresh's loser returns the
        stale value it already has) and load by themselves after ``lease_wait``."""
        token = secrets.token_hex(8)
        deadline = self.clock() + self.stampede.lease_wait
        pause = LEASE_POLL_FIRST
        while True:
            try:
                if await self._try_lease(key, token):
                    break
                await asyncio.sleep(pause)
                pause = min(pause * 2, LEASE_POLL_MAX)
                entry = await self.fetch(key)
            except CacheError:
                self.stats.fallbacks += 1
                return await self._load(key, loader)
            if entry is not None and entry.is_usable:
                self.stats.lease_waits += 1
                return entry.row
            if self.clock() >= deadline:
                self.stats.lease_timeouts += 1
                return await self._load_and_fill(key, loader)
        if not refresh:
            try:  # the previous holder may have filled between our miss and our lease
                entry = await self.fetch(key)
            except CacheError:
                entry = None
            if entry is not None and entry.is_usable:
                await self._release_lease(key, token)
                self.stats.lease_waits += 1
                return entry.row
        self.stats.leases += 1
        try:
            return await self._load_and_fill(key, loader)
        finally:
            await self._release_lease(key, token)

    # -- writes ------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _jittered(self, ttl: float) -> float:
        j = self.jitter
        return ttl * self.rng.uniform(1 - j, 1 + j) if j else ttl

    def entry_for(self, row: Row, delta: float = 0.0) -> tuple[Entry, int]:
        """The entry to store for a committed row, and its PX in milliseconds."""
        now = self.clock()
        ttl = self._jittered(self.ttl if row.value is not None else self.negative_ttl)
        hard = ttl + (self.stampede.stale_ttl if self.stampede.swr else 0.0)
        px = max(1, int(hard * 1000))
        entry = Entry.from_row(
            row,
            soft_at=int((now + ttl) * 1000),
            expires_at=int(now * 1000) + px,
            delta=int(delta * 1000),
        )
        return entry, px

    async def _set_if_newer(self, key: str, entry: Entry, px: int) -> bool:
        done = await self.eval(scripts.SET_IF_NEWER, [self.key(key)], [entry.encode(), entry.rank, px])
        return done == 1

    async def fill(self, key: str, row: Row, *, started: float | None = None) -> bool:
        """Store a row read from the database (version-guarded; errors are swallowed)."""
        now = self.clock()
        delta = now - started if started is not None else 0.0
        if delta > self.fill_deadline:
            self.stats.fills_dropped += 1
            return False
        entry, px = self.entry_for(row, delta)
        try:
            done = await self._set_if_newer(key, entry, px)
        except CacheError:
            self.stats.fill_errors += 1
            return False
        if done:
            self.stats.fills += 1
            self.local_put(key, entry)
        else:
            self.stats.fills_rejected += 1
        return done

    async def update(self, key: str, row: Row) -> bool:
        """Store a row just committed; if the cache cannot be reached, defer a tombstone."""
        entry, px = self.entry_for(row)
        self.local_drop(key)
        try:
            done = await self._set_if_newer(key, entry, px)
        except CacheError:
            self.defer(key, Repair(row.version))
            return False
        self.stats.updates += 1
        if done:
            self.local_put(key, entry)
        return done

    async def invalidate(self, key: str, version: int, *, repair: Repair | None = None) -> bool:
        """Leave a tombstone of ``version``; if the cache cannot be reached, defer it.
        ``repair`` (write-back) also names the dirty entries the tombstone supersedes."""
        self.local_drop(key)
        repair = repair or Repair(version)
        try:
            done = await self._tombstone(key, repair)
        except CacheError:
            self.defer(key, repair)
            return False
        self.stats.invalidations += 1
        return done

    async def _tombstone(self, key: str, repair: Repair) -> bool:
        px = max(1, int(self.tombstone_ttl * 1000))
        tomb = Entry(TOMBSTONE, repair.version, expires_at=self._now_ms() + px)
        keys = [self.key(key)]
        args = [tomb.encode(), rank(TOMBSTONE, repair.version), px]
        if repair.writer:
            keys.append(repair.queue)
            args += [key, repair.writer, repair.seq]
        return await self.eval(scripts.INVALIDATE, keys, args) == 1

    # -- deferred invalidations ------------------------------------------------------------------
    def defer(self, key: str, repair: Repair) -> None:
        self.local_drop(key)
        old = self.repairs.get(key)
        if old is not None:
            self.repairs[key] = old.merge(repair)
        elif len(self.repairs) < self.max_repairs:
            self.repairs[key] = repair
        else:
            self.stats.repairs_dropped += 1

    async def repair(self, *, raise_errors: bool = False) -> int:
        """Replay deferred invalidations; returns how many are still pending (or raises the
        CacheError that stopped the replay, with ``raise_errors``)."""
        for key in list(self.repairs):
            repair = self.repairs.pop(key, None)
            if repair is None:
                continue
            try:
                await self._tombstone(key, repair)
            except CacheError:
                self.defer(key, repair)
                if raise_errors:
                    raise
                break
            self.stats.repairs_done += 1
        return len(self.repairs)

    async def _repair_in_background(self) -> None:
        try:
            await self.repair()
        except Exception:
            self.stats.background_errors += 1
        finally:
            self._repair_task = None

    # -- local tier ----------------------------------------------------------------------------
    def local_put(self, key: str, entry: Entry) -> None:
        if self._local is not None and entry.kind != TOMBSTONE:
            self._local[key] = entry

    def local_drop(self, key: str) -> None:
        if self._local is not None:
            self._local.pop(key, None)

    # -- life cycle ------------------------------------------------------------------------------
    async def quiesce(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for background refreshes, in-flight loads and deferred repairs."""
        async with asyncio.timeout(timeout):
            await self._flights.wait_idle(timeout)
            await self._background.wait_idle(timeout)
            while self._repair_task is not None:
                await asyncio.sleep(0.01)
            await self.repair()

    async def close(self) -> None:
        for group in (self._flights, self._background):
            for task in list(group._calls.values()):
                task.cancel()
        if self._repair_task is not None:
            self._repair_task.cancel()

