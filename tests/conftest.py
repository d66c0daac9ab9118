"""Shared fixtures. Every test talks to real servers over TCP:

- ``node``: a fresh Vermilion node (background thread, port 0) per test;
- ``shared_node`` / ``r``: one node for the module and a redis-py client on it, flushed
  before each test (cheap, for the many small command tests);
- ``redis_ref``: Debian's redis-server 7.0 (session-wide), for interop and differential tests;
- ``pair``: a differential pair (raw connections to both), with both datasets flushed;
- ``make_node``: start extra nodes with any config (closed at the end of the test).
"""

from __future__ import annotations

import contextlib

import pytest
import redis

from tests.support.differential import Pair
from tests.support.servers import real_redis, vermilion


@pytest.fixture
def node():
    with vermilion() as n:
        yield n


@pytest.fixture(scope="module")
def shared_node():
    with vermilion() as n:
        yield n


@pytest.fixture
def r(shared_node):
    client = redis.Redis(port=shared_node.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def make_node():
    stack = contextlib.ExitStack()

    def start(**config):
        return stack.enter_context(vermilion(**config))

    with stack:
        yield start


@pytest.fixture(scope="session")
def redis_ref():
    with real_redis() as rp:
        yield rp


@pytest.fixture(scope="module")
def diff_node():
    with vermilion() as n:
        yield n


@pytest.fixture
def pair(redis_ref, diff_node):
    p = Pair(redis_ref.port, diff_node.port)
    p.redis.call("FLUSHALL")
    p.ours.call("FLUSHALL")
    yield p
    p.close()
