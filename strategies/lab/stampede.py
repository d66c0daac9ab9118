"""The stampede scenario: one hot key expiring again and again under concurrent readers.

Design note
-----------
``processes`` simulated application processes (each its own ``Cache``, connection pool and
single-flight table, as separate processes would have) run ``readers`` readers each; every
reader reads the hot key in a loop with a short think time, for ``duration`` seconds. The key's
TTL is ``ttl`` (no jitter: one key) and loading it costs ``recompute`` seconds of database
time. Each stampede control is run the same way, on a flushed cache and a fresh database, and
compared by database calls per expiry (the key starts warm, so its TTL runs out
``ceil(duration / ttl) - 1`` times; 1 is one load per expiry), the
peak number of concurrent database calls, read latency and stale values served.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field, replace

import redis.asyncio as aredis

from .. import Cache, Metered, Resilience, RetryPolicy, SQLiteDatabase, connect
from ..stampede import control
from .workload import log, percentile

POLICIES = ("none", "single-flight", "lease", "xfetch", "swr")
HOT = "hot"


@dataclass
class StampedeConfig:
    policies: tuple[str, ...] = POLICIES
    duration: float = 10.0
    ttl: float = 2.0
    recompute: float = 0.1
    processes: int = 4
    readers: int = 8
    think: float = 0.01
    seed: int = 1


@dataclass
class StampedeResult:
    policy: str
    db_calls: int = 0
    expiries: int = 0
    peak_concurrent: int = 0
    reads: int = 0
    stale: int = 0
    lat: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "policy": self.policy,
            "db_calls": self.db_calls,
            "expiries": self.expiries,
            "db_calls_per_expiry": round(self.db_calls / self.expiries, 2) if self.expiries else None,
            "peak_concurrent_db_calls": self.peak_concurrent,
            "reads": self.reads,
            "read_p50_ms": round(percentile(self.lat, 50) * 1000, 2),
            "read_p99_ms": round(percentile(self.lat, 99) * 1000, 2),
            "stale_served": self.stale,
        }


def expiries(cfg: StampedeConfig) -> int:
    """How often the key's TTL runs out in a run that starts with it warm (at ttl, 2 ttl, ...)."""
    return max(1, math.ceil(cfg.duration / cfg.ttl) - 1)


async def run_policy(policy: str, cfg: StampedeConfig, url: str) -> StampedeResult:
    db = Metered(await SQLiteDatabase().open(), latency=cfg.recompute)
    await db.db.load([(HOT, b"hot value")])
    settings = replace(control(policy), lease_ttl=max(0.5, 3 * cfg.recompute), lease_wait=max(1.0, 5 * cfg.recompute),
                       stale_ttl=cfg.ttl * 5)
    clients = [connect(url, timeout=2.0) for _ in range(cfg.processes)]
    caches = [
        Cache(c, prefix="stampede:", ttl=cfg.ttl, jitter=0.0, stampede=settings,
              resilience=Resilience(None, RetryPolicy(attempts=1), timeout=2.0),
              rng=random.Random(cfg.seed + n))
        for n, c in enumerate(clients)
    ]
    result = StampedeResult(policy)
    await caches[0].get(HOT, db.get)  # the key starts warm: we measure expiries, not a cold start
    db.reset()
    t0 = time.monotonic()
    end = t0 + cfg.duration

    async def reader(cache: Cache) -> None:
        while time.monotonic() < end:
            started = time.monotonic()
            await cache.get(HOT, db.get)
            result.lat.append(time.monotonic() - started)
            await asyncio.sleep(cfg.think)

    await asyncio.gather(*(reader(cache) for cache in caches for _ in range(cfg.readers)))
    result.db_calls = db.reads
    result.expiries = expiries(cfg)
    result.peak_concurrent = db.peak_in_flight
    result.reads = len(result.lat)
    result.stale = sum(c.stats.stale_served for c in caches)
    for cache in caches:
        try:
            await cache.quiesce(timeout=5)
        except TimeoutError:
            log(f"[stampede {policy}] background refreshes did not finish in 5 s")
        await cache.close()
    for c in clients:
        await c.aclose()
    await db.close()
    return result


async def run_stampede(cfg: StampedeConfig, url: str) -> list[StampedeResult]:
    results = []
    admin = aredis.Redis.from_url(url, socket_timeout=5)
    try:
        for policy in cfg.policies:
            await admin.flushdb()
            log(f"== stampede: {policy}: {cfg.processes} processes x {cfg.readers} readers, ttl {cfg.ttl:g}s, "
                f"recompute {cfg.recompute * 1000:g}ms, {cfg.duration:g}s")
            r = await run_policy(policy, cfg, url)
            log(f"[stampede {policy}] db calls {r.db_calls} ({r.db_calls / r.expiries:.1f} per expiry), "
                f"peak concurrent {r.peak_concurrent}, reads {r.reads}")
            results.append(r)
    finally:
        await admin.aclose()
    return results
