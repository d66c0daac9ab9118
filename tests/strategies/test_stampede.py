"""Stampede control: single-flight, the lease lock, XFetch, stale-while-revalidate, and the
optional local tier."""

import asyncio
import math
import random

import pytest

from strategies import SingleFlight, StampedeControl
from strategies.stampede import PRESETS, xfetch_probability, xfetch_should_refresh
from tests.strategies.helpers import SlowLoader, make_cache

# -- single-flight --------------------------------------------------------------------------------

async def test_single_flight_makes_one_database_call_per_key_per_burst(redis, db):
    await db.put("a", b"A")
    await db.put("b", b"B")
    loader = SlowLoader(db, delay=0.05)
    cache = make_cache(redis, stampede=PRESETS["single-flight"])
    reads = [cache.get(k, loader) for k in ["a"] * 25 + ["b"] * 25]
    assert await asyncio.gather(*reads) == [b"A"] * 25 + [b"B"] * 25
    assert loader.calls == 2
    assert cache._flights.shared == 48


async def test_without_stampede_control_every_reader_of_a_cold_key_calls_the_database(redis, db):
    await db.put("a", b"A")
    loader = SlowLoader(db, delay=0.05)
    cache = make_cache(redis, stampede=PRESETS["none"])
    await asyncio.gather(*(cache.get("a", loader) for _ in range(20)))
    assert loader.calls == 20


async def test_single_flight_shares_an_error_and_then_forgets_the_key():
    group = SingleFlight()
    calls = 0

    async def failing():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("db down")

    results = await asyncio.gather(*(group.do("k", failing) for _ in range(5)), return_exceptions=True)
    assert calls == 1 and all(isinstance(r, RuntimeError) for r in results)
    assert not group.in_flight("k")
    await asyncio.gather(group.do("k", failing), return_exceptions=True)
    assert calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_load():
    group = SingleFlight()
    release = asyncio.Event()

    async def load():
        await release.wait()
        return "value"

    first = asyncio.ensure_future(group.do("k", load))
    second = asyncio.ensure_future(group.do("k", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "value"


# -- lease ------------------------------------------------------------------------------------------

async def test_a_lease_makes_one_database_call_for_a_burst_across_processes(cache_server, db):
    await db.put("hot", b"H")
    loader = SlowLoader(db, delay=0.1)
    clients = [cache_server.client() for _ in range(3)]
    try:
        caches = [make_cache(c, stampede=PRESETS["lease"]) for c in clients]  # three "processes"
        reads = [cache.get("hot", loader) for cache in caches for _ in range(8)]
        assert await asyncio.gather(*reads) == [b"H"] * 24
        assert loader.calls == 1
        assert sum(c.stats.leases for c in caches) == 1
        assert sum(c.stats.lease_waits for c in caches) == 23
        assert await clients[0].get(caches[0].lease_key("hot")) is None  # released
    finally:
        for c in clients:
            await c.aclose()


async def test_single_flight_alone_still_costs_one_call_per_process(cache_server, db):
    await db.put("hot", b"H")
    loader = SlowLoader(db, delay=0.1)
    clients = [cache_server.client() for _ in range(3)]
    try:
        caches = [make_cache(c, stampede=PRESETS["single-flight"]) for c in clients]
        await asyncio.gather(*(cache.get("hot", loader) for cache in caches for _ in range(8)))
        assert loader.calls == 3
    finally:
        for c in clients:
            await c.aclose()


async def test_a_lease_is_released_only_by_its_holder(redis):
    cache = make_cache(redis, stampede=PRESETS["lease"])
    assert await cache._try_lease("k", "token-a")
    assert not await cache._try_lease("k", "token-b")
    await cache._release_lease("k", "token-b")  # not the holder: nothing happens
    assert await redis.get(cache.lease_key("k")) == b"token-a"
    await cache._release_lease("k", "token-a")
    assert await redis.get(cache.lease_key("k")) is None


async def test_when_the_lease_holder_never_fills_a_waiter_loads_after_lease_wait(redis, db):
    await db.put("k", b"v")
    control = StampedeControl(lease=True, lease_ttl=5.0, lease_wait=0.2)
    cache = make_cache(redis, stampede=control)
    assert await cache._try_lease("k", "crashed-holder")
    loader = SlowLoader(db)
    assert await cache.get("k", loader) == b"v"
    assert loader.calls == 1 and cache.stats.lease_timeouts == 1
    assert await cache.get("k", loader) == b"v" and loader.calls == 1  # and it filled


async def test_when_the_lease_expires_a_waiter_takes_it_over(redis, db):
    await db.put("k", b"v")
    control = StampedeControl(lease=True, lease_ttl=0.1, lease_wait=2.0)
    cache = make_cache(redis, stampede=control)
    assert await cache._try_lease("k", "crashed-holder")  # expires after 100 ms
    assert await cache.get("k", SlowLoader(db)) == b"v"
    assert cache.stats.leases == 1 and cache.stats.lease_timeouts == 0


# -- XFetch ----------------------------------------------------------------------------------------

def test_xfetch_recomputes_early_with_probability_exp_of_minus_gap_over_beta_delta():
    rng = random.Random(7)
    delta, beta = 0.4, 1.0
    for gap, expected in ((2.0, 0.0067), (1.0, 0.082), (0.4, 0.368), (0.1, 0.779)):
        assert xfetch_probability(gap, delta, beta) == pytest.approx(expected, abs=0.001)
        n = 40_000
        hits = sum(xfetch_should_refresh(gap, delta, beta, 1.0 - rng.random()) for _ in range(n))
        assert hits / n == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n) + 0.001)
    assert not xfetch_should_refresh(0.5, 0.0, 1.0, 0.5)  # no recorded cost: never early
    assert xfetch_should_refresh(-0.1, 0.4, 1.0, 1.0)  # past expiry: always


async def test_xfetch_refreshes_a_hot_key_before_it_expires(redis, db):
    await db.put("hot", b"H")
    loader = SlowLoader(db, delay=0.1)  # with ~800 reads/s XFetch refreshes ~0.4 s before expiry
    cache = make_cache(redis, ttl=1.0, stampede=PRESETS["xfetch"], rng=random.Random(3))
    await cache.get("hot", loader)
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.2

    async def reader():
        while loop.time() < end:
            await cache.get("hot", loader)
            await asyncio.sleep(0.005)

    await asyncio.gather(*(reader() for _ in range(4)))
    assert cache.stats.early_refreshes >= 2  # about one per TTL...
    assert cache.stats.misses == 1  # ...so the key never expired under load


# -- stale-while-revalidate -----------------------------------------------------------------------------

async def test_stale_while_revalidate_serves_the_old_value_at_once_and_refreshes_once_in_the_background(redis, db):
    await db.put("k", b"v1")
    control = StampedeControl(swr=True, stale_ttl=5.0)
    cache = make_cache(redis, ttl=0.1, stampede=control)
    loader = SlowLoader(db)
    assert await cache.get("k", loader) == b"v1"
    await db.put("k", b"v2")
    await asyncio.sleep(0.15)  # past the soft TTL, well before the hard one
    loader.hold()  # the refresh cannot finish until the readers are done: nobody may wait for it
    reads = asyncio.gather(*(cache.get("k", loader) for _ in range(10)))
    assert await asyncio.wait_for(reads, 5) == [b"v1"] * 10
    assert cache.stats.stale_served == 10
    loader.gate.set()
    await cache.quiesce()
    assert loader.calls == 2  # the first fill and one refresh
    assert await cache.get("k", loader) == b"v2"


async def test_past_the_hard_ttl_stale_while_revalidate_misses(redis, db):
    await db.put("k", b"v1")
    control = StampedeControl(swr=True, stale_ttl=0.1)
    cache = make_cache(redis, ttl=0.1, stampede=control)
    await cache.get("k", db.get)
    await asyncio.sleep(0.3)
    await cache.get("k", db.get)
    assert cache.stats.misses == 2 and cache.stats.stale_served == 0


# -- local tier ------------------------------------------------------------------------------------------

async def test_the_local_tier_serves_hits_without_the_network(cache_server, redis, db):
    await db.put("k", b"v1")
    cache = make_cache(redis, local_ttl=30.0)
    await cache.get("k", db.get)
    await cache_server.kill()
    assert await cache.get("k", db.get) == b"v1"
    assert cache.stats.local_hits == 1 and db.reads == 1


async def test_this_process_writes_update_its_local_tier(redis, db):
    from strategies import LookAside

    la = LookAside(make_cache(redis, local_ttl=30.0), db)
    await la.write("k", b"v1")
    assert await la.read("k") == b"v1"
    await la.write("k", b"v2")
    assert await la.read("k") == b"v2"


def test_stampede_controls_combine_by_name():
    from strategies.stampede import control

    combined = control("xfetch+lease")
    assert combined.lease and combined.xfetch_beta == 1.0 and not combined.single_flight
    assert combined.name == "lease+xfetch"
    assert control("none") == StampedeControl()
    with pytest.raises(ValueError):
        control("xfetch+telepathy")
