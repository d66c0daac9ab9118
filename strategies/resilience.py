"""Retry and circuit breaking around every cache call, and the errors a strategy sees.

Design note
-----------
``Resilience.call(fn, *args)`` runs one cache operation as

    retry( breaker( timeout( fn ) ) )

which is Resilience4j's default aspect order (Retry outside CircuitBreaker): every attempt is
one call the breaker sees, and a rejected call (``BreakerOpen``) is never retried. Retries are
tenacity's: a fresh ``AsyncRetrying`` per call (a shared one is not safe under concurrency),
bounded attempts, exponential backoff with jitter, and only for availability errors
(connection refused or reset, timeouts, a server still loading). A reply error such as
WRONGTYPE or an unknown command is not retried, and the breaker ignores it: it says the cache
is answering, wrongly, not that it is down.

The happy path does not build tenacity's machinery (it costs more than a cache hit): the
first attempt runs bare, and only after it failed with an availability error does a fresh
``AsyncRetrying`` run the remaining attempts, the waits doubling from ``initial``.

Whatever goes wrong comes out as ``CacheError`` (``CacheUnavailable`` for the availability
errors and for an open breaker), never as ``None``: a miss is a reply, an error is not, and a
strategy that confused the two would turn a cache outage into a stampede on the database.

``oliveyoung()`` is the preset from the study's production case (OliveYoung's inventory API,
2023): breaker failure rate 10 %, slow calls over 500 ms at 10 %, a count window of 100 calls,
50 calls minimum, 30 s open, 30 half-open calls; retry 2 attempts 100 ms apart.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, replace

import redis.exceptions as rexc
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from .breaker import BreakerConfig, BreakerOpen, CircuitBreaker


class CacheError(Exception):
    """A cache operation failed; the strategy falls back (never treated as a miss)."""


class CacheUnavailable(CacheError):
    """The cache is down, too slow, or the breaker is open."""


#: Errors that mean "the cache cannot be reached right now": retried and recorded.
#: redis-py's BusyLoadingError is a ConnectionError; OSError covers refused/reset sockets.
AVAILABILITY_ERRORS = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    OSError,
    asyncio.TimeoutError,
)


def is_availability_error(exc: BaseException) -> bool:
    return isinstance(exc, AVAILABILITY_ERRORS)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (1 = no retry); waits grow ``initial * 2**n`` up to ``maximum``,
    plus U(0, ``jitter``) seconds."""

    attempts: int = 3
    initial: float = 0.05
    maximum: float = 1.0
    jitter: float = 0.05

    def __post_init__(self):
        if not 1 <= self.attempts <= 10:
            raise ValueError("retry attempts must be between 1 and 10")

    def first_wait(self, rng: random.Random = random) -> float:
        """The pause before the second attempt."""
        return min(self.maximum, self.initial) + rng.uniform(0, self.jitter)

    def retrying(self) -> AsyncRetrying:
        """tenacity for attempts 2..n (the first attempt and first pause are already done):
        the waits go on doubling from ``2 * initial``."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts - 1),
            wait=wait_exponential(multiplier=2 * self.initial, max=self.maximum) + wait_random(0, self.jitter),
            retry=retry_if_exception(is_availability_error),
            reraise=True,
        )


#: Distinct error types counted in ``Stats.errors`` (the rest go under "other").
MAX_ERROR_TYPES = 32


class Stats:
    """Counters of what the resilience layer did (read them, never write them).
    ``errors`` counts every failed attempt by exception type."""

    __slots__ = ("calls", "retries", "failures", "rejected", "reply_errors", "errors")

    def __init__(self):
        self.calls = self.retries = self.failures = self.rejected = self.reply_errors = 0
        self.errors: dict[str, int] = {}

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        if name not in self.errors and len(self.errors) >= MAX_ERROR_TYPES:
            name = "other"
        self.errors[name] = self.errors.get(name, 0) + 1


class Resilience:
    """Retry + breaker + timeout around cache calls (see the module docstring).

    ``breaker`` and ``retry`` may be None (no breaker / a single attempt). ``timeout`` bounds
    each attempt in seconds (set the client's socket timeouts too; this is the backstop).
    """

    def __init__(
        self,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = 1.0,
    ):
        self.breaker = breaker
        self.retry = retry or RetryPolicy(attempts=1)
        self.timeout = timeout
        self.stats = Stats()

    async def call(self, fn, *args):
        self.stats.calls += 1
        try:
            try:
                return await self._attempt(fn, args)
            except AVAILABILITY_ERRORS:
                if self.retry.attempts == 1:
                    raise
            # The first attempt failed: tenacity runs the rest (a fresh AsyncRetrying per call;
            # building one costs more than a cache hit, so the happy path goes without).
            await asyncio.sleep(self.retry.first_wait())
            async for attempt in self.retry.retrying():
                with attempt:
                    self.stats.retries += 1
                    return await self._attempt(fn, args)
        except BreakerOpen as exc:
            self.stats.rejected += 1
            raise CacheUnavailable(str(exc)) from exc
        except AVAILABILITY_ERRORS as exc:
            self.stats.failures += 1
            raise CacheUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except rexc.RedisError as exc:
            self.stats.reply_errors += 1
            raise CacheError(f"{type(exc).__name__}: {exc}") from exc

    async def _attempt(self, fn, args):
        if self.breaker is None:
            return await self._timed(fn, args)
        return await self.breaker.call(self._timed, fn, args)

    async def _timed(self, fn, args):
        try:
            if self.timeout is None:
                return await fn(*args)
            async with asyncio.timeout(self.timeout):
                return await fn(*args)
        except Exception as exc:
            self.stats.error(exc)
            raise


# -- presets ---------------------------------------------------------------------------------

OLIVEYOUNG_BREAKER = BreakerConfig(
    failure_rate_threshold=10.0,
    slow_call_rate_threshold=10.0,
    slow_call_duration=0.5,
    window="count",
    window_size=100,
    minimum_calls=50,
    wait_in_open=30.0,
    permitted_half_open=30,
)
OLIVEYOUNG_RETRY = RetryPolicy(attempts=2, initial=0.1, maximum=0.1, jitter=0.0)


def oliveyoung(*, clock=time.monotonic, timeout: float | None = 1.0, **overrides) -> Resilience:
    """The OliveYoung inventory-API settings; ``overrides`` replace breaker settings
    (e.g. ``wait_in_open=3`` for a short lab run)."""
    config = replace(OLIVEYOUNG_BREAKER, **overrides)
    breaker = CircuitBreaker(config, name="cache", record=is_availability_error, clock=clock)
    return Resilience(breaker, OLIVEYOUNG_RETRY, timeout=timeout)
