"""The system of record: a key/value table with a version column, on SQLite or PostgreSQL.

Design note
-----------
The strategies need four things from a database, and ``Database`` is exactly that:

``get(key)``           the row (value, version) or None;
``put(key, value)``    upsert in one statement; the version column goes up by one per write
                       (1 for a new row) and the committed version is returned. A value of
                       None deletes softly (the row stays, value NULL, version bumped), so
                       versions never go backwards for a key;
``put_many(items)``    the same for a batch, in one transaction (write-back flushes); a key
                       given twice keeps its last value;
``close()``.

The version is what makes cache writes safe (``entry.py``) and what lets the lab detect stale
reads. ``SQLiteDatabase`` (standard library) runs its one connection on one worker thread;
``PostgresDatabase`` uses asyncpg with a small pool. ``Metered`` wraps either one: it counts
queries, per second too, tracks the peak of concurrent queries, and can add a simulated
latency (outside the database's lock, so slow queries overlap as they would on a server).
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Protocol

from .entry import Row

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Database(Protocol):
    async def get(self, key: str) -> Row | None: ...

    async def put(self, key: str, value: bytes | None) -> int: ...

    async def put_many(self, items: list[tuple[str, bytes | None]]) -> list[int]: ...

    async def close(self) -> None: ...


def _check_table(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError(f"bad table name {table!r}")
    return table


def _last_wins(items: Iterable[tuple[str, bytes | None]]) -> dict[str, bytes | None]:
    return dict(items)


class SQLiteDatabase:
    """SQLite through the standard library, one connection on one worker thread."""

    def __init__(self, path: str = ":memory:", table: str = "kv"):
        self.path = path
        self.table = _check_table(table)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        t = self.table
        self._get_sql = f"SELECT value, version FROM {t} WHERE key = ?"
        self._put_sql = (
            f"INSERT INTO {t} (key, value, version) VALUES (?, ?, 1) "
            f"ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = {t}.version + 1 "
            f"RETURNING version"
        )

    async def open(self) -> SQLiteDatabase:
        await self._run(self._open)
        return self

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} "
            "(key TEXT PRIMARY KEY, value BLOB, version INTEGER NOT NULL)"
        )
        self._conn = conn

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _get(self, key: str) -> Row | None:
        found = self._conn.execute(self._get_sql, (key,)).fetchone()
        return Row(found[0], found[1]) if found else None

    def _put_many(self, items: list[tuple[str, bytes | None]]) -> list[int]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            versions = [conn.execute(self._put_sql, (k, v)).fetchone()[0] for k, v in items]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return versions

    async def get(self, key: str) -> Row | None:
        return await self._run(self._get, key)

    async def put(self, key: str, value: bytes | None) -> int:
        return (await self._run(self._put_many, [(key, value)]))[0]

    async def put_many(self, items: list[tuple[str, bytes | None]]) -> list[int]:
        unique = _last_wins(items)
        versions = dict(zip(unique, await self._run(self._put_many, list(unique.items()))))
        return [versions[k] for k, _ in items]

    async def load(self, rows: Iterable[tuple[str, bytes | None]]) -> None:
        """Bulk-insert initial rows (version 1); for seeding a lab run or a test."""
        def go(rows):
            self._conn.execute("BEGIN")
            self._conn.executemany(
                f"INSERT OR REPLACE INTO {self.table} (key, value, version) VALUES (?, ?, 1)", rows
            )
            self._conn.execute("COMMIT")
        await self._run(go, list(rows))

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)


class PostgresDatabase:
    """PostgreSQL through asyncpg (``dsn`` like ``postgresql://user@127.0.0.1:5432/db``)."""

    def __init__(self, dsn: str, table: str = "kv", pool_size: int = 10):
        self.dsn = dsn
        self.table = _check_table(table)
        self.pool_size = pool_size
        self._pool = None
        t = self.table
        self._get_sql = f"SELECT value, version FROM {t} WHERE key = $1"
        self._put_sql = (
            f"INSERT INTO {t} (key, value, version) VALUES ($1, $2, 1) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = {t}.version + 1 "
            f"RETURNING version"
        )
        self._put_many_sql = (
            f"INSERT INTO {t} (key, value, version) "
            f"SELECT k, v, 1 FROM unnest($1::text[], $2::bytea[]) AS u(k, v) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = {t}.version + 1 "
            f"RETURNING key, version"
        )

    async def open(self) -> PostgresDatabase:
        import asyncpg  # optional dependency: pip install 'vermilion[postgres]'

        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.pool_size)
        await self._pool.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} "
            "(key text PRIMARY KEY, value bytea, version bigint NOT NULL)"
        )
        return self

    async def get(self, key: str) -> Row | None:
        found = await self._pool.fetchrow(self._get_sql, key)
        return Row(found[0], found[1]) if found else None

    async def put(self, key: str, value: bytes | None) -> int:
        return await self._pool.fetchval(self._put_sql, key, value)

    async def put_many(self, items: list[tuple[str, bytes | None]]) -> list[int]:
        unique = _last_wins(items)
        found = await self._pool.fetch(self._put_many_sql, list(unique), list(unique.values()))
        versions = {r[0]: r[1] for r in found}
        return [versions[k] for k, _ in items]

    async def load(self, rows: Iterable[tuple[str, bytes | None]]) -> None:
        rows = list(rows)
        await self._pool.execute(
            f"INSERT INTO {self.table} (key, value, version) "
            f"SELECT k, v, 1 FROM unnest($1::text[], $2::bytea[]) AS u(k, v) "
            f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = 1",
            [k for k, _ in rows],
            [v for _, v in rows],
        )

    async def truncate(self) -> None:
        await self._pool.execute(f"TRUNCATE {self.table}")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class Metered:
    """Counts the queries that reach a database and optionally slows them down.

    ``latency`` (seconds) is added to every query, times U(1 - jitter, 1 + jitter).
    ``reads`` / ``writes`` count queries (a ``put_many`` is one write query of many rows);
    ``per_second[s]`` counts queries started in second ``s`` since ``started``;
    ``peak_in_flight`` is the largest number of queries running at once.
    """

    def __init__(self, db: Database, latency: float = 0.0, jitter: float = 0.0,
                 rng: random.Random | None = None, clock=time.monotonic):
        self.db = db
        self.latency = latency
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.reads = self.writes = self.rows_written = 0
        self.in_flight = self.peak_in_flight = 0
        self.per_second: dict[int, int] = {}
        self.started = self.clock()

    @property
    def queries(self) -> int:
        return self.reads + self.writes

    async def _metered(self, coro_fn, *args):
        second = int(self.clock() - self.started)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                j = self.jitter
                await asyncio.sleep(self.latency * (self.rng.uniform(1 - j, 1 + j) if j else 1.0))
            return await coro_fn(*args)
        finally:
            self.in_flight -= 1

    async def get(self, key: str) -> Row | None:
        self.reads += 1
        return await self._metered(self.db.get, key)

    async def put(self, key: str, value: bytes | None) -> int:
        self.writes += 1
        self.rows_written += 1
        return await self._metered(self.db.put, key, value)

    async def put_many(self, items: list[tuple[str, bytes | None]]) -> list[int]:
        self.writes += 1
        self.rows_written += len(items)
        return await self._metered(self.db.put_many, items)

    async def close(self) -> None:
        await self.db.close()
