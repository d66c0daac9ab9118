"""Set commands against real Redis 7.0.15: reply bytes for every command, option and error
in both protocols; OBJECT ENCODING through intset/hashtable transitions; the shapes of the
random replies (SRANDMEMBER, SPOP); SSCAN iterations; propagated commands and keyspace
events; and hypothesis-generated command sequences.

A hash-table set lists its members in an order that depends on Redis's random seed, so
replies that walk one are compared sorted (``Sorted``); an intset walks in numeric order,
which is compared exactly (the reply cases below build intsets on purpose). Random picks
are compared by their shape: reply type, length, uniqueness, membership, and the whole
set (sorted) when the count covers it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import S, _cmd, _one_of, check_all, check_lookup_stats, decode, full_scan, fuzz, resp3, same_stream
from tests.support.differential import Pair, sorted_reply


INTS = ("SADD", "i", "3", "1", "2", "-5", "10")
MIXED = ("SADD", "m", "a", "1", "b", "2")

CASES = {
    "sadd": [
        ("SADD", "s", "a"), ("SADD", "s", "a", "b", "b", "c"), ("SCARD", "s"), S("SMEMBERS", "s"),
        ("SADD", "e", ""), ("SADD", "e", b"\x00\r\n", b"\xff"), S("SMEMBERS", "e"), ("SADD", "s"),
        ("SET", "str", "x"), ("SADD", "str", "a"), ("SADD", "str"),
    ],
    "intset order": [
        INTS, ("SMEMBERS", "i"), ("OBJECT", "ENCODING", "i"), ("SADD", "i", "-9223372036854775808", "9223372036854775807", "0"),
        ("SMEMBERS", "i"), ("SADD", "i", "9223372036854775808"), ("OBJECT", "ENCODING", "i"), S("SMEMBERS", "i"),
    ],
    "not canonical integers": [
        ("SADD", "a", "01"), ("OBJECT", "ENCODING", "a"), ("SADD", "b", "-0"), ("OBJECT", "ENCODING", "b"),
        ("SADD", "c", "+1"), ("OBJECT", "ENCODING", "c"), ("SADD", "d", " 1"), ("OBJECT", "ENCODING", "d"),
        ("SADD", "e", "1.0"), ("OBJECT", "ENCODING", "e"), ("SADD", "f", "-1"), ("OBJECT", "ENCODING", "f"),
        ("SADD", "g", "-9223372036854775809"), ("OBJECT", "ENCODING", "g"), ("SADD", "h", "1\x00"), ("OBJECT", "ENCODING", "h"),
        ("SADD", "h2", "0"), ("OBJECT", "ENCODING", "h2"),
    ],
    "srem": [
        INTS, ("SREM", "i", "1", "1", "7"), ("SREM", "i", "x"), ("SMEMBERS", "i"), ("SREM", "nokey", "a"),
        ("SREM", "i", "3", "2", "-5", "10", "99"), ("EXISTS", "i"), ("SET", "str", "x"), ("SREM", "str", "a"),
        MIXED, ("SREM", "m", "a", "b"), ("OBJECT", "ENCODING", "m"), S("SMEMBERS", "m"), ("SREM", "m"),
    ],
    "membership": [
        INTS, ("SISMEMBER", "i", "1"), ("SISMEMBER", "i", "01"), ("SISMEMBER", "i", "x"), ("SISMEMBER", "nokey", "1"),
        ("SMISMEMBER", "i", "1", "x", "10", "1"), ("SMISMEMBER", "nokey", "a", "b"), ("SCARD", "i"), ("SCARD", "nokey"),
        ("SET", "str", "x"), ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SCARD", "str"), ("SMEMBERS", "str"),
        ("SMEMBERS", "nokey"), ("SMISMEMBER", "i"), ("SISMEMBER", "i"),
    ],
    "smove": [
        INTS, MIXED, ("SMOVE", "i", "m", "1"), ("SMOVE", "i", "m", "3"), ("SMOVE", "i", "m", "nothere"),
        ("SMOVE", "nokey", "m", "1"), ("SMOVE", "i", "new", "2"), ("OBJECT", "ENCODING", "new"), ("SMOVE", "m", "new2", "a"),
        ("OBJECT", "ENCODING", "new2"), ("SMOVE", "i", "i", "10"), ("SMOVE", "i", "i", "77"), ("SET", "str", "x"),
        ("SMOVE", "i", "str", "10"), ("SMOVE", "str", "i", "10"), ("SMOVE", "nokey", "str", "1"), ("SMOVE", "str", "nokey", "1"),
        ("SMOVE", "i", "m", "-5"), ("SMOVE", "i", "m", "10"), ("EXISTS", "i"), S("SMEMBERS", "m"), ("SMEMBERS", "new"),
    ],
    "sinter": [
        INTS, ("SADD", "j", "1", "3", "7", "10"), ("SADD", "k", "10", "1", "3", "5", "6", "8", "9"), MIXED,
        ("SINTER", "i", "j"), ("SINTER", "k", "i", "j"), ("SINTER", "i"), ("SINTER", "i", "i"), S("SINTER", "m", "i"),
        ("SINTER", "i", "nokey"), ("SINTER", "nokey", "i"), ("SINTER", "nokey"), ("SET", "str", "x"), ("SINTER", "i", "str"),
        ("SINTER", "nokey", "str"), ("SINTER", "str", "nokey"), S("SINTER", "m", "m"), S("SINTER", "m", "j"), ("SINTER", "j", "m"),
    ],
    "sintercard": [
        INTS, ("SADD", "j", "1", "3", "7", "10"), ("SINTERCARD", "2", "i", "j"), ("SINTERCARD", "1", "i"),
        ("SINTERCARD", "2", "i", "j", "LIMIT", "1"), ("SINTERCARD", "2", "i", "j", "limit", "0"),
        ("SINTERCARD", "2", "i", "j", "LIMIT", "100"), ("SINTERCARD", "2", "i", "j", "LIMIT", "1", "LIMIT", "2"),
        ("SINTERCARD", "2", "i", "j", "LIMIT"), ("SINTERCARD", "2", "i", "j", "LIMIT", "-1"), ("SINTERCARD", "2", "i", "j", "LIMIT", "x"),
        ("SINTERCARD", "2", "i", "j", "FOO", "1"), ("SINTERCARD", "0", "i"), ("SINTERCARD", "-1", "i"), ("SINTERCARD", "x", "i"),
        ("SINTERCARD", "3", "i", "j"), ("SINTERCARD", "1"), ("SINTERCARD", "2", "i", "nokey"), ("SINTERCARD", "1", "nokey"),
        ("SET", "str", "x"), ("SINTERCARD", "2", "nokey", "str"), ("SINTERCARD", "1", "i", "str"), ("SINTERCARD", "1", "i", "LIMIT", "1"),
        ("SINTERCARD", "2", "i", "LIMIT", "1"), (b"SINTERCARD", b"2", b"i", b"j", b"LIMIT\x00x", b"1"),
    ],
    "sinterstore": [
        INTS, ("SADD", "j", "1", "3", "7", "10"), MIXED, ("SINTERSTORE", "d", "i", "j"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SINTERSTORE", "d", "m", "i"), ("OBJECT", "ENCODING", "d"), ("SINTERSTORE", "d", "m", "m"), ("OBJECT", "ENCODING", "d"),
        S("SMEMBERS", "d"), ("SINTERSTORE", "d", "i", "nokey"), ("EXISTS", "d"), ("SINTERSTORE", "d", "i", "nokey"),
        ("SET", "str", "x"), ("SINTERSTORE", "str", "i", "j"), ("TYPE", "str"), ("SINTERSTORE", "d", "str", "i"),
        ("SET", "t", "x", "EX", "100"), ("SINTERSTORE", "t", "i"), ("TTL", "t"), ("SINTERSTORE", "i", "i", "j"), ("SMEMBERS", "i"),
    ],
    "sunion": [
        INTS, ("SADD", "j", "1", "3", "7", "10"), MIXED, ("SUNION", "i", "j"), ("SUNION", "i", "nokey", "j"), ("SUNION", "nokey"),
        S("SUNION", "i", "m"), ("SUNION", "i"), ("SET", "str", "x"), ("SUNION", "i", "str"), ("SUNION", "nokey", "str"),
        ("SUNIONSTORE", "d", "i", "j"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"), ("SUNIONSTORE", "d", "i", "m"),
        ("OBJECT", "ENCODING", "d"), ("SUNIONSTORE", "d", "nokey"), ("EXISTS", "d"), ("SUNIONSTORE", "str", "j"), ("TYPE", "str"),
        ("SUNIONSTORE", "d", "str", "nokey"), ("SUNIONSTORE", "j", "j", "i"), ("SMEMBERS", "j"),
    ],
    "sdiff": [
        INTS, ("SADD", "j", "1", "3", "7", "10"), MIXED, ("SDIFF", "i", "j"), ("SDIFF", "j", "i"), ("SDIFF", "i", "nokey"),
        ("SDIFF", "nokey", "i"), ("SDIFF", "i", "i"), ("SDIFF", "i", "j", "i"), S("SDIFF", "m", "i"), ("SDIFF", "i", "m"),
        ("SDIFF", "i"), ("SET", "str", "x"), ("SDIFF", "i", "str"), ("SDIFF", "nokey", "str"), ("SDIFF", "str", "nokey"),
        ("SDIFFSTORE", "d", "i", "j"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"), ("SDIFFSTORE", "d", "m", "i"),
        ("OBJECT", "ENCODING", "d"), ("SDIFFSTORE", "d", "i", "i"), ("EXISTS", "d"), ("SDIFFSTORE", "str", "i"), ("TYPE", "str"),
        ("SDIFFSTORE", "d", "nokey", "i"), ("SDIFFSTORE", "i", "i", "j"), ("SMEMBERS", "i"),
    ],
    "spop and srandmember arguments": [
        INTS, ("SPOP", "nokey"), ("SPOP", "nokey", "3"), ("SPOP", "nokey", "0"), ("SPOP", "i", "-1"), ("SPOP", "i", "x"),
        ("SPOP", "i", "1", "2"), ("SPOP", "i", "0"), ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "3"),
        ("SRANDMEMBER", "nokey", "-3"), ("SRANDMEMBER", "i", "0"), ("SRANDMEMBER", "i", "x"), ("SRANDMEMBER", "i", "1", "2"),
        ("SRANDMEMBER", "i", "-9223372036854775808"), ("SRANDMEMBER", "i", "9223372036854775807"), ("SRANDMEMBER", "i", "5"),
        ("SRANDMEMBER", "i", "6"), ("SPOP", "i", "9223372036854775807"), ("EXISTS", "i"), ("SET", "str", "x"),
        ("SPOP", "str"), ("SPOP", "str", "1"), ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "1"),
        ("SPOP", "str", "-1"), ("SRANDMEMBER", "str", "x"), ("SADD", "one", "x"), ("SPOP", "one"), ("EXISTS", "one"),
        ("SADD", "one", "x"), ("SRANDMEMBER", "one"), ("SRANDMEMBER", "one", "-3"), ("SRANDMEMBER", "one", "1"),
        ("SPOP", "one", "1"), ("EXISTS", "one"),
    ],
    "sscan": [
        INTS, ("SSCAN", "i", "0"), ("SSCAN", "i", "7", "COUNT", "1"), ("SSCAN", "i", "0", "MATCH", "1*"), ("SSCAN", "i", "0", "MATCH", "*"),
        ("SSCAN", "i", "0", "MATCH", "**"), ("SSCAN", "i", "0", "COUNT", "0"), ("SSCAN", "i", "0", "COUNT", "x"),
        ("SSCAN", "i", "0", "MATCH"), ("SSCAN", "i", "0", "TYPE", "set"), ("SSCAN", "i", "x"), ("SSCAN", "i", "-1"),
        ("SSCAN", "i", "18446744073709551616"), ("SSCAN", "i", "0", "count", "5", "match", "-*"), ("SSCAN", "nokey", "0"),
        ("SSCAN", "nokey", "0", "COUNT", "x"), ("SSCAN", "nokey", "x"), ("SET", "str", "x"), ("SSCAN", "str", "0"),
        ("SSCAN", "str", "0", "COUNT", "x"), ("SADD", "e", ""), ("SSCAN", "e", "0", "MATCH", "*"), ("SSCAN", "e", "0", "MATCH", "**"),
        MIXED, S("SSCAN", "m", "0", "COUNT", "100"), S("SSCAN", "m", "0", "MATCH", "[a-z]", "COUNT", "100"),
        ("SSCAN", "m", "0", "COUNT", "-1"), ("SSCAN", "i", "0", "COUNT", "1", "COUNT", "0"),
    ],
    "arity": [
        ("SADD", "s"), ("SREM", "s"), ("SCARD",), ("SISMEMBER", "s"), ("SMISMEMBER", "s"), ("SMEMBERS",), ("SMOVE", "a", "b"),
        ("SINTER",), ("SINTERSTORE", "d"), ("SUNION",), ("SUNIONSTORE", "d"), ("SDIFF",), ("SDIFFSTORE", "d"), ("SPOP",),
        ("SRANDMEMBER",), ("SSCAN", "s"), ("SINTERCARD", "1"),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_set_command_replies(pair, name):
    check_all(pair, *CASES[name])


@pytest.mark.parametrize("name", list(CASES))
def test_set_command_replies_in_resp3(pair, name):
    resp3(pair)
    check_all(pair, *CASES[name])


def test_read_and_write_lookups_count_like_redis(pair):
    check_all(pair, INTS, ("SADD", "j", "1"))
    check_lookup_stats(pair, [
        ("SINTERSTORE", "d", "i", "nokey"), ("SUNIONSTORE", "d", "i", "nokey"), ("SDIFFSTORE", "d", "i"), ("SMOVE", "i", "j", "1"),
        ("SREM", "i", "9"), ("SINTERCARD", "2", "i", "j"), ("SMEMBERS", "i"), ("SISMEMBER", "nokey", "1"), ("SMISMEMBER", "i", "1"),
        ("SCARD", "i"), ("SRANDMEMBER", "j"), ("SPOP", "nokey", "3"), ("SPOP", "j", "5"), ("SSCAN", "i", "0"), ("SADD", "i", "8"),
        ("SINTER", "i", "nokey"), ("SUNION", "nokey", "i"), ("SDIFF", "i", "nokey"),
    ])


# -- encodings -----------------------------------------------------------------------------------


@pytest.fixture
def small_intsets(pair):
    """set-max-intset-entries 4 on both servers for the test, 512 again afterwards."""
    check_all(pair, ("CONFIG", "SET", "set-max-intset-entries", "4"))
    yield pair
    check_all(pair, ("CONFIG", "SET", "set-max-intset-entries", "512"))


ENCODING_CASES = {
    "grows past the limit": [
        ("SADD", "s", "1", "2", "3", "4"), ("OBJECT", "ENCODING", "s"), ("SMEMBERS", "s"), ("SADD", "s", "5"),
        ("OBJECT", "ENCODING", "s"), ("SREM", "s", "5", "4"), ("OBJECT", "ENCODING", "s"), S("SMEMBERS", "s"),
        ("SADD", "t", "1", "2", "3", "4", "5"), ("OBJECT", "ENCODING", "t"), ("SADD", "u", "1", "1", "1", "1", "2"),
        ("OBJECT", "ENCODING", "u"),
    ],
    "smove into a full intset": [
        ("SADD", "s", "1", "2", "3", "4"), ("SADD", "t", "9"), ("SMOVE", "t", "s", "9"), ("OBJECT", "ENCODING", "s"),
        ("SADD", "a", "1"), ("SMOVE", "a", "b", "1"), ("OBJECT", "ENCODING", "b"),
    ],
    "store results": [
        ("SADD", "a", "1", "2", "3", "4"), ("SADD", "b", "5", "6", "7"), ("SUNIONSTORE", "u", "a", "b"), ("OBJECT", "ENCODING", "u"),
        ("SUNIONSTORE", "u", "a"), ("OBJECT", "ENCODING", "u"), ("SMEMBERS", "u"), ("SINTERSTORE", "i", "a", "a"),
        ("OBJECT", "ENCODING", "i"), ("SADD", "big", "1", "2", "3", "4", "5", "6", "7", "8"), ("SADD", "x", "1", "2", "3", "4", "5"),
        ("SINTERSTORE", "i", "big", "x"), ("OBJECT", "ENCODING", "i"), S("SMEMBERS", "i"),
        # SDIFF's second algorithm fills an intset with all of the first set (8 > 4 members).
        ("SADD", "c", "3", "4", "5", "6", "7", "8"), ("SDIFFSTORE", "d", "big", "c"), ("OBJECT", "ENCODING", "d"), S("SMEMBERS", "d"),
        S("SDIFF", "big", "c"),
        # The first algorithm only adds the survivors.
        ("SADD", "one", "8"), ("SDIFFSTORE", "d", "big", "one"), ("OBJECT", "ENCODING", "d"),
        ("SADD", "sm", "1", "2", "3"), ("SADD", "bg", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"),
        ("SDIFFSTORE", "d", "sm", "bg"), ("EXISTS", "d"), ("SADD", "bg2", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"),
        ("SDIFFSTORE", "d", "sm", "bg2"), ("OBJECT", "ENCODING", "d"), ("SMEMBERS", "d"),
        ("SREM", "big", "1", "2", "3", "4"), ("OBJECT", "ENCODING", "big"), ("SDIFFSTORE", "d", "big", "c", "x"),
        ("SUNIONSTORE", "u2", "big"), ("OBJECT", "ENCODING", "u2"), ("SMEMBERS", "u2"), ("SUNION", "big"), ("SDIFF", "big", "one"),
    ],
    "hash table of integers lists in order once rebuilt": [
        ("SADD", "s", "1", "2", "x"), ("SREM", "s", "x"), ("OBJECT", "ENCODING", "s"), ("SUNION", "s"), ("SPOP", "s", "10"),
    ],
}


@pytest.mark.parametrize("name", list(ENCODING_CASES))
def test_intset_encoding_follows_redis(small_intsets, name):
    check_all(small_intsets, *ENCODING_CASES[name])


def test_intset_limit_boundary_at_default_size(pair):
    members = [str(i) for i in range(512)]
    check_all(
        pair,
        ("SADD", "s", *members), ("OBJECT", "ENCODING", "s"), ("SMEMBERS", "s"), ("SADD", "s", "512"), ("OBJECT", "ENCODING", "s"),
        ("SADD", "t", *members, "512"), ("OBJECT", "ENCODING", "t"), S("SMEMBERS", "t"), S("SSCAN", "t", "0", "COUNT", "100000"),
    )


# -- random replies, compared by shape --------------------------------------------------------------


def _shape(raw: bytes, count: int | None):
    """What two answers of a random command must share: the reply type, the length, and
    the sorted members when a positive count covers the whole set."""
    value = decode(raw)
    if count is None or not isinstance(value, list):
        return raw[:1], value if not isinstance(value, bytes) else b"<member>"
    covered = count > 0 and len(value) < count
    return raw[:1], len(value), sorted(value) if covered else None


def _check_random(pair: Pair, members: set[bytes], cmd: tuple, count: int | None) -> None:
    theirs, ours = pair.compare(*cmd)
    assert _shape(ours, count) == _shape(theirs, count), (cmd, theirs, ours)
    for raw in (theirs, ours):
        value = decode(raw)
        picks = value if isinstance(value, list) else [value]
        assert set(picks) <= members, (cmd, raw)
        if count is not None and count > 0:
            assert len(set(picks)) == len(picks), (cmd, raw)


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("kind", ["intset", "hashtable", "big"])
def test_srandmember_shapes_match_redis(pair, proto, kind):
    if proto == 3:
        resp3(pair)
    n = {"intset": 10, "hashtable": 10, "big": 600}[kind]
    members = {(b"%d" % i if kind != "hashtable" else b"m%d" % i) for i in range(n)}
    check_all(pair, ("SADD", "s", *sorted(members)))
    for count in (1, 2, 3, 4, 5, 9, 10, 11, 100, 599, 600, 1000, -1, -5, -20, -1000):
        _check_random(pair, members, ("SRANDMEMBER", "s", str(count)), count)
    for _ in range(5):
        _check_random(pair, members, ("SRANDMEMBER", "s"), None)
    check_all(pair, ("SCARD", "s"))


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("kind", ["intset", "hashtable"])
@pytest.mark.parametrize("count", [1, 2, 5, 8, 9, 10, 11, 50])
def test_spop_shapes_and_leftovers_match_redis(pair, proto, kind, count):
    if proto == 3:
        resp3(pair)
    members = {(b"%d" % i if kind == "intset" else b"m%d" % i) for i in range(10)}
    check_all(pair, ("SADD", "s", *sorted(members)))
    theirs, ours = pair.compare("SPOP", "s", str(count))
    assert _shape(ours, count) == _shape(theirs, count)
    rest = {}
    for side, raw, conn in (("redis", theirs, pair.redis), ("ours", ours, pair.ours)):
        popped = decode(raw)
        assert len(set(popped)) == len(popped) == min(count, 10)
        left = decode(conn.call("SMEMBERS", "s"))
        assert set(popped) | set(left) == members and not set(popped) & set(left)
        rest[side] = (conn.call("EXISTS", "s"), conn.call("OBJECT", "ENCODING", "s"), conn.call("SCARD", "s"))
        if kind == "intset":
            assert left == sorted(left, key=int)
            if count < 10 and (10 - count) * 5 <= count:
                # Few members stay: the popped ones come in the old intset's order.
                assert popped == sorted(popped, key=int)
    assert rest["ours"] == rest["redis"]


def test_spop_of_a_mixed_set_rebuilds_its_encoding_like_redis(pair):
    """SPOP's third case moves the members that stay into a new set: a hash table whose
    survivors are all integers becomes an intset again."""
    check_all(pair, ("SADD", "s", "a", "b", "c", "d", "e", "f", "g", "h", "i", "1"), ("SREM", "s", "a", "b", "c", "d", "e", "f", "g", "h", "i"))
    check_all(pair, ("SADD", "s", "2", "3", "4", "5", "6", "7", "8", "9", "10"), ("OBJECT", "ENCODING", "s"))
    pair.check("SPOP", "s", "9", normalize=lambda raw: _shape(raw, 9))
    check_all(pair, ("OBJECT", "ENCODING", "s"), ("SCARD", "s"))


# -- SSCAN ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [(), ("COUNT", "1"), ("COUNT", "7"), ("COUNT", "1000"), ("MATCH", "m1*"), ("MATCH", "*", "COUNT", "3")])
def test_sscan_iterates_a_hash_table_set_like_redis(pair, options):
    members = [b"m%d" % i for i in range(300)]
    check_all(pair, ("SADD", "s", *members))
    results = {}
    for side, conn in (("redis", pair.redis), ("ours", pair.ours)):
        found, calls = full_scan(conn, "SSCAN", "s", *options)
        results[side] = sorted(set(found))
        if options[:2] == ("COUNT", "1000"):
            assert calls == 1
        if options[:2] == ("COUNT", "1"):
            assert calls > 10
    assert results["ours"] == results["redis"]


# -- propagation and keyspace events -------------------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "sadd srem": [("SADD", "s", "a", "b"), ("SADD", "s", "a"), ("SREM", "s", "x"), ("SREM", "s", "a"), ("sadd", "s", "c"),
                  ("SREM", "s", "b", "c", "d"), ("SREM", "s", "a")],
    "smove": [("SADD", "a", "1", "2"), ("SADD", "b", "2"), ("SMOVE", "a", "b", "2"), ("SMOVE", "a", "b", "9"), ("SMOVE", "a", "c", "1"),
              ("SMOVE", "c", "c", "1"), ("SMOVE", "b", "c", "2")],
    "stores": [("SADD", "a", "1", "2", "x"), ("SADD", "b", "2", "x"), ("SINTERSTORE", "d", "a", "b"), ("SUNIONSTORE", "d", "a", "b"),
               ("SDIFFSTORE", "d", "a", "b"), ("SDIFFSTORE", "d", "a", "a"), ("SDIFFSTORE", "d", "a", "a"), ("SINTERSTORE", "d", "a", "nokey"),
               ("SET", "e", "x"), ("SUNIONSTORE", "e", "nokey"), ("SINTERSTORE", "f", "a")],
    "spop whole set": [("SADD", "s", "1", "2", "3"), ("SPOP", "s", "3"), ("SADD", "s", "a"), ("SPOP", "s", "10"), ("SPOP", "s", "1"),
                       ("SADD", "t", "x"), ("SPOP", "t"), ("SPOP", "t"), ("SADD", "t", "x"), ("SPOP", "t", "0"), ("SPOP", "t", "1")],
    "reads": [("SADD", "s", "1"), ("SISMEMBER", "s", "1"), ("SMEMBERS", "s"), ("SRANDMEMBER", "s"), ("SRANDMEMBER", "s", "-3"),
              ("SINTER", "s", "s"), ("SINTERCARD", "1", "s"), ("SSCAN", "s", "0")],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


@pytest.mark.parametrize("kind", ["intset", "hashtable"])
@pytest.mark.parametrize("count", [None, 1, 3, 9])
def test_spop_propagates_as_srem_of_the_popped_members(mirrored, kind, count):
    members = [b"%d" % i if kind == "intset" else b"m%d" % i for i in range(10)]
    spop = ("SPOP", "s") if count is None else ("SPOP", "s", str(count))
    (r_replies, r_stream, r_events), (o_replies, o_stream, o_events) = mirrored.run([("SADD", "s", *members), spop])
    assert o_replies[0] == r_replies[0] and o_events == r_events
    for replies, stream in ((r_replies, r_stream), (o_replies, o_stream)):
        popped = decode(replies[1])
        popped = [popped] if isinstance(popped, bytes) else popped
        assert stream[0][0].upper() == b"SADD"
        assert stream[1:] == [[b"SREM", b"s", m] for m in popped]


# -- generated sequences -------------------------------------------------------------------------------

KEYS = _one_of(b"a", b"b", b"c")
MEMBERS = _one_of(b"1", b"2", b"3", b"4", b"5", b"-3", b"0", b"007", b"x", b"y", b"", b"9223372036854775807", b"9223372036854775808")
_MEMBER_LISTS = st.lists(MEMBERS, min_size=1, max_size=4).map(tuple)
_KEY_LISTS = st.lists(KEYS, min_size=1, max_size=3).map(tuple)
_COUNTS = _one_of(b"0", b"1", b"2", b"3", b"-2", b"-5", b"100", b"x")

#: Commands whose replies list members in hash-table order: compared sorted.
_UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"SSCAN"}


def set_commands():
    k = KEYS
    return st.one_of(
        _cmd(b"SADD", k, _MEMBER_LISTS),
        _cmd(b"SREM", k, _MEMBER_LISTS),
        _cmd(b"SCARD", k),
        _cmd(b"SISMEMBER", k, MEMBERS),
        _cmd(b"SMISMEMBER", k, _MEMBER_LISTS),
        _cmd(b"SMEMBERS", k),
        _cmd(b"SMOVE", k, k, MEMBERS),
        _cmd(_one_of(b"SINTER", b"SUNION", b"SDIFF"), _KEY_LISTS),
        _cmd(_one_of(b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"), k, _KEY_LISTS),
        _cmd(b"SINTERCARD", _one_of(b"1", b"2"), k, k, _one_of((), (b"LIMIT", b"1"), (b"LIMIT", b"0"))),
        _cmd(b"SRANDMEMBER", k, _one_of((), (b"1",), (b"2",), (b"-2",), (b"100",), (b"0",), (b"x",))),
        _cmd(b"SPOP", k, _one_of((b"100",), (b"0",), (b"-1",))),
        _cmd(b"SSCAN", k, b"0", _one_of((b"COUNT", b"1000"), (b"MATCH", b"[0-3]", b"COUNT", b"1000"))),
        _cmd(b"OBJECT", b"ENCODING", k),
        _cmd(_one_of(b"DEL", b"TYPE", b"EXISTS"), k),
        _cmd(b"EXPIRE", k, b"1000"),
        _cmd(b"PEXPIREAT", k, b"1"),
        _cmd(b"SET", k, b"v"),
        _cmd(b"CONFIG", b"SET", b"set-max-intset-entries", _one_of(b"2", b"3", b"512")),
    )


def _canonical(cmd: tuple, raw: bytes):
    name = cmd[0].upper()
    if raw[:1] == b"-":
        return raw
    if name in _UNORDERED:
        value = decode(raw)
        if name == b"SSCAN":
            return value[0], sorted(value[1])
        return raw[:1], sorted(value)
    if name == b"SRANDMEMBER" and len(cmd) == 3:
        return _shape(raw, int(cmd[2]))
    if name == b"SRANDMEMBER":
        return raw[:1]
    if name == b"SPOP":
        return raw[:1], sorted(decode(raw))
    return raw


def _compare_sequence(pair: Pair, commands) -> None:
    for cmd in [(b"FLUSHALL",)] + list(commands):
        theirs, ours = pair.compare(*cmd)
        assert _canonical(cmd, ours) == _canonical(cmd, theirs), (cmd, theirs, ours, pair.history[-12:])
    # The final state: every key's encoding, and the exact order of the deterministic ones.
    for key in (b"a", b"b", b"c"):
        encoding = pair.check("OBJECT", "ENCODING", key)
        if encoding == b"$6\r\nintset\r\n":
            pair.check("SMEMBERS", key)
            pair.check("SSCAN", key, "0")
        elif pair.check("TYPE", key) == b"+set\r\n":
            pair.check("SMEMBERS", key, normalize=sorted_reply)


@pytest.fixture
def restore_intset_limit(pair):
    yield pair
    pair.check("CONFIG", "SET", "set-max-intset-entries", "512")


@fuzz(300)
@given(commands=st.lists(set_commands(), min_size=1, max_size=25))
def test_random_set_command_sequences(restore_intset_limit, commands):
    pair = restore_intset_limit
    pair.check("CONFIG", "SET", "set-max-intset-entries", "512")
    _compare_sequence(pair, commands)


@fuzz(60)
@given(commands=st.lists(set_commands(), min_size=1, max_size=15))
def test_random_set_command_sequences_in_resp3(restore_intset_limit, commands):
    pair = restore_intset_limit
    pair.check("CONFIG", "SET", "set-max-intset-entries", "512")
    resp3(pair)
    try:
        _compare_sequence(pair, commands)
    finally:
        pair.compare("HELLO", "2")


_PROPAGATED = st.one_of(
    _cmd(b"SADD", KEYS, _MEMBER_LISTS),
    _cmd(b"SREM", KEYS, _MEMBER_LISTS),
    _cmd(b"SMOVE", KEYS, KEYS, MEMBERS),
    _cmd(_one_of(b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"), KEYS, _KEY_LISTS),
    _cmd(b"SPOP", KEYS, _one_of((b"100",), (b"0",))),
    _cmd(b"SET", KEYS, b"v"),
)


@fuzz(100)
@given(commands=st.lists(_PROPAGATED, min_size=1, max_size=12))
def test_random_sequences_propagate_and_notify_like_redis(mirrored, commands):
    (r_replies, r_stream, r_events), (o_replies, o_stream, o_events) = mirrored.run(commands)
    for cmd, theirs, ours in zip(commands, r_replies, o_replies):
        assert _canonical(cmd, ours) == _canonical(cmd, theirs), (commands, cmd, theirs, ours)
    assert o_events == r_events, (commands, r_events, o_events)
    assert same_stream(r_stream, o_stream), (commands, r_stream, o_stream)


def test_smembers_of_a_big_intset_is_sorted_like_redis(pair):
    members = [str(i * 7919 % 1000 - 500) for i in range(400)]
    check_all(pair, ("SADD", "s", *members), ("SMEMBERS", "s"), ("SSCAN", "s", "0"), ("SUNION", "s"), ("SINTER", "s", "s"),
              ("SRANDMEMBER", "s", "1000"), ("SPOP", "s", "1000"))


def test_raw_client_sees_identical_set_bytes_for_binary_members(pair):
    check_all(pair, ("SADD", "s", b"\x00", b"\xff\xfe", b"a\r\nb", b""), S("SMEMBERS", "s"), ("SISMEMBER", "s", b"a\r\nb"))


# -- MEMORY USAGE ------------------------------------------------------------------------------------

#: Sizes away from the moments a Redis dict is still rehashing by chance after growing.
_MEMORY_SIZES = (1, 3, 4, 5, 9, 17, 33, 513, 600, 1000, 2000, 5000)


@pytest.mark.parametrize("n", _MEMORY_SIZES)
def test_memory_usage_of_sets_built_by_sadd_matches_redis(pair, n):
    check_all(
        pair,
        ("SADD", "s", *[f"member:{i}" for i in range(n)]), ("SADD", "i", *[str(i) for i in range(n)]),
        ("SADD", "w", *[str(i * 100003) for i in range(n)]), ("SADD", "e", "", *[str(-i) for i in range(n)]),
    )
    for key in ("s", "i", "w", "e"):
        pair.check("MEMORY", "USAGE", key, "SAMPLES", "0")
    pair.check("MEMORY", "USAGE", "s")
