"""Retry and breaker around cache calls, against real servers: only availability errors are
retried, a miss never is, reply errors are not outages, slow caches trip the breaker."""

import asyncio

import pytest

from strategies import (
    BreakerConfig,
    CacheError,
    CacheUnavailable,
    CircuitBreaker,
    Resilience,
    RetryPolicy,
    connect,
)
from strategies.breaker import OPEN
from strategies.lab.faults import FaultProxy
from strategies.resilience import is_availability_error


async def test_connection_errors_are_retried_up_to_the_bound(cache_server, redis):
    res = Resilience(None, RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0))
    await cache_server.kill()
    started = asyncio.get_running_loop().time()
    with pytest.raises(CacheUnavailable):
        await res.call(redis.get, "k")
    assert res.stats.retries == 2
    assert sum(res.stats.errors.values()) == 3
    assert asyncio.get_running_loop().time() - started >= 0.01 + 0.02


async def test_a_miss_is_a_reply_and_is_never_retried(redis):
    res = Resilience(None, RetryPolicy(attempts=3, initial=0.01))
    assert await res.call(redis.get, "missing") is None
    assert (res.stats.calls, res.stats.retries, res.stats.errors) == (1, 0, {})


async def test_a_reply_error_is_not_retried_and_the_breaker_does_not_count_it(redis):
    breaker = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2), record=is_availability_error)
    res = Resilience(breaker, RetryPolicy(attempts=3, initial=0.01))
    for _ in range(3):
        with pytest.raises(CacheError) as info:
            await res.call(redis.execute_command, "NOSUCHCOMMAND")
        assert not isinstance(info.value, CacheUnavailable)
    assert res.stats.retries == 0 and res.stats.reply_errors == 3
    assert breaker.metrics()["calls"] == 0


async def test_an_open_breaker_rejects_calls_without_reaching_the_server(redis):
    breaker = CircuitBreaker(BreakerConfig(window_size=1, minimum_calls=1))
    breaker.force_open()
    res = Resilience(breaker, RetryPolicy(attempts=2, initial=0.01))
    with pytest.raises(CacheUnavailable, match="open"):
        await res.call(redis.set, "k", "v")
    assert await redis.get("k") is None
    assert res.stats.rejected == 1 and res.stats.retries == 0


async def test_each_attempt_is_bounded_by_the_timeout_when_the_cache_stalls(cache_server):
    proxy = await FaultProxy(cache_server.port).start()
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=5.0)  # socket timeout is not what stops it
    try:
        await client.ping()
        proxy.stall()
        res = Resilience(None, RetryPolicy(attempts=2, initial=0.01, jitter=0.0), timeout=0.1)
        started = asyncio.get_running_loop().time()
        with pytest.raises(CacheUnavailable):
            await res.call(client.get, "k")
        assert asyncio.get_running_loop().time() - started < 1.0
        assert res.stats.errors == {"TimeoutError": 2}
    finally:
        proxy.resume()
        await client.aclose()
        await proxy.stop()


async def test_a_slow_cache_opens_the_breaker_on_the_slow_call_rate(cache_server):
    proxy = await FaultProxy(cache_server.port).start()
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=2.0)
    try:
        breaker = CircuitBreaker(BreakerConfig(slow_call_duration=0.05, slow_call_rate_threshold=50,
                                               window_size=4, minimum_calls=4))
        res = Resilience(breaker, RetryPolicy(attempts=1), timeout=2.0)
        proxy.delay(0.08)
        for _ in range(4):
            await res.call(client.get, "k")  # they all succeed, slowly
        assert breaker.state == OPEN
        assert "slow-call rate 100.0%" in breaker.transitions[-1].reason
    finally:
        await client.aclose()
        await proxy.stop()
