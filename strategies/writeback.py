"""Write-back (write-behind): writes land in the cache and a queue there, flushed in batches.

Design note
-----------
A write is one Lua step (``WB_WRITE``): the value key gets a *dirty* entry (no TTL; fills never
replace it) and a queue hash gets the same entry under the key's name. The hash coalesces:
ten writes to one key before a flush are one row written. A list keeps each queued key once,
in first-write order, so batches are taken oldest first. The write is acknowledged when that
step returns: the queue is exactly as durable as the cache server is configured to be (no
persistence, RDB, AOF everysec/always, replicas), which is the point of write-back.

The flusher (one task; ``flush_interval`` seconds, or sooner when ``batch_size`` writes are
waiting) takes a batch (``WB_TAKE``), commits it in one database transaction
(``put_many``), then acknowledges it (``WB_ACK``): each queued entry that is still the write
that was flushed leaves the queue, and the cached dirty value becomes a clean entry of the
committed version with a TTL; a key rewritten meanwhile is queued again. A flush holds a lease
(``SET NX PX``) so two processes never flush the same queue at once.

Loss accounting. The process keeps a *ledger*: per key, the newest write it acknowledged that
has not been committed yet (removed as soon as the database commits it). The cache holds an
*epoch* key created with the queue; when the flusher finds it gone or changed, the cache lost
its data, and every ledger entry whose write is no longer in the queue is reported lost
(``lost``, ``stats.lost``). So what is lost when the cache dies is exactly what was not
flushed, and ``unflushed()`` says at any time what that would be. (A write superseded by a
later write of the same key before the loss was noticed is not counted: nothing of it was
going to reach the database anyway.) The accounting covers the writes of this process.

Degraded mode (cache unreachable or breaker open): the write goes straight to the database,
and a deferred invalidation remembers to discard this process's older queued writes of that
key and to leave a tombstone, replayed before the next flush, so a stale queued write can never
overwrite it. Deletes always take that path.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque

from . import scripts
from .cache import Cache, Repair
from .db import Database
from .entry import DIRTY, Entry, Row, decode
from .patterns import Strategy
from .resilience import CacheError

#: Batches one wake-up of the flusher may take when a backlog has built up.
MAX_BATCHES_PER_WAKE = 50
#: Lost writes kept in ``WriteBack.lost`` for inspection (the count is unbounded).
MAX_LOST_KEPT = 10_000
#: Seconds a flush holds its lease (a flush that takes longer may be repeated; harmless).
FLUSH_LEASE_TTL = 30.0


class WriteBackStats:
    __slots__ = ("writes", "coalesced", "degraded_writes", "flushes", "flushed_rows",
                 "flush_errors", "lost", "cache_resets")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class WriteBack(Strategy):
    name = "write-back"

    def __init__(
        self,
        cache: Cache,
        db: Database,
        *,
        flush_interval: float = 1.0,
        batch_size: int = 100,
        flusher: bool = True,
    ):
        if flush_interval <= 0 or not 1 <= batch_size <= 10_000:
            raise ValueError("flush_interval must be positive and batch_size in 1..10000")
        super().__init__(cache)
        self.db = db
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.queue_key = f"{cache.prefix}wb:queue"
        self.order_key = f"{cache.prefix}wb:order"
        self.epoch_key = f"{cache.prefix}wb:epoch"
        self.lock_key = f"{cache.prefix}wb:flushing"
        self.writer = secrets.token_hex(4)  # names this process's writes: "<writer>.<seq>"
        self.stats = WriteBackStats()
        self.lost: deque[tuple[str, str]] = deque(maxlen=MAX_LOST_KEPT)
        self.epoch: bytes | None = None
        self._seq = 0
        self._ledger: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._closing = False
        self._run_flusher = flusher

    async def start(self) -> WriteBack:
        try:
            await self._adopt_epoch()
        except CacheError:
            pass  # the flusher tries again
        if self._run_flusher and self._task is None:
            self._task = asyncio.ensure_future(self._flush_loop())
        return self

    # -- reads and writes ----------------------------------------------------------------------
    async def read(self, key: str) -> bytes | None:
        return await self.cache.get(key, self.db.get)

    async def write(self, key: str, value: bytes | None) -> None:
        self._seq += 1
        seq = self._seq
        wid = f"{self.writer}.{seq}"
        if value is not None:
            entry = Entry(DIRTY, 0, value, write_id=wid)
            keys = [self.cache.key(key), self.queue_key, self.order_key]
            try:
                queued = await self.cache.eval(scripts.WB_WRITE, keys, [entry.encode(), key])
            except CacheError:
                pass  # degraded: below
            else:
                self._ledger[key] = wid
                self.stats.writes += 1
                self.stats.coalesced += queued == 0
                self.cache.local_put(key, entry)
                if len(self._ledger) >= self.batch_size:
                    self._wake.set()
                return
            self.stats.degraded_writes += 1
        version = await self.db.put(key, value)
        self._ledger.pop(key, None)  # an older queued write of ours is superseded, not lost
        await self.cache.invalidate(key, version, repair=Repair(version, self.writer, seq, self.queue_key))

    def unflushed(self) -> dict[str, str]:
        """Acknowledged writes not yet committed to the database: key -> write id."""
        return dict(self._ledger)

    # -- flushing -------------------------------------------------------------------------------
    async def _adopt_epoch(self) -> None:
        await self.cache.call(self.cache.redis.set, self.epoch_key, secrets.token_hex(8), nx=True)
        self.epoch = await self.cache.call(self.cache.redis.get, self.epoch_key)

    async def flush_once(self) -> int:
        """Flush one batch; returns how many queued keys it took (0: queue empty or busy)."""
        async with self._flush_lock:
            # Superseding invalidations first: flushing before them could undo a direct write.
            await self.cache.repair(raise_errors=True)
            token = secrets.token_hex(8)
            ttl_ms = int(FLUSH_LEASE_TTL * 1000)
            if not await self.cache.call(self.cache.redis.set, self.lock_key, token, nx=True, px=ttl_ms):
                return 0
            try:
                return await self._flush_batch()
            finally:
                try:
                    await self.cache.eval(scripts.RELEASE_LEASE, [self.lock_key], [token])
                except CacheError:
                    pass

    async def _flush_batch(self) -> int:
        cache = self.cache
        reply = await cache.eval(scripts.WB_TAKE, [self.queue_key, self.order_key, self.epoch_key], [self.batch_size])
        if reply[0] is None or reply[0] != self.epoch:
            await self._cache_was_reset()
            return 0
        pairs = reply[1:]
        taken = len(pairs) // 2
        if not taken:
            return 0
        batch: list[tuple[str, Entry]] = []
        for i in range(0, len(pairs), 2):
            entry = decode(pairs[i + 1])
            if entry is not None and entry.kind == DIRTY:
                batch.append((pairs[i].decode(), entry))
        versions = await self.db.put_many([(k, e.value) for k, e in batch]) if batch else []
        for key, entry in batch:
            if self._ledger.get(key) == entry.write_id:
                del self._ledger[key]
        self.stats.flushes += 1
        self.stats.flushed_rows += len(batch)
        keys = [self.queue_key, self.order_key, self.epoch_key]
        args: list = [self.epoch, taken]
        for (key, entry), version in zip(batch, versions):
            clean, px = cache.entry_for(Row(entry.value, version))
            keys.append(cache.key(key))
            args += [key, entry.write_id, clean.encode(), px]
        await cache.eval(scripts.WB_ACK, keys, args)
        return taken

    async def _cache_was_reset(self) -> None:
        """The epoch key is gone: the cache lost its data. Count what went with it."""
        self.stats.cache_resets += 1
        ledger = list(self._ledger.items())
        for i in range(0, len(ledger), 500):
            chunk = ledger[i:i + 500]
            queued = await self.cache.call(self.cache.redis.hmget, self.queue_key, [k for k, _ in chunk])
            for (key, wid), raw in zip(chunk, queued):
                entry = decode(raw)
                if entry is None or entry.write_id != wid:
                    if self._ledger.get(key) == wid:
                        del self._ledger[key]
                        self.lost.append((key, wid))
                        self.stats.lost += 1
        await self._adopt_epoch()

    async def flush_all(self, timeout: float = 30.0) -> None:
        """Flush until the queue is empty (bounded by ``timeout``); raises CacheError if the
        cache cannot be reached."""
        async with asyncio.timeout(timeout):
            if self.epoch is None:
                await self._adopt_epoch()
            while True:
                taken = await self.flush_once()
                if taken == 0:
                    if not self.cache.repairs and not await self.cache.call(self.cache.redis.llen, self.order_key):
                        return
                    await asyncio.sleep(0.01)

    async def _flush_loop(self) -> None:
        # Stops when close() says so, not only by its cancel: on Python 3.11 a cancel can be
        # lost inside a library's asyncio.wait_for (redis-py sends with one), and then every
        # later asyncio.timeout in this task would take the pending cancel for its own.
        while True:
            try:
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if self._closing:
                return
            self._wake.clear()
            try:
                if self.epoch is None:
                    await self._adopt_epoch()
                for _ in range(MAX_BATCHES_PER_WAKE):
                    if await self.flush_once() < self.batch_size:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.flush_errors += 1

    # -- life cycle ---------------------------------------------------------------------------------
    async def quiesce(self, timeout: float = 30.0) -> None:
        await self.cache.quiesce(timeout)
        await self.flush_all(timeout)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            self._wake.set()
            task.cancel()
            await asyncio.wait([task])  # (awaiting the task itself would hide a cancel of close())
            if not task.cancelled():
                task.exception()  # how the flusher ended is not close()'s business
        await super().close()
