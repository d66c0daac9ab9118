"""Hash commands against real Redis 7.0.15: reply bytes for every command, option and error
in both protocols; OBJECT ENCODING through listpack/hashtable transitions; HINCRBYFLOAT's
long-double results; the shapes of HRANDFIELD's replies; HSCAN iterations; propagated
commands and keyspace events; and hypothesis-generated command sequences.

A listpack hash lists its fields in insertion order, which is compared exactly (the reply
cases below stay listpack unless they say otherwise); a hash table lists them in an order
that depends on Redis's random seed, so those replies are compared sorted (``Sorted``, or
field/value pairs for HGETALL-like replies). Random picks are compared by their shape.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import FLOAT_TEXTS, S, _cmd, _one_of, check_all, check_lookup_stats, decode, full_scan, fuzz, resp3
from tests.support.differential import Pair, sorted_reply


def sorted_pairs(raw: bytes):
    """A flat field/value array (or RESP3 map) as its sorted pairs, header type kept."""
    value = decode(raw)
    if isinstance(value, dict):
        return raw[:1], sorted(value.items())
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[1], list):  # HSCAN: [cursor, [f, v, ...]]
            return raw[:1], value[0], sorted(zip(value[1][::2], value[1][1::2]))
        return raw[:1], sorted(zip(value[::2], value[1::2]))
    return raw


class Pairs(tuple):
    """A command whose reply lists a hash table's fields with values: compared as pairs
    (``Sorted``, from ``S(...)``, compares a listing of fields or values sorted)."""

    normalize = staticmethod(sorted_pairs)


def P(*args) -> Pairs:
    return Pairs(args)


H = ("HSET", "h", "a", "1", "b", "2", "c", "3")
LONG = "x" * 65
LIMIT = "y" * 64

CASES = {
    "hset hmset": [
        ("HSET", "h", "a", "1"), ("HSET", "h", "a", "2", "b", "3"), ("HSET", "h", "b", "4", "b", "5"), ("HGETALL", "h"),
        ("HMSET", "h", "c", "6"), ("HMSET", "h", "a", "7", "d", "8"), ("HGETALL", "h"), ("HSET", "h", "a"), ("HSET", "h", "a", "1", "b"),
        ("HMSET", "h", "a"), ("hmset", "h", "a", "1", "b"), ("HSET", "h"), ("SET", "str", "x"), ("HSET", "str", "a", "1"),
        ("HSET", "str", "a", "1", "b"), ("HMSET", "str", "a", "1"), ("HSET", "e", "", ""), ("HSET", "e", b"\x00\r\n", b"\xff"),
        ("HGETALL", "e"),
    ],
    "hsetnx": [
        H, ("HSETNX", "h", "a", "9"), ("HSETNX", "h", "z", "9"), ("HGETALL", "h"), ("HSETNX", "new", "f", "v"), ("HGETALL", "new"),
        ("SET", "str", "x"), ("HSETNX", "str", "a", "1"), ("HSETNX", "h", "a"),
    ],
    "reads": [
        H, ("HGET", "h", "a"), ("HGET", "h", "zz"), ("HGET", "nokey", "a"), ("HMGET", "h", "a", "zz", "c", "a"), ("HMGET", "nokey", "a", "b"),
        ("HLEN", "h"), ("HLEN", "nokey"), ("HSTRLEN", "h", "a"), ("HSTRLEN", "h", "zz"), ("HSTRLEN", "nokey", "a"), ("HEXISTS", "h", "a"),
        ("HEXISTS", "h", "zz"), ("HEXISTS", "nokey", "a"), ("HKEYS", "h"), ("HVALS", "h"), ("HGETALL", "h"), ("HKEYS", "nokey"),
        ("HVALS", "nokey"), ("HGETALL", "nokey"), ("SET", "str", "x"), ("HGET", "str", "a"), ("HMGET", "str", "a"), ("HLEN", "str"),
        ("HSTRLEN", "str", "a"), ("HEXISTS", "str", "a"), ("HKEYS", "str"), ("HVALS", "str"), ("HGETALL", "str"), ("HMGET", "h"),
        ("HSET", "n", "i", "-123", "j", "0", "k", "007"), ("HSTRLEN", "n", "i"), ("HSTRLEN", "n", "k"), ("HGET", "n", "i"),
    ],
    "hdel": [
        H, ("HDEL", "h", "a", "zz", "a"), ("HDEL", "h", "zz"), ("HGETALL", "h"), ("HDEL", "nokey", "a"), ("HDEL", "h", "b", "c", "d"),
        ("EXISTS", "h"), ("SET", "str", "x"), ("HDEL", "str", "a"), ("HDEL", "h"), H, ("HDEL", "h", "b"), ("HSET", "h", "b", "9"),
        ("HGETALL", "h"),
    ],
    "hincrby": [
        ("HINCRBY", "h", "a", "5"), ("HINCRBY", "h", "a", "-7"), ("HINCRBY", "h", "a", "x"), ("HINCRBY", "h", "a", "1.5"),
        ("HINCRBY", "h", "a", " 1"), ("HSET", "h", "s", "abc", "t", " 1", "u", "1.0", "v", "01"), ("HINCRBY", "h", "s", "1"),
        ("HINCRBY", "h", "t", "1"), ("HINCRBY", "h", "u", "1"), ("HINCRBY", "h", "v", "1"), ("HINCRBY", "h", "m", "9223372036854775807"),
        ("HINCRBY", "h", "m", "1"), ("HINCRBY", "h", "m", "-9223372036854775808"), ("HINCRBY", "h", "n", "-9223372036854775808"),
        ("HINCRBY", "h", "n", "-1"), ("HINCRBY", "h", "n", "9223372036854775807"), ("HINCRBY", "h", "o", "9223372036854775808"),
        ("HGETALL", "h"), ("HINCRBY", "nokey", "f", "x"), ("EXISTS", "nokey"), ("HINCRBY", "new", "f", "0"), ("HGETALL", "new"),
        ("SET", "str", "x"), ("HINCRBY", "str", "f", "1"), ("HINCRBY", "str", "f", "x"),
    ],
    "hincrbyfloat": [
        ("HINCRBYFLOAT", "h", "a", "1.5"), ("HINCRBYFLOAT", "h", "a", "0.1"), ("HINCRBYFLOAT", "h", "a", "-1.6"),
        ("HSET", "h", "b", "10.5"), ("HINCRBYFLOAT", "h", "b", "0.1"), ("HINCRBYFLOAT", "h", "a", "inf"), ("HINCRBYFLOAT", "h", "a", "-inf"),
        ("HINCRBYFLOAT", "h", "a", "nan"), ("HINCRBYFLOAT", "h", "a", "x"), ("HINCRBYFLOAT", "h", "a", ""), ("HINCRBYFLOAT", "h", "a", " 1"),
        ("HINCRBYFLOAT", "h", "a", "1e400"), ("HINCRBYFLOAT", "h", "c", "5.0e3"), ("HINCRBYFLOAT", "h", "c", "0x10"),
        ("HSET", "h", "s", "abc", "t", "inf", "u", "1e4932"), ("HINCRBYFLOAT", "h", "s", "1"), ("HINCRBYFLOAT", "h", "t", "1"),
        ("HINCRBYFLOAT", "h", "u", "1e4932"), ("HINCRBYFLOAT", "h", "u", "-1e4932"), P("HGETALL", "h"), ("OBJECT", "ENCODING", "h"),
        ("HINCRBYFLOAT", "nokey", "f", "x"), ("HINCRBYFLOAT", "nokey", "f", "inf"), ("EXISTS", "nokey"), ("SET", "str", "x"),
        ("HINCRBYFLOAT", "str", "f", "1"), ("HINCRBYFLOAT", "str", "f", "x"), ("HINCRBY", "h", "b", "1"),
    ],
    "hrandfield arguments": [
        H, ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "3"), ("HRANDFIELD", "nokey", "-3", "WITHVALUES"), ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"), ("HRANDFIELD", "h", "3"), ("HRANDFIELD", "h", "5", "WITHVALUES"),
        ("HRANDFIELD", "h", "5", "withvalues"), ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", " 3"), ("HRANDFIELD", "h", "1", "WITHVALUE"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"), ("HRANDFIELD", "h", "x", "FOO"), ("HRANDFIELD", "nokey", "1", "FOO"),
        ("HRANDFIELD", "h", "-9223372036854775808"), ("HRANDFIELD", "h", "9223372036854775807"),
        ("HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"), ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"), ("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"),
        ("HRANDFIELD", "nokey", "4611686018427387904", "WITHVALUES"), ("HRANDFIELD", "h", "-9223372036854775808", "FOO"),
        (b"HRANDFIELD", b"h", b"3", b"WITHVALUES\x00junk"), ("SET", "str", "x"), ("HRANDFIELD", "str"), ("HRANDFIELD", "str", "1"),
        ("HRANDFIELD", "str", "x"), ("HSET", "one", "f", "v"), ("HRANDFIELD", "one"), ("HRANDFIELD", "one", "-3", "WITHVALUES"),
        ("HRANDFIELD", "one", "1", "WITHVALUES"), ("HRANDFIELD", "one", "-1"),
    ],
    "hscan": [
        H, ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "COUNT", "1"), ("HSCAN", "h", "7"), ("HSCAN", "h", "0", "MATCH", "a*"),
        ("HSCAN", "h", "0", "MATCH", "*"), ("HSCAN", "h", "0", "MATCH"), ("HSCAN", "h", "0", "COUNT", "0"), ("HSCAN", "h", "0", "COUNT", "x"),
        ("HSCAN", "h", "0", "TYPE", "hash"), ("HSCAN", "h", "0", "NOVALUES"), ("HSCAN", "h", "x"), ("HSCAN", "h", "-1"),
        ("HSCAN", "h", "18446744073709551616"), ("HSCAN", "nokey", "0"), ("HSCAN", "nokey", "0", "COUNT", "x"), ("HSCAN", "nokey", "x"),
        ("SET", "str", "x"), ("HSCAN", "str", "0"), ("HSCAN", "str", "x"), ("HSET", "e", "", "v"), ("HSCAN", "e", "0", "MATCH", "**"),
        ("HSCAN", "h", "0", "match", "[bc]", "count", "2"),
    ],
    "arity": [
        ("HSET", "h"), ("HSETNX", "h", "f"), ("HGET", "h"), ("HMGET", "h"), ("HMSET", "h", "f"), ("HDEL", "h"), ("HLEN",), ("HSTRLEN", "h"),
        ("HEXISTS", "h"), ("HKEYS",), ("HVALS",), ("HGETALL",), ("HINCRBY", "h", "f"), ("HINCRBYFLOAT", "h", "f"), ("HRANDFIELD",),
        ("HSCAN", "h"),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_hash_command_replies(pair, name):
    check_all(pair, *CASES[name])


@pytest.mark.parametrize("name", list(CASES))
def test_hash_command_replies_in_resp3(pair, name):
    resp3(pair)
    check_all(pair, *CASES[name])


def test_read_and_write_lookups_count_like_redis(pair):
    check_all(pair, H, ("HSET", "one", "f", "v"))
    check_lookup_stats(pair, [
        ("HSET", "h", "z", "1"), ("HSETNX", "h", "z", "1"), ("HGET", "h", "a"), ("HGET", "nokey", "a"), ("HMGET", "h", "a"), ("HDEL", "h", "q"),
        ("HLEN", "h"), ("HSTRLEN", "h", "a"), ("HEXISTS", "h", "a"), ("HKEYS", "h"), ("HVALS", "nokey"), ("HGETALL", "h"),
        ("HINCRBY", "h", "n", "1"), ("HINCRBYFLOAT", "h", "n", "1"), ("HRANDFIELD", "one"), ("HRANDFIELD", "nokey", "2"), ("HSCAN", "h", "0"),
    ])


# -- encodings -----------------------------------------------------------------------------------


ENCODING_CASES = {
    "long values and fields": [
        ("HSET", "a", "f", LIMIT), ("OBJECT", "ENCODING", "a"), ("HSET", "b", LIMIT, "v"), ("OBJECT", "ENCODING", "b"),
        ("HSET", "c", "f", LONG), ("OBJECT", "ENCODING", "c"), ("HSET", "d", LONG, "v"), ("OBJECT", "ENCODING", "d"),
        ("HSET", "e", "f", "1"), ("HSET", "e", "f", "2", "g", LONG), ("HDEL", "e", "g"), ("OBJECT", "ENCODING", "e"),
        ("HSET", "f", "a", "1"), ("HSETNX", "f", "a", LONG), ("OBJECT", "ENCODING", "f"), ("HSETNX", "f", "b", LONG),
        ("OBJECT", "ENCODING", "f"), ("HSET", "g", "a", "1"), ("HINCRBY", "g", LONG, "1"), ("OBJECT", "ENCODING", "g"),
        ("HSET", "i", "a", "1"), ("HINCRBYFLOAT", "i", LONG, "1.5"), ("OBJECT", "ENCODING", "i"),
        ("HINCRBYFLOAT", "j", "f", "1e70"), ("OBJECT", "ENCODING", "j"), ("HINCRBYFLOAT", "k", "f", "1e60"), ("OBJECT", "ENCODING", "k"),
        ("HGETALL", "k"), ("HMSET", "l", "a", "1", LONG, "2"), ("OBJECT", "ENCODING", "l"), P("HGETALL", "l"),
    ],
}


@pytest.mark.parametrize("name", list(ENCODING_CASES))
def test_hash_encoding_follows_redis(pair, name):
    check_all(pair, *ENCODING_CASES[name])


@pytest.fixture
def small_listpacks(pair):
    """hash-max-listpack-entries 3 and -value 8 on both servers for the test."""
    check_all(pair, ("CONFIG", "SET", "hash-max-listpack-entries", "3"), ("CONFIG", "SET", "hash-max-listpack-value", "8"))
    yield pair
    check_all(pair, ("CONFIG", "SET", "hash-max-listpack-entries", "512"), ("CONFIG", "SET", "hash-max-listpack-value", "64"))


SMALL_CASES = {
    "entries": [
        ("HSET", "h", "a", "1", "b", "2", "c", "3"), ("OBJECT", "ENCODING", "h"), ("HSET", "h", "c", "4"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "d", "5"), ("OBJECT", "ENCODING", "h"), ("HDEL", "h", "a", "b"), ("OBJECT", "ENCODING", "h"), P("HGETALL", "h"),
        ("HSET", "r", "a", "1", "a", "2", "a", "3", "a", "4"), ("OBJECT", "ENCODING", "r"), ("HSET", "s", "a", "1", "b", "2", "c", "3", "d", "4"),
        ("OBJECT", "ENCODING", "s"), ("HSET", "t", "a", "1", "b", "2", "c", "3"), ("HSETNX", "t", "d", "4"), ("OBJECT", "ENCODING", "t"),
        ("HSET", "u", "a", "1", "b", "2", "c", "3"), ("HINCRBY", "u", "d", "4"), ("OBJECT", "ENCODING", "u"),
    ],
    "value length": [
        ("HSET", "h", "a", "12345678"), ("OBJECT", "ENCODING", "h"), ("HSET", "h", "a", "123456789"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "i", "a", "1"), ("HINCRBY", "i", "a", "1234567890"), ("OBJECT", "ENCODING", "i"),
        ("HSET", "j", "a", "1"), ("HINCRBYFLOAT", "j", "a", "0.12345678"), ("OBJECT", "ENCODING", "j"),
    ],
}


@pytest.mark.parametrize("name", list(SMALL_CASES))
def test_hash_encoding_with_small_limits_follows_redis(small_listpacks, name):
    check_all(small_listpacks, *SMALL_CASES[name])


def test_listpack_limit_boundary_at_default_size(pair):
    pairs = [x for i in range(512) for x in (f"f{i}", str(i))]
    check_all(
        pair,
        ("HSET", "h", *pairs), ("OBJECT", "ENCODING", "h"), ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HSCAN", "h", "0"),
        ("HSET", "h", "f512", "x"), ("OBJECT", "ENCODING", "h"), P("HGETALL", "h"), S("HKEYS", "h"), ("HLEN", "h"),
    )


# -- random replies, compared by shape --------------------------------------------------------------


def _hrandfield_shape(raw: bytes, count: int | None, withvalues: bool, proto: int):
    value = decode(raw)
    if count is None or not isinstance(value, list):
        return raw[:1], None if value is None else b"<field>"
    if withvalues and proto == 2:
        value = list(zip(value[::2], value[1::2]))
    elif withvalues:
        value = [tuple(p) for p in value]
    covered = count > 0 and len(value) < count
    return raw[:1], len(value), sorted(value) if covered else None


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("kind", ["listpack", "hashtable"])
@pytest.mark.parametrize("withvalues", [False, True])
def test_hrandfield_shapes_match_redis(pair, proto, kind, withvalues):
    if proto == 3:
        resp3(pair)
    n = 20 if kind == "listpack" else 600
    fields = {b"f%03d" % i: b"%d" % (i * 7) for i in range(n)}
    check_all(pair, ("HSET", "h", *[x for kv in fields.items() for x in kv]))
    order = list(fields)
    extra = ("WITHVALUES",) if withvalues else ()
    for count in (1, 2, 3, 6, 7, 19, 20, 21, 200, 599, 600, 1000, -1, -3, -30, -1000):
        theirs, ours = pair.compare("HRANDFIELD", "h", str(count), *extra)
        assert _hrandfield_shape(ours, count, withvalues, proto) == _hrandfield_shape(theirs, count, withvalues, proto), count
        for raw in (theirs, ours):
            value = decode(raw)
            if withvalues:
                picks = [tuple(p) for p in value] if proto == 3 else list(zip(value[::2], value[1::2]))
                assert all(fields[f] == v for f, v in picks)
                picks = [f for f, _ in picks]
            else:
                picks = value
            assert set(picks) <= set(fields)
            if count > 0:
                assert len(set(picks)) == len(picks)
            if kind == "listpack" and 0 < count and count * 3 <= n:
                # lpRandomPairsUnique: the picks keep the hash's order.
                assert picks == sorted(picks, key=order.index)
    for _ in range(5):
        theirs, ours = pair.compare("HRANDFIELD", "h")
        assert decode(theirs) in fields and decode(ours) in fields


# -- HSCAN ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [(), ("COUNT", "1"), ("COUNT", "9"), ("COUNT", "2000"), ("MATCH", "f1*"), ("MATCH", "*", "COUNT", "3")])
def test_hscan_iterates_a_hash_table_like_redis(pair, options):
    fields = [x for i in range(600) for x in (b"f%d" % i, b"v%d" % i)]
    check_all(pair, ("HSET", "h", *fields))
    results = {}
    for side, conn in (("redis", pair.redis), ("ours", pair.ours)):
        found, calls = full_scan(conn, "HSCAN", "h", *options)
        results[side] = sorted(set(zip(found[::2], found[1::2])))
        if options[:2] == ("COUNT", "2000"):
            assert calls == 1
        if options[:2] == ("COUNT", "1"):
            assert calls > 20
    assert results["ours"] == results["redis"]


# -- propagation and keyspace events -------------------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "hset hmset hsetnx": [("HSET", "h", "a", "1"), ("HSET", "h", "a", "1"), ("hmset", "h", "b", "2", "c", "3"), ("HSETNX", "h", "a", "5"),
                          ("HSETNX", "h", "z", "5"), ("HSETNX", "n", "f", "v"), ("HSET", "h", "a")],
    "hdel": [("HSET", "h", "a", "1", "b", "2"), ("HDEL", "h", "zz"), ("HDEL", "h", "a", "zz"), ("HDEL", "h", "b"), ("HDEL", "h", "b"),
             ("HDEL", "nokey", "b")],
    "hincrby": [("HINCRBY", "h", "a", "5"), ("HINCRBY", "h", "a", "-5"), ("HINCRBY", "h", "a", "x"), ("HSET", "h", "s", "abc"),
                ("HINCRBY", "h", "s", "1"), ("HINCRBY", "h", "m", "9223372036854775807"), ("HINCRBY", "h", "m", "1")],
    "hincrbyfloat": [("HINCRBYFLOAT", "h", "a", "1.5"), ("HINCRBYFLOAT", "h", "a", "0.1"), ("hincrbyfloat", "h", "a", "5.0e3"),
                     ("HINCRBYFLOAT", "h", "a", "inf"), ("HSET", "h", "b", "10.50"), ("HINCRBYFLOAT", "h", "b", "0"),
                     ("HINCRBYFLOAT", "n", "f", "1e30")],
    "reads": [("HSET", "h", "a", "1"), ("HGET", "h", "a"), ("HGETALL", "h"), ("HRANDFIELD", "h"), ("HRANDFIELD", "h", "-2", "WITHVALUES"),
              ("HSCAN", "h", "0"), ("HMGET", "h", "a"), ("HLEN", "h")],
    "expired hash written": [("HSET", "h", "a", "1"), ("PEXPIREAT", "h", "1"), ("HSET", "h", "b", "2"), ("HGETALL", "h")],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


# -- generated sequences -------------------------------------------------------------------------------

KEYS = _one_of(b"a", b"b", b"c")
FIELDS = _one_of(b"f", b"g", b"h", b"1", b"", b"long" * 17)
VALUES = st.one_of(
    _one_of(b"", b"0", b"1", b"-1", b"10.5", b"9223372036854775807", b"abc", b"1e3", b"x" * 65),
    st.integers(-1000, 1000).map(lambda i: b"%d" % i),
)
_PAIRS = st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=3).map(lambda ps: tuple(x for p in ps for x in p))
_FIELD_LISTS = st.lists(FIELDS, min_size=1, max_size=3).map(tuple)
_INCRS = st.one_of(_one_of(b"1", b"-1", b"0", b"9223372036854775807", b"-9223372036854775808", b"x"), st.integers(-50, 50).map(lambda i: b"%d" % i))


def hash_commands():
    k = KEYS
    return st.one_of(
        _cmd(_one_of(b"HSET", b"HMSET"), k, _PAIRS),
        _cmd(b"HSETNX", k, FIELDS, VALUES),
        _cmd(b"HGET", k, FIELDS),
        _cmd(b"HMGET", k, _FIELD_LISTS),
        _cmd(b"HDEL", k, _FIELD_LISTS),
        _cmd(_one_of(b"HLEN", b"HKEYS", b"HVALS", b"HGETALL"), k),
        _cmd(_one_of(b"HSTRLEN", b"HEXISTS"), k, FIELDS),
        _cmd(b"HINCRBY", k, FIELDS, _INCRS),
        _cmd(b"HINCRBYFLOAT", k, FIELDS, FLOAT_TEXTS),
        _cmd(b"HRANDFIELD", k, _one_of((), (b"1",), (b"2",), (b"-2",), (b"100",), (b"0",), (b"x",), (b"2", b"WITHVALUES"), (b"-3", b"WITHVALUES"))),
        _cmd(b"HSCAN", k, b"0", _one_of((b"COUNT", b"1000"), (b"MATCH", b"[fg]", b"COUNT", b"1000"))),
        _cmd(b"OBJECT", b"ENCODING", k),
        _cmd(_one_of(b"DEL", b"TYPE", b"EXISTS"), k),
        _cmd(b"EXPIRE", k, b"1000"),
        _cmd(b"PEXPIREAT", k, b"1"),
        _cmd(b"SET", k, b"v"),
        _cmd(b"CONFIG", b"SET", _one_of(b"hash-max-listpack-entries", b"hash-max-listpack-value"), _one_of(b"1", b"2", b"512")),
    )


_UNORDERED = {b"HKEYS", b"HVALS"}
_PAIRED = {b"HGETALL", b"HSCAN"}


def _canonical(cmd: tuple, raw: bytes, proto: int):
    name = cmd[0].upper()
    if raw[:1] == b"-":
        return raw
    if name in _UNORDERED:
        return sorted_reply(raw)
    if name in _PAIRED:
        return sorted_pairs(raw)
    if name == b"HRANDFIELD":
        count = int(cmd[2]) if len(cmd) > 2 else None
        return _hrandfield_shape(raw, count, len(cmd) > 3, proto)
    return raw


def _compare_sequence(pair: Pair, commands, proto: int) -> None:
    for cmd in [(b"FLUSHALL",)] + list(commands):
        theirs, ours = pair.compare(*cmd)
        assert _canonical(cmd, ours, proto) == _canonical(cmd, theirs, proto), (cmd, theirs, ours, pair.history[-12:])
    # The final state: every key's encoding, and the exact order of the listpack ones.
    for key in (b"a", b"b", b"c"):
        encoding = pair.check("OBJECT", "ENCODING", key)
        if encoding == b"$8\r\nlistpack\r\n":
            pair.check("HGETALL", key)
            pair.check("HSCAN", key, "0")
        elif pair.check("TYPE", key) == b"+hash\r\n":
            pair.check("HGETALL", key, normalize=sorted_pairs)


def _reset_limits(pair: Pair) -> None:
    pair.check("CONFIG", "SET", "hash-max-listpack-entries", "512")
    pair.check("CONFIG", "SET", "hash-max-listpack-value", "64")


@pytest.fixture
def restore_listpack_limits(pair):
    yield pair
    _reset_limits(pair)


@fuzz(300)
@given(commands=st.lists(hash_commands(), min_size=1, max_size=25))
def test_random_hash_command_sequences(restore_listpack_limits, commands):
    pair = restore_listpack_limits
    _reset_limits(pair)
    _compare_sequence(pair, commands, 2)


@fuzz(60)
@given(commands=st.lists(hash_commands(), min_size=1, max_size=15))
def test_random_hash_command_sequences_in_resp3(restore_listpack_limits, commands):
    pair = restore_listpack_limits
    _reset_limits(pair)
    resp3(pair)
    try:
        _compare_sequence(pair, commands, 3)
    finally:
        pair.compare("HELLO", "2")


_PROPAGATED = st.one_of(
    _cmd(_one_of(b"HSET", b"HMSET"), KEYS, _PAIRS),
    _cmd(b"HSETNX", KEYS, FIELDS, VALUES),
    _cmd(b"HDEL", KEYS, _FIELD_LISTS),
    _cmd(b"HINCRBY", KEYS, FIELDS, _INCRS),
    _cmd(b"HINCRBYFLOAT", KEYS, FIELDS, FLOAT_TEXTS),
    _cmd(b"SET", KEYS, b"v"),
)


@fuzz(100)
@given(commands=st.lists(_PROPAGATED, min_size=1, max_size=12))
def test_random_sequences_propagate_and_notify_like_redis(mirrored, commands):
    mirrored.check(*commands)


# -- MEMORY USAGE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", (1, 3, 5, 8, 33, 100, 200, 513, 600, 1000, 5000))
def test_memory_usage_of_hashes_built_by_hset_matches_redis(pair, n):
    commands = [
        ("HSET", "h", *[x for i in range(n) for x in (f"field:{i}", f"value:{i}")]),
        ("HSET", "n", *[x for i in range(n) for x in (str(i * 7919), str(-i * 104729))]),
    ]
    for i in range(0, n, 97):  # mixed lengths: converted by a long value in the first batch
        commands.append(("HSET", "g", *[x for j in range(i, min(n, i + 97)) for x in (f"f:{j}", "v" * (j % 80))]))
    check_all(pair, *commands)
    for key in ("h", "n", "g"):
        pair.check("MEMORY", "USAGE", key, "SAMPLES", "0")
    pair.check("MEMORY", "USAGE", "h")
