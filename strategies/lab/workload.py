"""The main scenario: one strategy under an open-loop workload with a fault schedule.

Design note
-----------
Arrivals are open-loop (Poisson at ``rate`` per second, at most ``concurrency`` in flight):
each operation's latency is measured from the moment it was *due*, so a stalled cache shows
up as latency instead of quietly lowering the offered load (no coordinated omission). Keys
follow a Zipf law (``zipf_s``; 0 = uniform) over ``keys`` keys.

Every value written carries ``<key>:<seq>|`` and padding; writes to one key are serialized
(one row, one writer at a time), so per key the sequence numbers are the commit order. That
makes the checks strategy-independent:

stale read     a read that returned a sequence older than the newest write acknowledged
               before the read started;
inconsistent   after the run quiesces (load stopped, faults healed, background work and
               write-back flushed), a key whose cache entry holds a different sequence than
               its database row;
keys behind DB after quiescing, a key whose database row is older than the newest
               acknowledged write of that key (a lost write that a later write repaired does
               not show here);
lost writes    write-back's own count (``WriteBack.stats.lost``): acknowledged writes the
               cache lost before they were flushed, counted when the loss is noticed, so it
               includes losses a later write to the same key made good;
loss check     (write-back) the unflushed writes are snapshotted just before each kill; every
               write the library reports lost must be one of them, every other one must have
               reached the database (an in-flight flush, or a later write of the key), and
               every key behind the database must have a reported loss. ``loss_unaccounted``
               counts the exceptions: 0 means a crash lost exactly the unflushed writes and
               the library said which.

Each strategy gets a fresh cache server, a fresh database seeded with every key, and its own
fault proxy; the fault schedule is the same for all.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

import redis.asyncio as aredis

from .. import (
    Cache,
    LookAside,
    Metered,
    PostgresDatabase,
    ReadThrough,
    SQLiteDatabase,
    WriteAround,
    WriteBack,
    WriteThrough,
    connect,
    oliveyoung,
    preflight,
)
from ..breaker import OPEN
from ..entry import decode
from ..resilience import CacheError
from ..stampede import PRESETS
from .faults import ExternalServer, FaultProxy, VermilionServer, fault_windows, run_schedule

STRATEGIES = ("look-aside", "read-through", "write-through", "write-back", "write-around")
EXTRA_STRATEGIES = ("look-aside:update",)


@dataclass
class Config:
    strategies: tuple[str, ...] = STRATEGIES
    duration: float = 30.0
    rate: float = 500.0
    concurrency: int = 64
    keys: int = 5_000
    zipf_s: float = 0.99
    read_ratio: float = 0.9
    value_size: int = 256
    db_latency: float = 0.002
    ttl: float = 10.0
    stampede: str = "single-flight"
    faults: str = "kill@8+4,pause@17+1.5,slow@23+3:600ms"
    breaker_wait: float = 2.0
    cache_timeout: float = 1.0
    flush_interval: float = 1.0
    batch_size: int = 200
    redis_url: str | None = None
    db: str = "sqlite"
    seed: int = 1


class Zipf:
    """Key indexes 0..n-1 with P(i) proportional to 1 / (i + 1) ** s (s = 0: uniform)."""

    def __init__(self, n: int, s: float, rng: random.Random):
        self.n = n
        self.rng = rng
        self.cdf = None
        if s > 0:
            total, cdf = 0.0, []
            for i in range(n):
                total += 1.0 / (i + 1) ** s
                cdf.append(total)
            self.cdf = [c / total for c in cdf]

    def __call__(self) -> int:
        if self.cdf is None:
            return self.rng.randrange(self.n)
        return min(bisect.bisect_left(self.cdf, self.rng.random()), self.n - 1)


def key_name(i: int) -> str:
    return f"item:{i}"


def make_value(i: int, seq: int, size: int) -> bytes:
    head = b"%d:%d|" % (i, seq)
    return head + b"x" * max(0, size - len(head))


def seq_of(value: bytes | None) -> int:
    """The sequence a value carries; -1 for a missing row."""
    if not value:
        return -1
    try:
        return int(value[value.index(b":") + 1:value.index(b"|")])
    except ValueError:
        return -1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100.0 * len(values)))]


@dataclass
class Second:
    reads: int = 0
    writes: int = 0
    read_lat: list[float] = field(default_factory=list)
    stale: int = 0
    errors: int = 0
    hits: int = 0
    lookups: int = 0


@dataclass
class Result:
    strategy: str
    duration: float
    reads: int = 0
    writes: int = 0
    errors: int = 0
    stale_reads: int = 0
    hits: int = 0
    lookups: int = 0
    db_reads: int = 0
    db_writes: int = 0
    db_peak: int = 0
    misses: int = 0
    read_lat: list[float] = field(default_factory=list)
    write_lat: list[float] = field(default_factory=list)
    seconds: dict[int, Second] = field(default_factory=dict)
    db_per_second: dict[int, int] = field(default_factory=dict)
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    inconsistent: int | None = None
    lost_measured: int | None = None
    lost_reported: int | None = None
    unflushed_at_kill: int | None = None
    loss_unaccounted: int | None = None
    fallback_after: float | None = None
    cache_stats: dict = field(default_factory=dict)
    cache_errors: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def hit_ratio(self) -> float:
        return 100.0 * self.hits / self.lookups if self.lookups else 0.0

    @property
    def db_per_miss(self) -> float:
        return self.db_reads / self.misses if self.misses else 0.0

    def summary(self) -> dict:
        return {
            "strategy": self.strategy,
            "reads": self.reads,
            "writes": self.writes,
            "errors": self.errors,
            "hit_ratio": round(self.hit_ratio, 2),
            "db_queries": self.db_reads + self.db_writes,
            "db_reads": self.db_reads,
            "db_writes": self.db_writes,
            "db_peak_per_s": self.db_peak,
            "db_reads_per_miss": round(self.db_per_miss, 3),
            "read_p50_ms": round(percentile(self.read_lat, 50) * 1000, 2),
            "read_p99_ms": round(percentile(self.read_lat, 99) * 1000, 2),
            "write_p50_ms": round(percentile(self.write_lat, 50) * 1000, 2),
            "write_p99_ms": round(percentile(self.write_lat, 99) * 1000, 2),
            "stale_read_pct": round(100.0 * self.stale_reads / self.reads, 3) if self.reads else 0.0,
            "inconsistent_after": self.inconsistent,
            "lost_writes_measured": self.lost_measured,
            "lost_writes_reported": self.lost_reported,
            "unflushed_at_kill": self.unflushed_at_kill,
            "loss_unaccounted": self.loss_unaccounted,
            "breaker_transitions": len(self.transitions),
            "fallback_after_ms": None if self.fallback_after is None else round(self.fallback_after * 1000),
            "cache_stats": self.cache_stats,
            "cache_errors_by_type": self.cache_errors,
            "notes": self.notes,
        }


def build_strategy(name: str, cache: Cache, db, cfg: Config):
    if name == "look-aside":
        return LookAside(cache, db)
    if name == "look-aside:update":
        return LookAside(cache, db, on_write="update")
    if name == "read-through":
        return ReadThrough(cache, db.get, db.put)
    if name == "write-through":
        return WriteThrough(cache, db)
    if name == "write-back":
        return WriteBack(cache, db, flush_interval=cfg.flush_interval, batch_size=cfg.batch_size)
    if name == "write-around":
        return WriteAround(cache, db)
    raise ValueError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES + EXTRA_STRATEGIES)})")


def make_server(cfg: Config):
    return ExternalServer(cfg.redis_url) if cfg.redis_url else VermilionServer()


async def open_database(cfg: Config, name: str, workdir: str):
    if cfg.db == "sqlite":
        return await SQLiteDatabase(os.path.join(workdir, f"{name.replace(':', '-')}.db")).open()
    db = await PostgresDatabase(cfg.db, table="lab_" + name.replace("-", "_").replace(":", "_")).open()
    await db.truncate()
    return db


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Run:
    """One strategy's run: set up, drive load, play faults, quiesce, check."""

    def __init__(self, name: str, cfg: Config, faults, workdir: str):
        self.name = name
        self.cfg = cfg
        self.faults = faults
        self.workdir = workdir
        self.rng = random.Random(cfg.seed)
        self.pick = Zipf(cfg.keys, cfg.zipf_s, self.rng)
        self.acked = [0] * cfg.keys
        self.next_seq = [0] * cfg.keys
        self.locks: dict[int, asyncio.Lock] = {}
        self.touched: set[int] = set()
        self.result = Result(name, cfg.duration)
        self.t0 = 0.0
        #: (key, write id, key index, sequence) of each write unflushed at a kill (write-back);
        #: None until a kill.
        self.at_kill: list[tuple[str, str, int, int]] | None = None

    def second(self) -> Second:
        s = int(time.monotonic() - self.t0)
        sec = self.result.seconds.get(s)
        if sec is None:
            sec = self.result.seconds[s] = Second()
        return sec

    async def read(self, i: int, due: float) -> None:
        floor = self.acked[i]
        try:
            value = await self.strategy.read(key_name(i))
        except Exception:
            self.result.errors += 1
            self.second().errors += 1
            return
        lat = time.monotonic() - due
        sec = self.second()
        sec.reads += 1
        sec.read_lat.append(lat)
        self.result.reads += 1
        self.result.read_lat.append(lat)
        if seq_of(value) < floor:
            self.result.stale_reads += 1
            sec.stale += 1

    async def write(self, i: int, due: float) -> None:
        lock = self.locks.get(i)
        if lock is None:
            lock = self.locks[i] = asyncio.Lock()
        async with lock:
            self.next_seq[i] += 1
            seq = self.next_seq[i]
            try:
                await self.strategy.write(key_name(i), make_value(i, seq, self.cfg.value_size))
            except Exception:
                self.result.errors += 1
                self.second().errors += 1
                return
            self.acked[i] = max(self.acked[i], seq)
        lat = time.monotonic() - due
        self.result.writes += 1
        self.result.write_lat.append(lat)
        self.second().writes += 1

    async def drive(self) -> None:
        cfg = self.cfg
        slots = asyncio.Semaphore(cfg.concurrency)
        tasks: set[asyncio.Task] = set()
        due = self.t0
        end = self.t0 + cfg.duration
        while True:
            due += self.rng.expovariate(cfg.rate)
            if due >= end:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await slots.acquire()
            i = self.pick()
            self.touched.add(i)
            op = self.read if self.rng.random() < cfg.read_ratio else self.write
            task = asyncio.ensure_future(op(i, due))
            tasks.add(task)
            task.add_done_callback(lambda t: (tasks.discard(t), slots.release()))
        if tasks:
            await asyncio.wait(tasks, timeout=30)

    async def progress(self) -> None:
        """Every second on the second: sample the cache's counters, print a progress line."""
        while True:
            await asyncio.sleep(max(0.0, self.t0 + self._sampled + 1 - time.monotonic()))
            self.sample()

    def sample(self) -> None:
        """Close the next second: the cache's hits and lookups since the last sample (the
        chart's hit ratio), and a progress line."""
        cfg = self.cfg
        second = self._sampled
        self._sampled += 1
        stats = self.cache.stats.as_dict()
        last, self._last_stats = self._last_stats, stats
        sec = self.result.seconds.setdefault(second, Second())
        sec.hits = stats["hits"] - last["hits"]
        sec.lookups = sum(stats[k] - last[k] for k in ("hits", "misses", "fallbacks", "early_refreshes"))
        p99 = percentile(sec.read_lat, 99) * 1000 if sec.read_lat else float("nan")
        breaker = self.cache.breaker.state if self.cache.breaker else "-"
        extra = ""
        if isinstance(self.strategy, WriteBack):
            extra = f" unflushed={len(self.strategy.unflushed())} lost={self.strategy.stats.lost}"
        hit = 100.0 * sec.hits / sec.lookups if sec.lookups else 0.0
        log(f"[{self.name}] {second + 1:3d}/{cfg.duration:.0f}s ops={self.result.reads + self.result.writes}"
            f" hit={hit:5.1f}% db={self.db.per_second.get(second, 0)}/s"
            f" read_p99={p99:.1f}ms breaker={breaker}{extra}")

    async def run(self) -> Result:
        async with contextlib.AsyncExitStack() as stack:
            await self.setup(stack)
            self.db.reset()
            self.t0 = time.monotonic()
            faults = asyncio.ensure_future(
                run_schedule(self.faults, self.proxy, self.server, self.t0, log=lambda m: log(f"[{self.name}] {m}"),
                             before_kill=self.snapshot_unflushed)
            )
            self._last_stats, self._sampled = self.cache.stats.as_dict(), 0
            ticker = asyncio.ensure_future(self.progress())
            try:
                await self.drive()
            finally:
                ticker.cancel()
                faults.cancel()
            if self._sampled < math.ceil(self.cfg.duration):
                self.sample()  # the last second, when the load finished before its tick
            if faults.done() and not faults.cancelled() and faults.exception() is not None:
                self.result.notes.append(f"fault schedule failed: {faults.exception()!r}")
            self.collect_load()
            await self.heal()
            await self.settle()
            await self.check()
        return self.result

    def snapshot_unflushed(self) -> None:
        """What a crash now loses (write-back): the ledger's writes, each the newest acknowledged
        write of its key (writes to a key are serialized, and the ledger entry is set without
        an await before the write is acknowledged), so its sequence is ``acked``."""
        if isinstance(self.strategy, WriteBack):
            self.at_kill = self.at_kill or []
            for key, wid in self.strategy.unflushed().items():
                i = int(key.rpartition(":")[2])
                self.at_kill.append((key, wid, i, self.acked[i]))

    async def setup(self, stack: contextlib.AsyncExitStack) -> None:
        """Server, proxy, client, database, cache and strategy; undone by ``stack``."""
        cfg = self.cfg
        self.server = make_server(cfg)
        await self.server.start()
        stack.push_async_callback(self.server.stop)
        self.proxy = await FaultProxy(self.server.port).start()
        stack.push_async_callback(self.proxy.stop)
        redis = connect(self.server.client_url(self.proxy.port), timeout=cfg.cache_timeout,
                        max_connections=cfg.concurrency * 2)
        stack.push_async_callback(redis.aclose)
        missing = await preflight(redis)
        if missing:
            raise SystemExit(f"{self.server.name} lacks what the strategies need:\n  " + "\n  ".join(missing))
        self.db = Metered(await self.db_setup(), latency=cfg.db_latency, jitter=0.5, rng=random.Random(cfg.seed))
        stack.push_async_callback(self.db.close)
        resilience = oliveyoung(timeout=cfg.cache_timeout, wait_in_open=cfg.breaker_wait)
        self.cache = Cache(redis, prefix="lab:", ttl=cfg.ttl, stampede=PRESETS[cfg.stampede],
                           resilience=resilience, rng=random.Random(cfg.seed))
        self.strategy = build_strategy(self.name, self.cache, self.db, cfg)
        stack.push_async_callback(self.strategy.close)
        if isinstance(self.strategy, WriteBack):
            await self.strategy.start()
        self.cache.breaker.listeners.append(
            lambda ev: self.result.transitions.append((time.monotonic() - self.t0, ev.previous, ev.current, ev.reason))
        )

    async def db_setup(self):
        db = await open_database(self.cfg, self.name, self.workdir)
        size = self.cfg.value_size
        await db.load((key_name(i), make_value(i, 0, size)) for i in range(self.cfg.keys))
        return db

    def collect_load(self) -> None:
        r = self.result
        st = self.cache.stats
        r.cache_stats = st.as_dict()
        r.cache_errors = dict(self.cache.resilience.stats.errors)
        r.hits = st.hits
        r.lookups = st.hits + st.misses + st.fallbacks + st.early_refreshes
        r.misses = st.misses + st.fallbacks + st.early_refreshes
        r.db_reads, r.db_writes = self.db.reads, self.db.writes
        r.db_per_second = dict(self.db.per_second)
        r.db_peak = max(r.db_per_second.values(), default=0)
        first_fault = min((f.at for f in self.faults if f.kind != "restart"), default=None)
        if first_fault is not None:
            before = [cur for t, _, cur, _ in r.transitions if t < first_fault]
            opened = [t for t, _, cur, _ in r.transitions if cur == OPEN and t >= first_fault]
            if before and before[-1] == OPEN:
                r.fallback_after = 0.0  # already open when the fault began (e.g. on slow calls)
            else:
                r.fallback_after = opened[0] - first_fault if opened else None

    async def heal(self) -> None:
        """End the run with the cache back, as an operator would."""
        proxy, server = self.proxy, self.server
        proxy.resume()
        proxy.delay(0.0)
        if proxy.killed:
            await server.restart()
            proxy.retarget(server.port)
            await proxy.revive()
            self.result.notes.append("cache restarted after the run")

    async def settle(self) -> None:
        """Wait out an open breaker, then let background work and write-back finish."""
        breaker = self.cache.breaker
        deadline = time.monotonic() + self.cfg.breaker_wait + 15
        while time.monotonic() < deadline:
            if breaker is not None and breaker.state == OPEN:
                await asyncio.sleep(0.05)
                continue
            try:
                await self.strategy.quiesce(timeout=10)
                return
            except (CacheError, TimeoutError):
                await asyncio.sleep(0.1)
        self.result.notes.append("did not quiesce")

    async def check(self) -> None:
        r = self.result
        server = self.server
        if self.cfg.redis_url:  # read the cache directly, not through the proxy
            direct = aredis.Redis.from_url(self.cfg.redis_url, socket_timeout=5)
        else:
            direct = aredis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        inconsistent = lost = 0
        keys = sorted(self.touched)
        db_seqs: dict[int, int] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                raws = await direct.mget([self.cache.key(key_name(k)) for k in chunk])
                for k, raw in zip(chunk, raws):
                    row = await self.db.db.get(key_name(k))
                    db_seq = db_seqs[k] = seq_of(row.value) if row else -1
                    entry = decode(raw)
                    if entry is not None and entry.is_usable and seq_of(entry.value) != db_seq:
                        inconsistent += 1
                    if db_seq < self.acked[k]:
                        lost += 1
        finally:
            await direct.aclose()
        r.inconsistent = inconsistent
        r.lost_measured = lost
        if isinstance(self.strategy, WriteBack):
            r.lost_reported = self.strategy.stats.lost
            self.check_losses(db_seqs)

    def check_losses(self, db_seqs: dict[int, int]) -> None:
        """Write-back: did a crash lose exactly the unflushed writes, and did the library say
        which? (See ``loss check`` in the module docstring.)"""
        r = self.result
        reported = set(self.strategy.lost)
        at_kill = self.at_kill or []
        r.unflushed_at_kill = None if self.at_kill is None else len(at_kill)
        at_risk = {(key, wid) for key, wid, _, _ in at_kill}
        unaccounted = len(reported - at_risk)  # reported lost, but was not at risk
        unaccounted += sum(1 for key, wid, i, seq in at_kill  # neither lost nor in the DB
                           if (key, wid) not in reported and db_seqs.get(i, -1) < seq)
        lost_keys = {key for key, _ in reported}
        unaccounted += sum(1 for i, db_seq in db_seqs.items()  # behind the DB, no loss reported
                           if db_seq < self.acked[i] and key_name(i) not in lost_keys)
        r.loss_unaccounted = unaccounted
        if len(self.strategy.lost) < self.strategy.stats.lost:
            r.notes.append("more losses than WriteBack.lost keeps: loss check incomplete")


async def run_all(cfg: Config, faults) -> list[Result]:
    workdir = tempfile.mkdtemp(prefix="strategies-lab-")
    results = []
    try:
        for name in cfg.strategies:
            log(f"== {name}: {cfg.duration:g}s, {cfg.rate:g} ops/s, {cfg.keys} keys, "
                f"{'zipf s=%g' % cfg.zipf_s if cfg.zipf_s else 'uniform'}, reads {cfg.read_ratio:.0%}, "
                f"faults: {cfg.faults or 'none'}")
            results.append(await Run(name, cfg, faults, workdir).run())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


__all__ = ["Config", "Result", "Run", "STRATEGIES", "fault_windows", "run_all"]
