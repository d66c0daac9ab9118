"""The circuit breaker's state machine (Resilience4j semantics), driven by a fake clock."""

import asyncio

import pytest

from strategies.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerConfig,
    BreakerOpen,
    CircuitBreaker,
)
from strategies.resilience import OLIVEYOUNG_BREAKER, OLIVEYOUNG_RETRY, oliveyoung


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(clock=None, **config):
    return CircuitBreaker(BreakerConfig(**config), clock=clock or Clock())


def outcome(breaker, failed=False, took=0.0):
    permit = breaker.acquire()
    breaker.clock.now += took
    if failed:
        breaker.on_failure(permit, ConnectionError("down"))
    else:
        breaker.on_success(permit)


def test_the_breaker_opens_once_the_failure_rate_reaches_the_threshold_after_the_minimum_calls():
    b = make(failure_rate_threshold=50, window_size=10, minimum_calls=4)
    outcome(b, failed=True)
    outcome(b, failed=True)
    outcome(b, failed=True)
    assert b.state == CLOSED  # 3 calls < minimum 4, even at 100% failures
    outcome(b)
    assert b.state == OPEN  # 3 of 4 failed: 75% >= 50%
    with pytest.raises(BreakerOpen):
        b.acquire()
    assert b.rejected == 1


def test_a_failure_rate_below_the_threshold_keeps_it_closed():
    b = make(failure_rate_threshold=50, window_size=10, minimum_calls=4)
    for failed in (True, False, False, False, True, False, False, False, True, False):
        outcome(b, failed=failed)
    assert b.state == CLOSED
    assert b.metrics()["failure_rate"] == 30.0


def test_the_count_window_forgets_calls_older_than_its_size():
    b = make(failure_rate_threshold=75, window_size=4, minimum_calls=4)
    for _ in range(2):
        outcome(b, failed=True)
    for _ in range(6):
        outcome(b)
    assert b.metrics()["calls"] == 4 and b.metrics()["failed"] == 0
    assert b.state == CLOSED


def test_slow_successful_calls_open_it_at_the_slow_call_rate():
    b = make(slow_call_duration=0.5, slow_call_rate_threshold=50, window_size=4, minimum_calls=4)
    outcome(b, took=0.6)
    outcome(b, took=0.1)
    outcome(b, took=0.7)
    assert b.state == CLOSED
    outcome(b, took=0.1)
    assert b.state == OPEN
    assert "slow-call rate 50.0%" in b.transitions[-1].reason


def test_after_the_wait_it_lets_exactly_the_permitted_number_of_half_open_calls_through():
    clock = Clock()
    b = make(clock, window_size=2, minimum_calls=2, wait_in_open=30, permitted_half_open=3)
    outcome(b, failed=True)
    outcome(b, failed=True)
    assert b.state == OPEN
    clock.now += 29.9
    with pytest.raises(BreakerOpen):
        b.acquire()
    clock.now += 0.1
    assert b.state == HALF_OPEN
    permits = [b.acquire() for _ in range(3)]
    with pytest.raises(BreakerOpen):
        b.acquire()
    for p in permits[:2]:
        b.on_success(p)
    assert b.state == HALF_OPEN  # the third probe is still running
    b.on_success(permits[2])
    assert b.state == CLOSED


def test_failing_half_open_probes_reopen_it():
    clock = Clock()
    b = make(clock, window_size=2, minimum_calls=2, wait_in_open=1, permitted_half_open=2)
    outcome(b, failed=True)
    outcome(b, failed=True)
    clock.now += 1
    outcome(b)
    outcome(b, failed=True)  # 50% >= 50%
    assert b.state == OPEN
    assert [(t.previous, t.current) for t in b.transitions] == [
        (CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN)]


def test_a_cancelled_half_open_probe_gives_its_permit_back():
    clock = Clock()
    b = make(clock, window_size=1, minimum_calls=1, wait_in_open=1, permitted_half_open=1)
    outcome(b, failed=True)
    clock.now += 1
    permit = b.acquire()
    b.release(permit)
    b.on_success(b.acquire())
    assert b.state == CLOSED


def test_outcomes_of_calls_permitted_before_a_transition_are_dropped():
    b = make(window_size=2, minimum_calls=2)
    early = b.acquire()
    outcome(b, failed=True)
    outcome(b, failed=True)
    assert b.state == OPEN
    b.on_success(early)  # belongs to the closed state that ended
    assert b.state == OPEN


def test_the_time_window_counts_only_the_last_seconds():
    clock = Clock()
    b = make(clock, window="time", window_size=10, minimum_calls=3, failure_rate_threshold=50)
    outcome(b, failed=True)
    outcome(b, failed=True)
    clock.now += 11  # both failures age out
    outcome(b)
    outcome(b)
    outcome(b, failed=True)
    assert b.state == CLOSED
    assert b.metrics()["calls"] == 3
    outcome(b, failed=True)
    assert b.state == OPEN


def test_exceptions_the_breaker_does_not_record_leave_no_outcome():
    b = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2),
                       record=lambda exc: isinstance(exc, ConnectionError), clock=Clock())
    for _ in range(5):
        b.on_failure(b.acquire(), ValueError("a reply error, not an outage"))
    assert b.metrics()["calls"] == 0 and b.state == CLOSED


def test_max_wait_in_half_open_reopens_when_probes_never_finish():
    clock = Clock()
    b = make(clock, window_size=1, minimum_calls=1, wait_in_open=1, permitted_half_open=1,
             max_wait_in_half_open=5)
    outcome(b, failed=True)
    clock.now += 1
    b.acquire()  # a probe that hangs
    clock.now += 5
    assert b.state == OPEN


def test_state_changes_reach_listeners_with_the_time_and_reason():
    clock = Clock()
    b = make(clock, window_size=1, minimum_calls=1)
    events = []
    b.listeners.append(events.append)
    outcome(b, failed=True)
    assert len(events) == 1
    assert events[0].previous == CLOSED and events[0].current == OPEN
    assert events[0].at == clock.now and "failure rate 100.0%" in events[0].reason


async def test_call_records_exceptions_and_passes_them_on():
    b = make(window_size=2, minimum_calls=2)

    async def boom():
        raise ConnectionError("refused")

    async def fine():
        return 42

    assert await b.call(fine) == 42
    with pytest.raises(ConnectionError):
        await b.call(boom)
    assert b.state == OPEN
    with pytest.raises(BreakerOpen):
        await b.call(fine)


async def test_a_cancelled_call_is_not_an_outcome():
    b = make(window_size=1, minimum_calls=1)
    task = asyncio.ensure_future(b.call(asyncio.sleep, 10))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert b.state == CLOSED and b.metrics()["calls"] == 0


def test_the_oliveyoung_preset_has_the_production_settings():
    c = OLIVEYOUNG_BREAKER
    assert (c.failure_rate_threshold, c.slow_call_rate_threshold, c.slow_call_duration) == (10, 10, 0.5)
    assert (c.window, c.window_size, c.minimum_calls) == ("count", 100, 50)
    assert (c.wait_in_open, c.permitted_half_open) == (30, 30)
    assert (OLIVEYOUNG_RETRY.attempts, OLIVEYOUNG_RETRY.initial, OLIVEYOUNG_RETRY.jitter) == (2, 0.1, 0)
    assert oliveyoung(wait_in_open=3).breaker.config.wait_in_open == 3


def test_the_oliveyoung_breaker_trips_on_5_failures_in_the_first_50_calls():
    clock = Clock()
    b = CircuitBreaker(OLIVEYOUNG_BREAKER, clock=clock)
    for i in range(49):
        outcome(b, failed=i < 5)
    assert b.state == CLOSED  # 49 calls: below the minimum
    outcome(b)
    assert b.state == OPEN  # 5 of 50 = 10%
