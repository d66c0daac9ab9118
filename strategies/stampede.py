"""Stampede control: single-flight, lease lock, XFetch, stale-while-revalidate.

Design note
-----------
A stampede is many readers missing the same key at once and all asking the database. Four
tools, selectable per cache (``StampedeControl``; they combine):

single-flight  per process: the first miss of a key starts one load in its own task; later
               misses of that key await the same task (Go's ``singleflight.Group.Do``). The
               task is shielded, so a cancelled caller does not fail the others, and an error is
               shared like a value. N processes still make N loads.
lease          across processes: the first miss takes ``SET <lease> <token> NX PX <ttl>``; the
               others poll the cache with backoff for up to ``lease_wait`` and then load
               anyway (and fill: fills are version-guarded, so a late one is harmless). The
               holder releases with compare-and-delete in one Lua step, so a holder whose lease
               expired cannot delete its successor's.
XFetch         probabilistic early refresh (Vattani et al., VLDB 2015): a reader recomputes
               before expiry when ``now - delta * beta * ln(U) >= expiry``, U ~ (0, 1], delta
               the last load's duration. No coordination, no extra round trip; the per-read
               probability is exp(-gap / (beta * delta)).
stale-while-revalidate  two TTLs: past the soft TTL a read returns the stale value at once and
               triggers one background refresh per key per process (with ``lease`` also set,
               one across processes); past the hard TTL the key is gone and it is a miss.

``PRESETS`` names the five settings the lab compares; ``control("xfetch+lease")`` combines them.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Awaitable, Callable


@dataclass(frozen=True)
class StampedeControl:
    single_flight: bool = False
    lease: bool = False
    lease_ttl: float = 2.0  # seconds a lease lives (2-3x the p99 load time)
    lease_wait: float = 2.0  # seconds a loser polls before loading by itself
    xfetch_beta: float | None = None  # None: no early refresh; 1.0 is the paper's default
    swr: bool = False
    stale_ttl: float = 30.0  # with swr: seconds a value may be served stale after its TTL

    @property
    def name(self) -> str:
        parts = [n for n, on in (("single-flight", self.single_flight), ("lease", self.lease),
                                 ("xfetch", self.xfetch_beta is not None), ("swr", self.swr)) if on]
        return "+".join(parts) or "none"


PRESETS = {
    "none": StampedeControl(),
    "single-flight": StampedeControl(single_flight=True),
    "lease": StampedeControl(lease=True),
    "xfetch": StampedeControl(xfetch_beta=1.0),
    "swr": StampedeControl(swr=True),
}


def control(name: str) -> StampedeControl:
    """A preset by name, or several joined with ``+`` ("xfetch+lease")."""
    flags = {"single_flight": False, "lease": False, "xfetch_beta": None, "swr": False}
    for part in name.split("+"):
        preset = PRESETS.get(part.strip())
        if preset is None:
            raise ValueError(f"unknown stampede control {part!r}; known: {', '.join(PRESETS)}")
        flags["single_flight"] |= preset.single_flight
        flags["lease"] |= preset.lease
        flags["swr"] |= preset.swr
        if preset.xfetch_beta is not None:
            flags["xfetch_beta"] = preset.xfetch_beta
    return StampedeControl(**flags)


def xfetch_should_refresh(gap: float, delta: float, beta: float, u: float) -> bool:
    """XFetch's test with ``gap = expiry - now`` and ``u`` in (0, 1]."""
    if delta <= 0:
        return False
    return gap <= -delta * beta * math.log(u)


def xfetch_probability(gap: float, delta: float, beta: float) -> float:
    """The chance that one read refreshes early: exp(-gap / (beta * delta))."""
    if gap <= 0:
        return 1.0
    return math.exp(-gap / (beta * delta)) if delta > 0 else 0.0


def draw_u(rng: random.Random) -> float:
    """U ~ Uniform(0, 1] (random() is [0, 1); ln(0) is undefined)."""
    return 1.0 - rng.random()


class SingleFlight:
    """One in-flight call per key; duplicates share its result or its error."""

    def __init__(self):
        self._calls: dict[str, asyncio.Task] = {}
        self.shared = 0  # calls that joined an in-flight one

    def __len__(self) -> int:
        return len(self._calls)

    def in_flight(self, key: str) -> bool:
        return key in self._calls

    async def do(self, key: str, fn: Callable[[], Awaitable]):
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(fn())
            self._calls[key] = task
            task.add_done_callback(lambda t, key=key: self._done(key, t))
        else:
            self.shared += 1
        return await asyncio.shield(task)

    def start(self, key: str, fn: Callable[[], Awaitable]) -> asyncio.Task | None:
        """Start ``fn`` in the background unless a call for ``key`` is in flight."""
        if key in self._calls:
            return None
        task = asyncio.ensure_future(fn())
        self._calls[key] = task
        task.add_done_callback(lambda t, key=key: self._done(key, t))
        return task

    def _done(self, key: str, task: asyncio.Task) -> None:
        if self._calls.get(key) is task:
            del self._calls[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: waiters may all have gone

    async def wait_idle(self, timeout: float) -> None:
        """Wait (bounded) until no call is in flight."""
        async with asyncio.timeout(timeout):
            while self._calls:
                await asyncio.gather(*self._calls.values(), return_exceptions=True)
