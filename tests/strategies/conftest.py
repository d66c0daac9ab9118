"""Fixtures for the strategy tests: every contract runs against Vermilion and real Redis.

- ``cache_server``: a fresh cache server per test, parametrized over an in-process Vermilion
  node and Debian's redis-server; ``await cache_server.kill()`` / ``restart()`` are real faults.
- ``redis``: a strategies-style client on it (``strategies.connect``), closed after the test.
- ``db``: a fresh SQLite database (a file in the test's tmp dir), metered.
- ``pg_cluster``: a throwaway PostgreSQL cluster for the session (per xdist worker).
- ``database``: ``db``'s interface parametrized over SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid

import pytest

from strategies import Metered, PostgresDatabase, SQLiteDatabase
from tests.strategies.servers import PostgresCluster, make_cache_server


@pytest.fixture(params=["vermilion", "redis"])
async def cache_server(request):
    server = make_cache_server(request.param)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def redis(cache_server):
    client = cache_server.client()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def db(tmp_path):
    raw = await SQLiteDatabase(str(tmp_path / "kv.db")).open()
    metered = Metered(raw)
    try:
        yield metered
    finally:
        await metered.close()


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request, tmp_path):
    if request.param == "sqlite":
        raw = await SQLiteDatabase(str(tmp_path / "kv.db")).open()
    else:
        cluster = request.getfixturevalue("pg_cluster")
        raw = await PostgresDatabase(cluster.dsn, table="kv_" + uuid.uuid4().hex[:12]).open()
    metered = Metered(raw)
    try:
        yield metered
    finally:
        await metered.close()
