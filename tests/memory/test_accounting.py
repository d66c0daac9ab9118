"""used_memory against the process's real memory, and the incremental accounts against a
recount.

Stated tolerances (the model is described in server/memory.py):

* growth of ``used_memory`` is within 3% of the growth of the allocator's in-use bytes
  (``allocator_allocated``: pymalloc's allocated blocks + malloc's in-use chunks), for every
  value type while tracked (maxmemory set), and for a uniform dataset when not (untracked,
  the dataset is extrapolated from its oldest and newest keys);
* it is within 10% of the growth of RSS while a million keys are loaded;
* after the million keys are deleted, ``used_memory`` is back within 1 MB of where it
  started, as are the allocator's in-use bytes, and RSS has given back at least half of
  what it grew (the rest is pymalloc arenas kept alive by a few live objects: fragmentation,
  which ``mem_fragmentation_ratio`` shows).
"""

from __future__ import annotations

import asyncio
import random

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.memory import Account, churn_bytes, dict_bytes, key_cost
from tests.support.resp import RawClient
from tests.support.waiting import wait_for

from .conftest import memory

MILLION = 1_000_000
MB = 1 << 20
TRACKED = ("--maxmemory", "64gb", "--maxmemory-policy", "allkeys-lru")


def delete_all(client: redis.Redis, prefix: str, n: int, per_command: int = 1000) -> None:
    pipe = client.pipeline(transaction=False)
    for start in range(0, n, per_command):
        pipe.delete(*[f"{prefix}:{i}" for i in range(start, min(n, start + per_command))])
        if len(pipe) >= 100:
            pipe.execute()
    pipe.execute()


@pytest.mark.parametrize("args", [(), TRACKED], ids=["untracked", "tracked"])
def test_used_memory_follows_allocator_and_rss_through_a_million_keys(server_process, args):
    client = server_process(*args)
    m0 = memory(client)
    client.execute_command("DEBUG", "POPULATE", MILLION)
    m1 = memory(client)
    used, alloc, rss = (m1[f] - m0[f] for f in ("used_memory", "allocator_allocated", "used_memory_rss"))
    assert used > 100 * MB  # a million small keys is well over 100 bytes each in Python
    assert abs(used - alloc) <= 0.03 * alloc, (used, alloc)
    assert abs(used - rss) <= 0.10 * rss, (used, rss)
    assert m1["used_memory_peak"] >= m1["used_memory"]

    delete_all(client, "key", MILLION)
    assert client.dbsize() == 0
    # The cron shrinks the emptied dicts (Python never does on deletion).
    m2 = wait_for(lambda: (m := memory(client))["used_memory"] < m0["used_memory"] + MB and m, what="tables shrunk")
    assert abs(m2["allocator_allocated"] - m0["allocator_allocated"]) < MB + 0.01 * alloc
    assert m2["used_memory_rss"] - m0["used_memory_rss"] <= 0.5 * rss
    assert m2["used_memory_peak"] >= m1["used_memory"]
    assert m2["mem_fragmentation_ratio"] == pytest.approx(m2["used_memory_rss"] / m2["used_memory"], abs=0.01)


def _load_shapes(client: redis.Redis) -> dict:
    """Each value type, small and big, loaded under its own prefix."""
    rng = random.Random(7)
    shapes = {
        "strings-100B": lambda p, i: p.set(f"s:{i}", "v" * 100),
        "strings-ttl": lambda p, i: p.set(f"t:{i}", "v" * 10, ex=10_000),
        "strings-1KB": lambda p, i: p.set(f"k:{i}", "x" * 1000),
        "hashes": lambda p, i: p.hset(f"h:{i}", mapping={f"f{j}": f"value{j}" for j in range(50)}),
        "lists": lambda p, i: p.rpush(f"l:{i}", *[f"value{j}" for j in range(50)]),
        "sets": lambda p, i: p.sadd(f"e:{i}", *[f"member{j}" for j in range(50)]),
        "intsets": lambda p, i: p.sadd(f"n:{i}", *range(50)),
        "zsets": lambda p, i: p.zadd(f"z:{i}", {f"member{j}": j * 1.5 for j in range(50)}),
        "big-hash": lambda p, i: p.hset("bh", mapping={f"field:{i}:{j}": f"v{j}" for j in range(100)}),
        "big-list": lambda p, i: p.lpush("bl", *[f"value:{i}:{j}" for j in range(100)]),
        "big-zset": lambda p, i: p.zadd("bz", {f"m:{i}:{j}": rng.random() for j in range(100)}),
        # Four APPENDs per key: a bytes value, then a bytearray that grows in place.
        "appended": lambda p, i: p.append(f"a:{i % 5000}", "y" * 37),
    }
    counts = {"strings-100B": 50_000, "strings-ttl": 50_000, "strings-1KB": 10_000, "appended": 20_000}
    growth = {}
    for name, write in shapes.items():
        before = memory(client)
        pipe = client.pipeline(transaction=False)
        for i in range(counts.get(name, 2000)):
            write(pipe, i)
            if len(pipe) >= 200:
                pipe.execute()
        pipe.execute()
        after = memory(client)
        growth[name] = (after["used_memory"] - before["used_memory"], after["allocator_allocated"] - before["allocator_allocated"])
    return growth


def test_every_value_type_is_costed_as_the_allocator_measures_it(server_process):
    client = server_process(*TRACKED)
    for name, (used, alloc) in _load_shapes(client).items():
        assert alloc > 0, name
        assert abs(used - alloc) <= 0.03 * alloc + 16 * 1024, (name, used, alloc)


def test_info_memory_lists_redis_fields_in_redis_order(node, redis_ref):
    ours = RawClient(node.port).call("INFO", "memory").decode().split("\r\n")
    theirs = RawClient(redis_ref.port).call("INFO", "memory").decode().split("\r\n")
    names = lambda lines: [line.split(":")[0] for line in lines[1:] if ":" in line]  # noqa: E731
    assert names(ours) == names(theirs)


def test_info_memory_reports_maxmemory_and_human_figures(make_node):
    n = make_node()
    r = redis.Redis(port=n.port)
    r.config_set("maxmemory", "300mb")
    r.config_set("maxmemory-policy", "volatile-ttl")
    m = r.info("memory")
    assert m["maxmemory"] == 300 * MB
    assert m["maxmemory_human"] == "300.00M"
    assert m["maxmemory_policy"] == "volatile-ttl"
    assert m["used_memory_human"] == "%.2fM" % (m["used_memory"] / MB)
    assert m["used_memory_peak"] >= m["used_memory"]
    assert m["used_memory_dataset"] + m["used_memory_overhead"] == m["used_memory"]
    assert m["used_memory_startup"] <= m["used_memory_overhead"]
    # maxmemory is compared with used_memory - mem_not_counted_for_evict (see server/memory.py).
    assert isinstance(m["mem_not_counted_for_evict"], int)


def test_emptied_dicts_are_shrunk_by_the_cron(make_node):
    n = make_node()
    r = redis.Redis(port=n.port)
    startup = r.info("memory")["used_memory_startup"]  # in-process: the whole test heap
    r.execute_command("DEBUG", "POPULATE", 150_000)
    full = r.info("memory")["used_memory"] - startup
    delete_all(r, "key", 149_000)
    low = wait_for(lambda: (u := r.info("memory")["used_memory"] - startup) < 2 * MB and u, what="shrink")
    # What is left above startup: 1000 keys in right-sized tables, not 150,000 keys' tables.
    assert low < full / 50, (low, full)
    assert r.dbsize() == 1000


def test_dict_bytes_matches_getsizeof_and_churn_sizes_follow_python():
    import sys

    d = {}
    for i in range(100_000):
        d[b"k%d" % i] = i
    assert sys.getsizeof(d) == dict_bytes(1 << 18) == dict_bytes(262144)
    # Churn: delete and insert one key at a time until Python resizes the table.
    n = len(d)
    i = n
    size = sys.getsizeof(d)
    while sys.getsizeof(d) == size:
        del d[b"k%d" % (i - n)]
        d[b"k%d" % i] = i
        i += 1
    assert sys.getsizeof(d) == churn_bytes(len(d))


# -- incremental accounts == a recount ---------------------------------------------------------


def on_node(node, fn):
    """Run ``fn()`` on the node's event loop (its own thread) and return its result."""

    async def call():
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), node.loop).result(10)


def recount_mismatches(node) -> list:
    """Each database's running account against a fresh count (run on the node's thread)."""
    mem = node.memory
    bad = []
    mem.for_eviction()  # settles what is pending
    for db, account in zip(node.dbs, mem.accounts):
        fresh = Account(db.id, set())
        fresh.recount(db)
        if (account.bytes, account.keys) != (fresh.bytes, fresh.keys) or account.data is not db.data:
            bad.append((db.id, account.bytes, fresh.bytes, account.keys, fresh.keys))
        # The key objects the account holds besides the keyspace's own (``Account.dups``).
        own = {id(k) for k in db.data}
        copies = sum(key_cost(k) for k in account.mutable if id(k) not in own)
        if copies != account.dups:
            bad.append((db.id, "key copies", account.dups, copies))
    running = mem.total
    mem.marks.update(range(len(node.dbs)))
    for account in mem.accounts:
        account.counted = 0
    mem.total = 0
    mem.for_eviction()
    if mem.total != running:
        bad.append(("total", running, mem.total))
    return bad


KEYS = st.sampled_from([b"a", b"b", b"c", b"list", b"hash", b"set", b"zset"])
VALUES = st.binary(min_size=0, max_size=40)
COMMANDS = st.one_of(
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("SET"), KEYS, VALUES, st.just("EX"), st.integers(1, 10_000)),
    st.tuples(st.just("APPEND"), KEYS, VALUES),
    st.tuples(st.just("SETRANGE"), KEYS, st.integers(0, 60), VALUES),
    st.tuples(st.just("INCR"), KEYS),
    st.tuples(st.just("DEL"), KEYS),
    st.tuples(st.just("EXPIRE"), KEYS, st.integers(1, 1000)),
    st.tuples(st.just("PERSIST"), KEYS),
    st.tuples(st.just("LPUSH"), KEYS, VALUES, VALUES),
    st.tuples(st.just("RPOP"), KEYS),
    st.tuples(st.just("HSET"), KEYS, VALUES, VALUES),
    st.tuples(st.just("HDEL"), KEYS, VALUES),
    st.tuples(st.just("SADD"), KEYS, VALUES, VALUES),
    st.tuples(st.just("SPOP"), KEYS),
    st.tuples(st.just("ZADD"), KEYS, st.integers(-5, 5), VALUES),
    st.tuples(st.just("ZREM"), KEYS, VALUES),
    st.tuples(st.just("RENAME"), KEYS, KEYS),
    st.tuples(st.just("COPY"), KEYS, KEYS, st.just("REPLACE")),
    st.tuples(st.just("MOVE"), KEYS, st.just("1")),
    st.tuples(st.just("SWAPDB"), st.just("0"), st.just("1")),
    st.tuples(st.just("SELECT"), st.sampled_from(["0", "1"])),
    st.tuples(st.just("FLUSHDB")),
    st.tuples(st.just("SETBIT"), KEYS, st.integers(0, 500), st.just("1")),
    st.tuples(st.just("PFADD"), KEYS, VALUES),
)


@pytest.fixture(scope="module")
def tracked_node():
    from tests.support.servers import vermilion

    with vermilion(maxmemory="64gb", maxmemory_policy="allkeys-lfu") as n:
        yield n


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMMANDS, min_size=1, max_size=40))
def test_tracked_accounts_equal_a_recount_after_any_writes(tracked_node, commands):
    with RawClient(tracked_node.port) as c:
        c.call("FLUSHALL")
        for cmd in commands:
            c.call(*cmd)
        assert on_node(tracked_node, lambda: recount_mismatches(tracked_node)) == []


def test_accounts_follow_a_reload_that_replaces_the_dicts(make_node, tmp_path):
    n = make_node(maxmemory="64gb", dir=str(tmp_path))
    r = redis.Redis(port=n.port)
    r.execute_command("DEBUG", "POPULATE", 20_000)
    r.hset("h", mapping={f"f{i}": i for i in range(300)})
    before = r.info("memory")["used_memory_dataset"]
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert r.dbsize() == 20_001
    after = r.info("memory")["used_memory_dataset"]
    assert after == pytest.approx(before, rel=0.03)
    assert on_node(n, lambda: recount_mismatches(n)) == []
