"""Set commands end to end, and the set machinery itself.

Replies are compared with real Redis in tests/differential/test_sets_diff.py; here are the
behaviours a byte comparison cannot show: SSCAN returns every member that stays present for
a whole iteration while others come and go (over TCP, and exhaustively on the data type),
random draws are uniform and stay within the set however it changed, SPOP drains a set
without repeats, the algebra commands scale, and encodings travel with COPY.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from server.datatypes.set import RSet, is_int64


def full_sscan(clients, key, **options) -> tuple[list[bytes], int]:
    cursor, found, steps = 0, [], 0
    while True:
        cursor, batch = clients[steps % len(clients)].sscan(key, cursor, **options)
        found += batch
        steps += 1
        if cursor == 0:
            return found, steps


# -- SSCAN -------------------------------------------------------------------------------------


def test_sscan_of_an_intset_returns_everything_sorted_in_one_step(r):
    r.sadd("s", *[str(i) for i in range(300, -300, -7)])
    cursor, batch = r.sscan("s", 0, count=1)
    assert cursor == 0
    assert batch == sorted(batch, key=int) and len(batch) == r.scard("s")


def test_sscan_count_shapes_the_steps_of_a_hash_table_set(r):
    r.sadd("s", *[f"m{i}" for i in range(2000)])
    cursor, batch = r.sscan("s", 0, count=5)
    assert cursor != 0 and 5 <= len(batch) < 40
    found, steps = full_sscan([r], "s", count=10)
    assert set(found) == {f"m{i}".encode() for i in range(2000)}
    assert 50 < steps < 2000
    cursor, batch = r.sscan("s", 0, count=5000)
    assert cursor == 0 and len(batch) == 2000


def test_sscan_guarantee_holds_while_members_come_and_go(shared_node, r):
    """Members present for the whole iteration are all returned, while others are added and
    removed between the steps -- enough to make the cursor table grow and shrink -- with
    the steps sent by two connections."""
    rng = random.Random(3)
    stable = {f"stable:{i}".encode() for i in range(2000)}
    r.sadd("s", *stable)
    churn = [f"churn:{i}".encode() for i in range(20000)]
    present = set(churn[:2000])
    r.sadd("s", *present)
    other = redis.Redis(port=shared_node.port)
    ever = stable | present
    cursor, seen, step = 0, [], 0
    while True:
        cursor, batch = (r, other)[step % 2].sscan("s", cursor, count=rng.choice([1, 10, 100]))
        seen += batch
        step += 1
        if cursor == 0:
            break
        if step % 30 < 15:
            new = churn[len(ever) - len(stable) : len(ever) - len(stable) + rng.randrange(0, 300)]
            if new:
                r.sadd("s", *new)
                present.update(new)
                ever.update(new)
        else:
            gone = rng.sample(sorted(present), min(len(present), rng.randrange(0, 300)))
            if gone:
                r.srem("s", *gone)
                present.difference_update(gone)
    other.close()
    assert stable <= set(seen)
    assert set(seen) <= ever


def test_sscan_match_filters_after_the_step(r):
    r.sadd("s", *[f"user:{i}" for i in range(300)], *[f"item:{i}" for i in range(300)])
    found, _ = full_sscan([r], "s", match="user:1*", count=20)
    assert set(found) == {f"user:{i}".encode() for i in range(300) if str(i).startswith("1")}
    # Steps are taken before filtering: some come back empty but the cursor moves on.
    cursor, batch = r.sscan("s", 0, match="nothing*", count=5)
    assert cursor != 0 and batch == []


def test_two_sscan_iterations_interleaved_both_complete(r):
    members = {f"m{i}".encode() for i in range(1500)}
    r.sadd("s", *members)
    c1, first = r.sscan("s", 0, count=50)
    second, _ = full_sscan([r], "s", count=200)  # ends an iteration in the middle of the first
    assert set(second) == members
    while c1 != 0:
        c1, batch = r.sscan("s", c1, count=50)
        first += batch
    assert set(first) == members


# -- random draws ------------------------------------------------------------------------------


@pytest.mark.parametrize("members", [[str(i) for i in range(10)], [f"m{i}" for i in range(10)]], ids=["intset", "hashtable"])
def test_srandmember_draws_uniformly(r, members):
    r.sadd("s", *members)
    draws = Counter(r.srandmember("s", -20000))
    assert set(draws) == {m.encode() for m in members}
    # Each member is expected 2000 times; 4 standard deviations is about +-170.
    assert all(1800 < n < 2200 for n in draws.values()), draws


def test_srandmember_of_a_big_set_draws_only_current_members_uniformly(r):
    r.sadd("s", *[f"m{i}" for i in range(3000)])
    r.srandmember("s", 5)  # draws from a big set build its index
    r.srem("s", *[f"m{i}" for i in range(0, 3000, 2)])
    r.sadd("s", *[f"n{i}" for i in range(500)])
    current = set(r.smembers("s"))
    draws = Counter(r.srandmember("s", -200000))
    assert set(draws) <= current and len(draws) > 0.99 * len(current)
    assert max(draws.values()) < 4 * 200000 / len(current)
    unique = r.srandmember("s", 1000)
    assert len(set(unique)) == 1000 and set(unique) <= current
    assert set(r.srandmember("s", 5000)) == current


def test_spop_drains_a_big_set_without_repeats(r):
    members = {f"m{i}".encode() for i in range(5000)}
    r.sadd("s", *members)
    popped = []
    rng = random.Random(5)
    while r.exists("s"):
        if rng.random() < 0.5:
            popped.append(r.spop("s"))
        else:
            popped += r.spop("s", rng.choice([1, 3, 50, 700]))
        assert r.scard("s") == len(members) - len(popped)
    assert len(popped) == len(set(popped)) == len(members)
    assert set(popped) == members


@pytest.mark.parametrize("count", [1, 10, 80, 95, 99, 100, 150])
def test_spop_count_leaves_the_rest(r, count):
    members = {str(i).encode() for i in range(100)}
    r.sadd("s", *members)
    popped = set(r.spop("s", count))
    assert len(popped) == min(count, 100)
    left = set(r.smembers("s"))
    assert popped | left == members and not popped & left
    assert r.object("encoding", "s") in (None, b"intset")


# -- algebra, encodings, types -------------------------------------------------------------------


def test_set_algebra_matches_python_sets_on_large_sets(r):
    rng = random.Random(11)
    a = {str(rng.randrange(400000)) for _ in range(100000)}
    b = {str(rng.randrange(400000)) for _ in range(100000)}
    c = {f"x{rng.randrange(1000)}" for _ in range(500)} | set(list(a)[:300])
    for key, members in (("a", a), ("b", b), ("c", c)):
        r.sadd(key, *members)
    enc = lambda s: {m.encode() for m in s}  # noqa: E731
    assert set(r.sinter("a", "b")) == enc(a & b)
    assert set(r.sinter("c", "a", "b")) == enc(c & a & b)
    assert r.sintercard(2, ["a", "b"]) == len(a & b)
    assert r.sintercard(2, ["a", "b"], limit=10) == 10
    assert set(r.sunion("a", "b", "c")) == enc(a | b | c)
    assert set(r.sdiff("a", "b", "c")) == enc(a - b - c)
    assert set(r.sdiff("c", "a")) == enc(c - a)
    assert r.sdiffstore("d", ["a", "b"]) == len(a - b)
    assert r.sunionstore("u", ["a", "c"]) == len(a | c)
    assert r.object("encoding", "u") == b"hashtable"
    assert r.smismember("a", ["nope", next(iter(a))]) == [0, 1]


def test_copy_keeps_the_encoding_and_is_independent(r):
    r.sadd("s", "1", "2", "x")
    r.srem("s", "x")
    assert r.copy("s", "t")
    assert r.object("encoding", "t") == b"hashtable"
    r.sadd("t", "3")
    assert r.smembers("s") == {b"1", b"2"} and r.smembers("t") == {b"1", b"2", b"3"}
    r.sadd("i", "1", "2")
    r.copy("i", "j")
    assert r.object("encoding", "j") == b"intset"


def test_type_and_scan_type_see_sets(r):
    r.sadd("s", "a")
    r.set("str", "x")
    assert r.type("s") == b"set"
    assert list(r.scan_iter(_type="set")) == [b"s"]


def test_intset_limit_follows_config(r):
    r.config_set("set-max-intset-entries", 3)
    try:
        r.sadd("s", "1", "2", "3")
        assert r.object("encoding", "s") == b"intset"
        r.sadd("s", "4")
        assert r.object("encoding", "s") == b"hashtable"
        r.config_set("set-max-intset-entries", 100)
        r.srem("s", "4")
        assert r.object("encoding", "s") == b"hashtable"  # one way
        r.sunionstore("t", ["s"])
        assert r.object("encoding", "t") == b"intset"  # a new set
    finally:
        r.config_set("set-max-intset-entries", 512)


def test_smembers_and_srandmember_shapes_in_resp3(r, shared_node):
    client = redis.Redis(port=shared_node.port, protocol=3)
    client.sadd("s", "1", "2", "3")
    assert client.smembers("s") == {b"1", b"2", b"3"}
    assert sorted(client.srandmember("s", 5)) == [b"1", b"2", b"3"]
    assert client.spop("nokey", 2) == []  # an empty RESP3 set, as redis-py reads it
    client.delete("s")
    client.close()


# -- the data type -----------------------------------------------------------------------------------

_MEMBERS = st.one_of(st.integers(-5, 3000).map(lambda i: b"%d" % i), st.binary(max_size=3))


@settings(max_examples=150, deadline=None)
@given(
    initial=st.sets(_MEMBERS, max_size=200),
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "scan", "draw"]), st.lists(_MEMBERS, max_size=30), st.integers(1, 30)),
        max_size=30,
    ),
)
def test_rset_cursor_and_draw_indexes_stay_right(initial, steps):
    """Exhaustive check on the data type: an SSCAN iteration returns every member present
    for its whole length and nothing that was not there during it, and random draws only
    ever give current members, whatever adds and removes happen between the steps."""
    s = RSet(initial, intset=False)  # walked as a hash table
    rng = random.Random(1)
    cursor, seen, stable, ever = 0, set(), set(), set()

    def step(count: int) -> None:
        nonlocal cursor, seen, stable, ever
        if cursor == 0:  # a new iteration
            seen, stable, ever = set(), set(s), set(s)
        cursor, batch = s.scan_step(cursor, count, count * 10)
        seen.update(batch)
        if cursor == 0:
            assert stable <= seen <= ever

    for op, members, n in steps:
        if op == "add":
            s.add_members(members, _Config)
            ever.update(members)
        elif op == "remove":
            s.remove_members(members)
            stable.difference_update(members)
        elif op == "draw" and s:
            assert s.random_member(rng) in s
            assert set(s.random_members(rng, n)) <= s
            if n < len(s):
                sample = s.random_sample(rng, n)
                assert len(set(sample)) == n and set(sample) <= s
        elif op == "scan":
            step(n)
    while cursor != 0:
        step(10)
    if s._picker is not None:
        assert sorted(s._picker.items) == sorted(s)
        assert all(s._picker.items[i] == m for m, i in s._picker.pos.items())


class _Config:
    values = {"set-max-intset-entries": 512}


@given(st.binary(max_size=22))
def test_intset_membership_is_redis_string2ll(text):
    expected = False
    try:
        value = int(text.decode("ascii"))
        expected = -(2**63) <= value < 2**63 and b"%d" % value == text
    except (UnicodeDecodeError, ValueError):
        pass
    assert is_int64(text) == expected
