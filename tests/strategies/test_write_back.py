"""Write-back: acknowledged from the cache, coalesced, flushed in batches; a cache crash loses
exactly the unflushed writes and the library reports them; degraded writes go to the DB."""

import asyncio

from strategies import WriteBack, connect
from strategies.entry import DIRTY, VALUE
from strategies.lab.faults import FaultProxy
from tests.strategies.helpers import make_cache, raw_entry, retrying


async def started(redis, db, **kwargs) -> WriteBack:
    kwargs.setdefault("flusher", False)
    return await WriteBack(make_cache(redis, resilience=retrying()), db, **kwargs).start()


async def test_a_write_is_acknowledged_from_the_cache_and_reaches_the_database_at_the_flush(redis, db):
    wb = await started(redis, db)
    await wb.write("k", b"v1")
    assert await db.db.get("k") is None and db.writes == 0
    assert await wb.read("k") == b"v1" and db.reads == 0  # the dirty value is served
    assert (await raw_entry(redis, wb.cache, "k")).kind == DIRTY
    assert await redis.pttl(wb.cache.key("k")) == -1  # dirty values do not expire
    assert await wb.flush_once() == 1
    assert (await db.db.get("k")).value == b"v1"
    entry = await raw_entry(redis, wb.cache, "k")
    assert (entry.kind, entry.version) == (VALUE, 1)
    assert await redis.pttl(wb.cache.key("k")) > 0
    assert wb.unflushed() == {}


async def test_repeated_writes_to_one_key_are_coalesced_into_one_row_write(redis, db):
    wb = await started(redis, db)
    for i in range(10):
        await wb.write("k", b"v%d" % i)
    assert wb.stats.coalesced == 9
    await wb.flush_all()
    assert db.rows_written == 1
    assert (await db.db.get("k")).value == b"v9"


async def test_a_flush_takes_at_most_batch_size_keys_oldest_first(redis, db):
    wb = await started(redis, db, batch_size=3)
    for i in range(7):
        await wb.write(f"k{i}", b"v")
    assert await wb.flush_once() == 3
    assert [k for k in ("k0", "k1", "k2", "k3") if await db.db.get(k)] == ["k0", "k1", "k2"]
    await wb.flush_all()
    assert db.writes == 3 and db.rows_written == 7


async def test_fills_never_replace_an_unflushed_write(redis, db):
    await db.put("k", b"old")
    wb = await started(redis, db)
    await wb.write("k", b"new")
    assert not await wb.cache.fill("k", await db.db.get("k"))
    assert await wb.read("k") == b"new"


async def test_a_write_that_lands_during_a_flush_is_kept_and_flushed_next_time(redis, db):
    wb = await started(redis, db)
    await wb.write("k", b"first")
    gate = asyncio.Event()
    real = db.put_many

    async def held(items):
        await gate.wait()
        return await real(items)

    db.put_many = held
    flushing = asyncio.ensure_future(wb.flush_once())
    await asyncio.sleep(0.05)
    await wb.write("k", b"second")
    gate.set()
    await flushing
    db.put_many = real
    assert (await db.db.get("k")).value == b"first"
    assert (await raw_entry(redis, wb.cache, "k")).value == b"second"  # still dirty, requeued
    await wb.flush_all()
    assert (await db.db.get("k")).value == b"second"
    assert wb.unflushed() == {}


async def test_the_flusher_runs_every_interval_and_early_when_a_batch_is_full(redis, db):
    wb = await started(redis, db, flusher=True, flush_interval=0.1, batch_size=1000)
    try:
        await wb.write("k", b"v")
        await asyncio.sleep(0.3)
        assert (await db.db.get("k")).value == b"v"
        wb.flush_interval = 30.0
        await asyncio.sleep(0.15)  # the flusher is now asleep for 30 s...
        wb.batch_size = 5
        for i in range(5):
            await wb.write(f"b{i}", b"v")  # ...until a full batch wakes it
        await asyncio.sleep(0.2)
        assert all([await db.db.get(f"b{i}") for i in range(5)])
    finally:
        await wb.close()


async def test_killing_the_cache_loses_exactly_the_unflushed_writes_and_the_library_reports_them(cache_server, redis, db):
    wb = await started(redis, db)
    for i in range(5):
        await wb.write(f"flushed{i}", b"safe")
    await wb.flush_all()
    for i in range(4):
        await wb.write(f"pending{i}", b"doomed")
    await wb.write("pending0", b"doomed again")  # coalesced: still one pending write
    expected = wb.unflushed()
    assert sorted(expected) == ["pending0", "pending1", "pending2", "pending3"]

    await cache_server.kill()
    await cache_server.restart()
    await asyncio.sleep(0.05)
    await wb.flush_all()
    assert wb.stats.cache_resets == 1
    assert sorted(wb.lost) == sorted(expected.items())
    assert wb.stats.lost == 4 and wb.unflushed() == {}
    for i in range(5):
        assert (await db.db.get(f"flushed{i}")).value == b"safe"
    for i in range(4):
        assert await db.db.get(f"pending{i}") is None
    await wb.write("after", b"fine")  # and it goes on working
    await wb.flush_all()
    assert (await db.db.get("after")).value == b"fine" and wb.stats.lost == 4


async def test_after_a_clean_flush_killing_the_cache_loses_nothing(cache_server, redis, db):
    wb = await started(redis, db)
    for i in range(20):
        await wb.write(f"k{i % 7}", b"v%d" % i)
    await wb.flush_all()
    assert wb.unflushed() == {}
    await cache_server.kill()
    await cache_server.restart()
    await asyncio.sleep(0.05)
    await wb.flush_all()
    assert wb.stats.lost == 0 and list(wb.lost) == []
    assert all([await db.db.get(f"k{i}") for i in range(7)])


async def test_while_the_cache_is_down_write_back_writes_go_to_the_database(cache_server, redis, db):
    wb = await started(redis, db)
    await cache_server.kill()
    await wb.write("k", b"direct")
    assert (await db.db.get("k")).value == b"direct"
    assert wb.stats.degraded_writes == 1 and wb.unflushed() == {}
    assert await wb.read("k") == b"direct"


async def test_a_direct_write_made_while_the_cache_was_stalled_is_not_undone_by_an_older_queued_write(cache_server, db):
    proxy = await FaultProxy(cache_server.port).start()
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.2)
    try:
        wb = await started(client, db)
        await wb.write("k", b"queued, older")
        proxy.stall()
        await wb.write("k", b"direct, newer")  # times out -> straight to the database
        assert wb.stats.degraded_writes == 1
        proxy.resume()
        await asyncio.sleep(0.25)
        await wb.flush_all()
        assert (await db.db.get("k")).value == b"direct, newer"
        assert await wb.read("k") == b"direct, newer"
        assert wb.stats.lost == 0
    finally:
        await client.aclose()
        await proxy.stop()


async def test_deletes_go_to_the_database_and_discard_queued_writes_of_the_key(redis, db):
    wb = await started(redis, db)
    await wb.write("k", b"v1")
    await wb.write("k", None)
    assert (await db.db.get("k")).value is None
    await wb.flush_all()
    assert (await db.db.get("k")).value is None and db.rows_written == 1
    assert await wb.read("k") is None


async def test_write_back_flushes_to_either_database(redis, database):
    wb = await started(redis, database, batch_size=10)
    for i in range(25):
        await wb.write(f"k{i}", b"v%d" % i)
    await wb.flush_all()
    assert database.writes == 3 and database.rows_written == 25
    assert (await database.db.get("k24")).value == b"v24"


async def test_close_stops_the_flusher_even_when_its_cancel_is_swallowed(redis, db):
    """Python 3.11's asyncio.wait_for drops a cancel that arrives in the step its inner future
    completes (redis-py sends commands through one): close() must stop the flusher anyway.
    Here the database call is the one that swallows it."""
    wb = await started(redis, db, flusher=True, flush_interval=0.05)
    flushing = asyncio.Event()
    real = db.put_many

    async def swallowing(items):
        flushing.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # what wait_for does when its future finished in the same step as the cancel
        return await real(items)

    db.put_many = swallowing
    await wb.write("k", b"v")
    async with asyncio.timeout(5):
        await flushing.wait()
    async with asyncio.timeout(5):
        await wb.close()
    assert (await db.db.get("k")).value == b"v"  # the flush it was in went through
