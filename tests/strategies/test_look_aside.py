"""Look-aside: the application reads the cache, loads and fills on a miss, invalidates on
write; version guards stop stale fills; errors are never misses; the breaker falls back."""

import asyncio

import pytest

from strategies import CacheUnavailable, LookAside, Row, oliveyoung
from strategies.breaker import CLOSED, HALF_OPEN, OPEN
from strategies.entry import ABSENT, TOMBSTONE, VALUE
from strategies.lab.faults import FaultProxy
from tests.strategies.helpers import SlowLoader, make_cache, raw_entry


async def test_a_miss_loads_the_row_fills_and_the_next_read_hits(redis, db):
    await db.put("k", b"v1")
    la = LookAside(make_cache(redis), db)
    assert await la.read("k") == b"v1"
    assert await la.read("k") == b"v1"
    assert db.reads == 1
    assert (la.cache.stats.misses, la.cache.stats.hits, la.cache.stats.fills) == (1, 1, 1)
    entry = await raw_entry(redis, la.cache, "k")
    assert (entry.kind, entry.version, entry.value) == (VALUE, 1, b"v1")


async def test_a_missing_row_is_cached_as_absent(redis, db):
    la = LookAside(make_cache(redis), db)
    assert await la.read("ghost") is None
    assert await la.read("ghost") is None
    assert db.reads == 1
    assert (await raw_entry(redis, la.cache, "ghost")).kind == ABSENT


async def test_a_write_commits_then_leaves_a_tombstone_and_the_next_read_loads_the_new_row(redis, db):
    await db.put("k", b"v1")
    la = LookAside(make_cache(redis), db)
    await la.read("k")
    await la.write("k", b"v2")
    entry = await raw_entry(redis, la.cache, "k")
    assert (entry.kind, entry.version) == (TOMBSTONE, 2)
    assert 0 < await redis.pttl(la.cache.key("k")) <= la.cache.tombstone_ttl * 1000
    assert await la.read("k") == b"v2"
    assert (await db.get("k")).version == 2


async def test_update_on_write_stores_the_committed_version(redis, db):
    la = LookAside(make_cache(redis), db, on_write="update")
    await la.write("k", b"v1")
    await la.write("k", b"v2")
    entry = await raw_entry(redis, la.cache, "k")
    assert (entry.kind, entry.version, entry.value) == (VALUE, 2, b"v2")
    assert await la.read("k") == b"v2" and db.reads == 0


async def test_a_delete_is_seen_as_absent(redis, db):
    await db.put("k", b"v1")
    la = LookAside(make_cache(redis), db)
    await la.read("k")
    await la.write("k", None)
    assert await la.read("k") is None


async def test_a_slow_fill_of_an_old_row_cannot_overwrite_a_newer_invalidation(redis, db):
    """The stale-set race: reader misses and reads v1; a writer commits v2 and invalidates;
    the reader's fill of v1 lands last. The tombstone of v2 refuses it."""
    await db.put("k", b"v1")
    cache = make_cache(redis)
    loader = SlowLoader(db)
    loader.hold()
    reader = asyncio.ensure_future(cache.get("k", loader))
    await loader.entered.wait()  # the reader holds row v1
    writer = LookAside(cache, db)
    await writer.write("k", b"v2")
    loader.gate.set()
    assert await reader == b"v1"  # it returns what it read...
    assert cache.stats.fills_rejected == 1  # ...but could not store it
    assert await writer.read("k") == b"v2"
    assert (await raw_entry(redis, cache, "k")).version == 2


async def test_a_fill_that_took_longer_than_half_the_tombstone_ttl_is_dropped(redis, db):
    await db.put("k", b"v1")
    cache = make_cache(redis, tombstone_ttl=0.2)
    assert await cache.get("k", SlowLoader(db, delay=0.15)) == b"v1"
    assert cache.stats.fills_dropped == 1
    assert await redis.get(cache.key("k")) is None


async def test_a_cache_error_is_not_a_miss_the_read_goes_to_the_database_and_fills_nothing(cache_server, redis, db):
    await db.put("k", b"v1")
    la = LookAside(make_cache(redis), db)
    await cache_server.kill()
    assert await la.read("k") == b"v1"
    st = la.cache.stats
    assert (st.fallbacks, st.misses, st.fills, st.hits) == (1, 0, 0, 0)
    with pytest.raises(CacheUnavailable):
        await la.cache.fetch("k")


async def test_a_reply_error_falls_back_to_the_database_and_is_not_a_miss(redis, db):
    await db.put("k", b"v1")
    la = LookAside(make_cache(redis), db)
    await redis.rpush(la.cache.key("k"), "a list, not a string")  # GET now answers WRONGTYPE
    assert await la.read("k") == b"v1"
    assert (la.cache.stats.fallbacks, la.cache.stats.misses) == (1, 0)
    assert la.cache.resilience.stats.reply_errors == 1


async def test_with_the_breaker_reads_come_from_the_database_while_the_cache_is_down_and_return_after_half_open(cache_server, redis, db):
    keys = [f"k{i}" for i in range(40)]
    for k in keys:
        await db.put(k, k.encode())
    # Open long enough for the checks below to see it open on a loaded machine (the 60
    # failing reads before them took over 0.3 s once, under a parallel test run).
    cache = make_cache(redis, resilience=oliveyoung(wait_in_open=1.5, timeout=0.5))
    la = LookAside(cache, db)
    events = []
    cache.breaker.listeners.append(lambda ev: events.append((ev.previous, ev.current)))
    await asyncio.gather(*(la.read(k) for k in keys))
    assert cache.stats.misses == 40

    await cache_server.kill()
    # 60 reads fail over to the database; after 50 recorded calls the breaker opens.
    assert await asyncio.gather(*(la.read(k) for k in keys + keys[:20])) == [k.encode() for k in keys + keys[:20]]
    assert cache.breaker.state == OPEN
    rejected = cache.breaker.rejected
    reads_before = db.reads
    assert await la.read("k1") == b"k1"  # answered by the database at once, no cache call
    assert cache.breaker.rejected == rejected + 1 and db.reads == reads_before + 1

    await cache_server.restart()
    await asyncio.sleep(1.55)
    assert cache.breaker.state == HALF_OPEN
    # 30 reads = 30 probes (GETs: misses, the cache restarted empty); their fills find no permit left.
    await asyncio.gather(*(la.read(k) for k in keys[:30]))
    assert cache.breaker.state == CLOSED
    assert await la.read("k0") == b"k0"  # miss, and this time the fill goes through
    hits = cache.stats.hits
    assert await la.read("k0") == b"k0"
    assert cache.stats.hits == hits + 1
    assert events == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


async def test_an_invalidation_that_could_not_reach_a_stalled_cache_is_replayed_after_it_recovers(cache_server, db):
    proxy = await FaultProxy(cache_server.port).start()
    client = __import__("strategies").connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.2)
    try:
        await db.put("k", b"v1")
        la = LookAside(make_cache(client), db)
        assert await la.read("k") == b"v1"
        proxy.stall()
        await la.write("k", b"v2")  # committed; the tombstone times out
        assert "k" in la.cache.repairs
        proxy.resume()
        # Whatever the next successful cache call is, it triggers the replay.
        await asyncio.sleep(0.25)
        await la.cache.quiesce(timeout=5)
        assert la.cache.repairs == {} and la.cache.stats.repairs_done == 1
        assert await la.read("k") == b"v2"
    finally:
        await client.aclose()
        await proxy.stop()


async def test_ttls_carry_jitter_within_bounds(redis, db):
    cache = make_cache(redis, ttl=100.0, jitter=0.2)
    for i in range(30):
        await cache.fill(f"k{i}", Row(b"v", 1))
    pttls = [await redis.pttl(cache.key(f"k{i}")) for i in range(30)]
    assert all(79_000 <= p <= 120_000 for p in pttls)
    assert max(pttls) - min(pttls) > 5_000  # spread, not one expiry instant
