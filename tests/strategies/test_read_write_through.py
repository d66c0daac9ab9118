"""Read-through (the layer owns the loader), write-through (the cache follows committed rows,
never ahead) and write-around (writes skip the cache; it refills after the TTL)."""

import asyncio

import pytest

from strategies import ReadThrough, Row, WriteAround, WriteThrough
from strategies.entry import TOMBSTONE, VALUE
from tests.strategies.helpers import SlowLoader, make_cache, raw_entry

# -- read-through ------------------------------------------------------------------------------

async def test_callers_of_a_read_through_cache_never_touch_the_database_on_reads(redis, db):
    await db.put("k", b"v1")
    loader = SlowLoader(db)
    rt = ReadThrough(make_cache(redis), loader, db.put)
    assert not hasattr(rt, "db")
    assert [await rt.read("k") for _ in range(5)] == [b"v1"] * 5
    assert loader.calls == 1


async def test_read_through_writes_go_through_the_layers_writer_and_invalidate(redis, db):
    rt = ReadThrough(make_cache(redis), db.get, db.put)
    await rt.write("k", b"v1")
    assert (await raw_entry(redis, rt.cache, "k")).kind == TOMBSTONE
    assert await rt.read("k") == b"v1"


async def test_a_read_through_cache_without_a_writer_refuses_writes(redis, db):
    rt = ReadThrough(make_cache(redis), db.get)
    with pytest.raises(TypeError):
        await rt.write("k", b"v")


async def test_when_the_cache_is_down_the_read_through_layer_calls_its_loader_itself(cache_server, redis, db):
    await db.put("k", b"v1")
    loader = SlowLoader(db)
    rt = ReadThrough(make_cache(redis), loader)
    await cache_server.kill()
    assert await rt.read("k") == b"v1"
    assert loader.calls == 1 and rt.cache.stats.fallbacks == 1


# -- write-through ------------------------------------------------------------------------------

async def test_a_write_through_write_stores_the_committed_version_before_returning(redis, db):
    wt = WriteThrough(make_cache(redis), db)
    await wt.write("k", b"v1")
    await wt.write("k", b"v2")
    entry = await raw_entry(redis, wt.cache, "k")
    assert (entry.kind, entry.version, entry.value) == (VALUE, 2, b"v2")
    assert await wt.read("k") == b"v2"
    assert db.reads == 0


async def test_write_through_never_leaves_the_cache_ahead_of_the_database(redis, db):
    """Many concurrent writers and readers of one key; a sampler reads the cached version and
    then the committed one: the cache may lag, never lead."""
    wt = WriteThrough(make_cache(redis), db)
    await wt.write("k", b"0")
    done = asyncio.Event()
    samples = violations = 0

    async def sampler():
        nonlocal samples, violations
        while not done.is_set():
            entry = await raw_entry(redis, wt.cache, "k")
            committed = (await db.db.get("k")).version
            samples += 1
            if entry is not None and entry.kind == VALUE and entry.version > committed:
                violations += 1

    async def writer(n):
        for i in range(15):
            await wt.write("k", b"%d-%d" % (n, i))

    async def reader():
        for _ in range(30):
            await wt.read("k")

    watch = asyncio.ensure_future(sampler())
    await asyncio.gather(*(writer(n) for n in range(6)), *(reader() for _ in range(4)))
    done.set()
    await watch
    assert samples > 10 and violations == 0
    final = await db.db.get("k")
    assert final.version == 91
    assert (await raw_entry(redis, wt.cache, "k")).version == final.version  # and it caught up


async def test_cache_updates_landing_out_of_order_cannot_go_backwards(redis, db):
    cache = make_cache(redis)
    assert await cache.update("k", Row(b"new", 5))
    assert not await cache.update("k", Row(b"old", 4))
    assert (await raw_entry(redis, cache, "k")).value == b"new"


async def test_a_failed_commit_leaves_the_cache_untouched(redis, db):
    class Failing:
        async def put(self, key, value):
            raise RuntimeError("constraint violated")

        get = db.get

    wt = WriteThrough(make_cache(redis), Failing())
    with pytest.raises(RuntimeError):
        await wt.write("k", b"never committed")
    assert await redis.get(wt.cache.key("k")) is None


async def test_when_the_cache_is_unreachable_write_through_commits_and_defers_an_invalidation(cache_server, redis, db):
    wt = WriteThrough(make_cache(redis), db)
    await cache_server.kill()
    await wt.write("k", b"v1")
    assert (await db.db.get("k")) == Row(b"v1", 1)
    assert wt.cache.repairs["k"].version == 1


# -- write-around --------------------------------------------------------------------------------

async def test_write_around_writes_skip_the_cache_which_serves_the_old_value_until_its_ttl(redis, db):
    await db.put("k", b"v1")
    wa = WriteAround(make_cache(redis, ttl=0.3), db)
    assert await wa.read("k") == b"v1"
    await wa.write("k", b"v2")
    assert (await db.db.get("k")).value == b"v2"
    assert await wa.read("k") == b"v1"  # stale: the cache was not told
    await asyncio.sleep(0.35)
    assert await wa.read("k") == b"v2"  # refilled on the miss after the TTL
