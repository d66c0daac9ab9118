"""Small builders shared by the strategy tests."""

from __future__ import annotations

import asyncio

from strategies import Cache, Resilience, RetryPolicy, Row, StampedeControl


def plain() -> Resilience:
    """No breaker, no retry: every cache error surfaces at once."""
    return Resilience(None, RetryPolicy(attempts=1), timeout=1.0)


def retrying() -> Resilience:
    """No breaker; connection errors retried (a pooled connection to a restarted server fails
    once before redis-py reconnects)."""
    return Resilience(None, RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0.0), timeout=1.0)


def make_cache(redis, *, stampede: StampedeControl | None = None, resilience=None, **kwargs) -> Cache:
    kwargs.setdefault("ttl", 60.0)
    kwargs.setdefault("jitter", 0.0)
    return Cache(redis, stampede=stampede, resilience=resilience or plain(), **kwargs)


class SlowLoader:
    """A loader that counts its calls and can be held at a gate (to stage races)."""

    def __init__(self, db, delay: float = 0.0):
        self.db = db
        self.delay = delay
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def hold(self) -> None:
        self.gate = asyncio.Event()

    async def __call__(self, key: str) -> Row | None:
        self.calls += 1
        row = await self.db.get(key)  # read first: a held loader carries the old row
        self.entered.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        return row


async def raw_entry(redis, cache: Cache, key: str):
    from strategies.entry import decode

    return decode(await redis.get(cache.key(key)))
