"""An in-process asyncio circuit breaker with Resilience4j's semantics.

Design note
-----------
No maintained Python breaker can express the OliveYoung configuration (failure *rate* over a
sliding window, slow-call rate, a minimum number of calls, N permitted half-open calls), so this
is a small one, modelled on Resilience4j's ``CircuitBreakerStateMachine``:

``CLOSED``     every call is permitted; outcomes go into a sliding window, either the last
               ``window_size`` calls (``window="count"``) or the last ``window_size`` seconds
               in one-second buckets (``window="time"``). Once the window holds at least
               ``minimum_calls`` outcomes, a failure rate >= ``failure_rate_threshold`` % or a
               slow-call rate >= ``slow_call_rate_threshold`` % opens the breaker. A call is
               slow when it took longer than ``slow_call_duration`` seconds, whether it
               succeeded or failed.
``OPEN``       calls are rejected (``BreakerOpen``) for ``wait_in_open`` seconds; the first
               call after that moves the breaker to HALF_OPEN (lazily, as Resilience4j does by
               default).
``HALF_OPEN``  exactly ``permitted_half_open`` calls are let through and the rest rejected;
               when they have all finished, the same thresholds over those calls close the
               breaker again or reopen it. ``max_wait_in_half_open`` (0 = unlimited) reopens
               it if the probes take too long to finish.

Only exceptions that ``record`` accepts count as failures; others pass through without being
recorded (Resilience4j's ignored exceptions). Outcomes of calls that were permitted in an
earlier state are dropped. State changes are delivered synchronously to listeners as
``StateChange`` events and kept in ``transitions`` (bounded). The clock is a parameter
(``time.monotonic`` by default) so tests can step time. The state lives in this object, in
the process, never in the cache the breaker protects.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, NamedTuple

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

#: Transitions kept in ``CircuitBreaker.transitions`` (oldest dropped first).
MAX_TRANSITIONS = 10_000


class BreakerOpen(Exception):
    """The breaker rejected the call (Resilience4j's CallNotPermittedException)."""


@dataclass(frozen=True)
class BreakerConfig:
    failure_rate_threshold: float = 50.0  # percent
    slow_call_rate_threshold: float = 100.0  # percent
    slow_call_duration: float = 60.0  # seconds
    window: str = "count"  # "count" (last N calls) or "time" (last N seconds)
    window_size: int = 100
    minimum_calls: int = 100
    wait_in_open: float = 60.0  # seconds
    permitted_half_open: int = 10
    max_wait_in_half_open: float = 0.0  # seconds; 0 waits for every permitted call

    def __post_init__(self):
        if self.window not in ("count", "time"):
            raise ValueError("window must be 'count' or 'time'")
        if self.window_size < 1 or self.minimum_calls < 1 or self.permitted_half_open < 1:
            raise ValueError("window_size, minimum_calls and permitted_half_open must be >= 1")
        if not (0 < self.failure_rate_threshold <= 100 and 0 < self.slow_call_rate_threshold <= 100):
            raise ValueError("rate thresholds are percentages in (0, 100]")


class StateChange(NamedTuple):
    previous: str
    current: str
    at: float  # the breaker's clock
    reason: str


class _Totals:
    __slots__ = ("calls", "failed", "slow")

    def __init__(self):
        self.calls = self.failed = self.slow = 0

    def add(self, failed: bool, slow: bool, sign: int = 1) -> None:
        self.calls += sign
        self.failed += sign * failed
        self.slow += sign * slow


class CountWindow:
    """The last ``size`` outcomes."""

    def __init__(self, size: int):
        self.size = size
        self.outcomes: deque[tuple[bool, bool]] = deque()
        self.totals = _Totals()

    def record(self, failed: bool, slow: bool, now: float) -> _Totals:
        if len(self.outcomes) == self.size:
            self.totals.add(*self.outcomes.popleft(), sign=-1)
        self.outcomes.append((failed, slow))
        self.totals.add(failed, slow)
        return self.totals

    def snapshot(self, now: float) -> _Totals:
        return self.totals


class TimeWindow:
    """The outcomes of the last ``size`` seconds, aggregated per epoch second."""

    def __init__(self, size: int):
        self.size = size
        self.buckets: deque[tuple[int, _Totals]] = deque()
        self.totals = _Totals()

    def _expire(self, now: float) -> None:
        oldest = int(now) - self.size + 1
        while self.buckets and self.buckets[0][0] < oldest:
            _, old = self.buckets.popleft()
            self.totals.calls -= old.calls
            self.totals.failed -= old.failed
            self.totals.slow -= old.slow

    def record(self, failed: bool, slow: bool, now: float) -> _Totals:
        self._expire(now)
        second = int(now)
        if not self.buckets or self.buckets[-1][0] != second:
            self.buckets.append((second, _Totals()))
        self.buckets[-1][1].add(failed, slow)
        self.totals.add(failed, slow)
        return self.totals

    def snapshot(self, now: float) -> _Totals:
        self._expire(now)
        return self.totals


class Permit(NamedTuple):
    generation: int
    started: float


class CircuitBreaker:
    """See the module docstring. Use ``await breaker.call(fn, *args)`` or the permit API
    (``acquire`` / ``on_success`` / ``on_failure`` / ``release``) to wrap other shapes."""

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        name: str = "cache",
        record: Callable[[BaseException], bool] = lambda exc: True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config or BreakerConfig()
        self.name = name
        self.record = record
        self.clock = clock
        self.listeners: list[Callable[[StateChange], None]] = []
        self.transitions: deque[StateChange] = deque(maxlen=MAX_TRANSITIONS)
        self.rejected = 0
        self._state = CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._half_open_at = 0.0
        self._permits_left = 0
        self._window = self._closed_window()

    # -- state -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """The current state, after any transition the clock has made due (OPEN -> HALF_OPEN)."""
        self._tick(self.clock())
        return self._state

    def metrics(self) -> dict:
        now = self.clock()
        t = self._window.snapshot(now)
        return {
            "state": self.state,
            "calls": t.calls,
            "failed": t.failed,
            "slow": t.slow,
            "failure_rate": _rate(t.failed, t.calls),
            "slow_call_rate": _rate(t.slow, t.calls),
            "rejected": self.rejected,
        }

    def _closed_window(self):
        cfg = self.config
        return CountWindow(cfg.window_size) if cfg.window == "count" else TimeWindow(cfg.window_size)

    def _transition(self, new: str, now: float, reason: str) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        if new == OPEN:
            self._opened_at = now
        elif new == HALF_OPEN:
            self._half_open_at = now
            self._permits_left = self.config.permitted_half_open
            self._window = CountWindow(self.config.permitted_half_open)
        else:
            self._window = self._closed_window()
        event = StateChange(old, new, now, reason)
        self.transitions.append(event)
        for listener in list(self.listeners):
            listener(event)

    def _tick(self, now: float) -> None:
        cfg = self.config
        if self._state == OPEN and now - self._opened_at >= cfg.wait_in_open:
            self._transition(HALF_OPEN, now, f"waited {cfg.wait_in_open:g}s in open state")
        elif (
            self._state == HALF_OPEN
            and cfg.max_wait_in_half_open > 0
            and now - self._half_open_at >= cfg.max_wait_in_half_open
        ):
            self._transition(OPEN, now, "half-open probes took too long")

    def force_open(self, reason: str = "forced") -> None:
        self._transition(OPEN, self.clock(), reason)

    def reset(self) -> None:
        self._transition(CLOSED, self.clock(), "reset")

    # -- the permit API -----------------------------------------------------------------------
    def acquire(self) -> Permit:
        """Permission for one call, or ``BreakerOpen``."""
        now = self.clock()
        self._tick(now)
        if self._state == OPEN:
            self.rejected += 1
            raise BreakerOpen(f"circuit breaker {self.name!r} is open")
        if self._state == HALF_OPEN:
            if self._permits_left <= 0:
                self.rejected += 1
                raise BreakerOpen(f"circuit breaker {self.name!r} is half-open and its probes are taken")
            self._permits_left -= 1
        return Permit(self._generation, now)

    def release(self, permit: Permit) -> None:
        """Give a permit back without an outcome (the call was cancelled or ignored)."""
        if permit.generation == self._generation and self._state == HALF_OPEN:
            self._permits_left += 1

    def on_success(self, permit: Permit) -> None:
        self._record(permit, failed=False)

    def on_failure(self, permit: Permit, exc: BaseException) -> None:
        if self.record(exc):
            self._record(permit, failed=True)
        else:
            self.release(permit)

    def _record(self, permit: Permit, failed: bool) -> None:
        now = self.clock()
        if permit.generation != self._generation:
            return  # permitted in an earlier state: its outcome belongs to no window now
        slow = now - permit.started > self.config.slow_call_duration
        totals = self._window.record(failed, slow, now)
        self._evaluate(totals, now)

    def _evaluate(self, t: _Totals, now: float) -> None:
        cfg = self.config
        if self._state == CLOSED:
            if t.calls < cfg.minimum_calls:
                return
        elif self._state == HALF_OPEN:
            if t.calls < cfg.permitted_half_open:
                return
        else:
            return
        failure_rate = _rate(t.failed, t.calls)
        slow_rate = _rate(t.slow, t.calls)
        if failure_rate >= cfg.failure_rate_threshold:
            self._transition(OPEN, now, f"failure rate {failure_rate:.1f}% >= {cfg.failure_rate_threshold:g}% over {t.calls} calls")
        elif slow_rate >= cfg.slow_call_rate_threshold:
            self._transition(OPEN, now, f"slow-call rate {slow_rate:.1f}% >= {cfg.slow_call_rate_threshold:g}% over {t.calls} calls")
        elif self._state == HALF_OPEN:
            self._transition(CLOSED, now, f"{t.calls} half-open calls: failure rate {failure_rate:.1f}%, slow {slow_rate:.1f}%")

    # -- the call API ---------------------------------------------------------------------------
    async def call(self, fn, *args, **kwargs):
        permit = self.acquire()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self.on_failure(permit, exc)
            else:  # cancelled: no outcome
                self.release(permit)
            raise
        self.on_success(permit)
        return result


def _rate(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0
