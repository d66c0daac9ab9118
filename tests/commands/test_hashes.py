"""Hash commands end to end, and the hash data type.

Replies are compared with real Redis in tests/differential/test_hashes_diff.py; here are
the behaviours a byte comparison cannot show: HSCAN returns every field that stays present
for a whole iteration while others come and go, HRANDFIELD draws uniformly and keeps the
listpack order where Redis does, a listpack hash keeps insertion order through updates
and deletes, HINCRBYFLOAT computes in long double, and RESP3 clients get maps and pairs.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from server.datatypes.hash import RHash


def full_hscan(client, key, **options) -> tuple[dict, int]:
    cursor, found, steps = 0, {}, 0
    while True:
        cursor, batch = client.hscan(key, cursor, **options)
        found.update(batch)
        steps += 1
        if cursor == 0:
            return found, steps


# -- order and encoding ------------------------------------------------------------------------


def test_listpack_hash_keeps_insertion_order_through_updates_and_deletes(r):
    r.hset("h", mapping={"c": 1, "a": 2, "b": 3})
    r.hset("h", "a", 20)
    r.hdel("h", "c")
    r.hset("h", "c", 30)
    r.hincrby("h", "d", 4)
    assert r.hkeys("h") == [b"a", b"b", b"c", b"d"]
    assert r.hvals("h") == [b"20", b"3", b"30", b"4"]
    assert r.hscan("h", 0, count=1) == (0, {b"a": b"20", b"b": b"3", b"c": b"30", b"d": b"4"})
    assert r.object("encoding", "h") == b"listpack"


def test_hash_converts_for_good_at_the_configured_limits(r):
    r.config_set("hash-max-listpack-entries", 4)
    try:
        r.hset("h", mapping={f"f{i}": i for i in range(4)})
        assert r.object("encoding", "h") == b"listpack"
        r.hset("h", "f4", 4)
        assert r.object("encoding", "h") == b"hashtable"
        r.hdel("h", "f4", "f3", "f2")
        assert r.object("encoding", "h") == b"hashtable"
        assert r.copy("h", "h2") and r.object("encoding", "h2") == b"hashtable"
    finally:
        r.config_set("hash-max-listpack-entries", 512)
    r.hset("v", "f", "x" * 64)
    assert r.object("encoding", "v") == b"listpack"
    r.hset("v", "f", "x" * 65)
    assert r.object("encoding", "v") == b"hashtable"
    assert r.hget("v", "f") == b"x" * 65


def test_empty_hash_is_deleted(r):
    r.hset("h", "a", 1)
    r.expire("h", 100)
    assert r.hdel("h", "a", "b") == 1
    assert r.exists("h") == 0
    r.hset("h", "a", 1)
    assert r.ttl("h") == -1


# -- counters ------------------------------------------------------------------------------------


def test_hincrbyfloat_computes_in_long_double(r):
    r.hset("h", "f", "10.5")
    assert r.hincrbyfloat("h", "f", 0.1) == 10.6
    assert r.hget("h", "f") == b"10.6"
    r.hset("h", "g", 1)
    r.execute_command("HINCRBYFLOAT", "h", "g", "5.0e3")
    assert r.hget("h", "g") == b"5001"
    r.execute_command("HINCRBYFLOAT", "h", "n", "0.1")
    r.execute_command("HINCRBYFLOAT", "h", "n", "0.2")
    assert r.hget("h", "n") == b"0.3"  # 0.30000000000000004 in double precision


def test_hincrby_keeps_64_bit_bounds(r):
    assert r.hincrby("h", "f", 2**63 - 1) == 2**63 - 1
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.hincrby("h", "f", 1)
    assert r.hget("h", "f") == b"9223372036854775807"


# -- HRANDFIELD ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 700], ids=["listpack", "hashtable"])
def test_hrandfield_draws_uniformly(r, n):
    r.hset("h", mapping={f"f{i}": i for i in range(n)})
    draws = Counter(r.hrandfield("h", -200 * n))
    assert set(draws) == {f"f{i}".encode() for i in range(n)}
    assert all(120 < c < 280 for c in draws.values()), draws.most_common(3)


def test_hrandfield_unique_picks_keep_listpack_order(r):
    fields = [f"f{i:02d}".encode() for i in range(30)]
    r.hset("h", mapping={f: 1 for f in fields})
    for _ in range(50):
        picks = r.hrandfield("h", 9)
        assert len(set(picks)) == 9 and picks == sorted(picks)
    assert r.hrandfield("h", 30) == fields


def test_hrandfield_of_a_changing_big_hash_draws_current_fields(r):
    r.hset("h", mapping={f"f{i}": i for i in range(2000)})
    r.hrandfield("h", 3)
    r.hdel("h", *[f"f{i}" for i in range(0, 2000, 3)])
    r.hset("h", mapping={f"g{i}": i for i in range(300)})
    current = set(r.hkeys("h"))
    draws = set(r.hrandfield("h", -50000))
    assert draws <= current and len(draws) > 0.99 * len(current)
    pairs = r.hrandfield("h", 100, withvalues=True)
    assert len(pairs) == 200
    assert all(r.hget("h", f) == v for f, v in zip(pairs[::2], pairs[1::2]))


# -- HSCAN ---------------------------------------------------------------------------------------


def test_hscan_count_counts_fields_and_values(r):
    r.hset("h", mapping={f"f{i}": i for i in range(3000)})
    cursor, batch = r.hscan("h", 0, count=20)
    assert cursor != 0 and 10 <= len(batch) < 60
    found, steps = full_hscan(r, "h", count=100)
    assert found == {f"f{i}".encode(): b"%d" % i for i in range(3000)}
    assert 20 < steps < 300


def test_hscan_guarantee_holds_while_fields_come_and_go(r):
    rng = random.Random(9)
    stable = {f"s{i}".encode() for i in range(1500)}
    r.hset("h", mapping={f: 1 for f in stable})
    extra = [f"x{i}".encode() for i in range(10000)]
    used = 0
    present: set[bytes] = set()
    ever = set(stable)
    cursor, seen, step = 0, set(), 0
    while True:
        cursor, batch = r.hscan("h", cursor, count=rng.choice([2, 20, 200]))
        seen.update(batch)
        step += 1
        if cursor == 0:
            break
        if step % 20 < 10:
            new = extra[used : used + rng.randrange(0, 300)]
            used += len(new)
            if new:
                r.hset("h", mapping={f: 2 for f in new})
                present.update(new)
                ever.update(new)
        elif present:
            gone = rng.sample(sorted(present), min(len(present), rng.randrange(0, 300)))
            if gone:
                r.hdel("h", *gone)
                present.difference_update(gone)
    assert stable <= seen <= ever


# -- RESP3 -----------------------------------------------------------------------------------------


def test_resp3_clients_get_maps_and_pairs(r, shared_node):
    client = redis.Redis(port=shared_node.port, protocol=3)
    try:
        client.hset("h", mapping={"a": 1, "b": 2})
        assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert client.hgetall("nokey") == {}
        assert sorted(client.hrandfield("h", 5, withvalues=True)) == [[b"a", b"1"], [b"b", b"2"]]
        assert client.hmget("h", "a", "zz") == [b"1", None]
    finally:
        client.delete("h")
        client.close()


# -- the data type ---------------------------------------------------------------------------------

_FIELDS = st.binary(max_size=3)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["set", "del", "incr"]), st.lists(_FIELDS, min_size=1, max_size=20)), max_size=30))
def test_rhash_listpack_flag_and_order(steps):
    """The listpack flag turns off exactly when Redis's rules say (more than 4 fields, or a
    field or value over 2 bytes here) and never back; the order is insertion order."""
    h = RHash()
    order: list[bytes] = []
    converted = False
    for op, fields in steps:
        if op == "set":
            args = [b"HSET", b"k"] + [x for f in fields for x in (f, f)]
            h.set_pairs(args, 2, 4, 2)
            converted = converted or any(len(f) > 2 for f in fields)
            order += [f for f in dict.fromkeys(fields) if f not in order]
        elif op == "incr":
            h.set_field(fields[0], b"123", 4, 2)
            converted = True  # the value is 3 bytes
            if fields[0] not in order:
                order.append(fields[0])
        else:
            h.delete_fields(fields)
            order = [f for f in order if f not in fields]
        converted = converted or len(order) > 4
        assert h.listpack == (not converted)
        assert list(h) == order
