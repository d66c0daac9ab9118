"""The database interface, on SQLite and on a throwaway PostgreSQL cluster."""

import asyncio

import pytest

from strategies import Metered, Row, SQLiteDatabase


async def test_a_missing_row_reads_as_none(database):
    assert await database.get("nope") is None


async def test_each_write_commits_the_next_version(database):
    assert await database.put("k", b"a") == 1
    assert await database.put("k", b"b") == 2
    assert await database.get("k") == Row(b"b", 2)


async def test_a_delete_keeps_the_row_and_bumps_its_version(database):
    await database.put("k", b"a")
    assert await database.put("k", None) == 2
    assert await database.get("k") == Row(None, 2)
    assert await database.put("k", b"again") == 3


async def test_a_batch_commits_in_one_transaction_and_a_repeated_key_keeps_its_last_value(database):
    await database.put("a", b"old")
    versions = await database.put_many([("a", b"1"), ("b", b"2"), ("a", b"3")])
    assert versions == [2, 1, 2]
    assert await database.get("a") == Row(b"3", 2)
    assert await database.get("b") == Row(b"2", 1)
    assert database.writes == 2 and database.rows_written == 4


async def test_concurrent_writers_to_one_row_get_distinct_versions(database):
    versions = await asyncio.gather(*(database.put("hot", b"%d" % i) for i in range(20)))
    assert sorted(versions) == list(range(1, 21))
    assert (await database.get("hot")).version == 20


async def test_binary_values_survive(database):
    value = bytes(range(256)) * 4
    await database.put("bin", value)
    assert (await database.get("bin")).value == value


async def test_metered_counts_queries_per_second_and_peak_concurrency(tmp_path):
    db = Metered(await SQLiteDatabase(str(tmp_path / "m.db")).open(), latency=0.02)
    await asyncio.gather(*(db.get(f"k{i}") for i in range(5)))
    await db.put("k", b"v")
    assert (db.reads, db.writes, db.queries) == (5, 1, 6)
    assert db.peak_in_flight == 5
    assert sum(db.per_second.values()) == 6
    await db.close()


def test_table_names_are_checked():
    with pytest.raises(ValueError):
        SQLiteDatabase(table="kv; DROP TABLE x")
