"""HyperLogLog against real Redis 7.0.15: the bytes of every value (GET after each write),
replies and errors of PFADD, PFCOUNT, PFMERGE and PFDEBUG in both protocols, values
carried between the servers in both directions, forged and corrupted values, promotion to
dense, propagation, keyspace events and lookup statistics, and hypothesis-generated element
sets and command sequences.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.datatypes.hyperloglog import REGISTERS, pat_len
from tests.differential import _cmd, _one_of, check_lookup_stats, fuzz, resp3
from tests.support.differential import Pair


# -- forged values -------------------------------------------------------------------------------

STALE = b"\x00" * 7 + b"\x80"  # cached cardinality 0, marked stale


def header(encoding: int, card: bytes = STALE, unused: bytes = b"\x00\x00\x00") -> bytes:
    return b"HYLL" + bytes((encoding,)) + unused + card


def XZERO(n: int) -> bytes:
    return bytes((0x40 | (n - 1) >> 8, (n - 1) & 0xFF))


def ZERO(n: int) -> bytes:
    return bytes((n - 1,))


def VAL(v: int, n: int) -> bytes:
    return bytes((0x80 | (v - 1) << 2 | (n - 1),))


def sparse(*ops: bytes, card: bytes = STALE) -> bytes:
    return header(1, card) + b"".join(ops)


def element(lo: int, hi: int, skip: int = 0) -> bytes:
    """An element whose register index falls in [lo, hi)."""
    i = 0
    while True:
        e = b"el:%d" % i
        if lo <= pat_len(e)[0] < hi:
            if not skip:
                return e
            skip -= 1
        i += 1


def elements(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [b"%d:%d" % (seed, rng.randrange(10**9)) for _ in range(n)]


def add_both(pair: Pair, key, els, chunk: int = 250) -> None:
    for i in range(0, len(els), chunk):
        pair.check("PFADD", key, *els[i : i + chunk])
        pair.check("GET", key)


# -- hand-written cases ----------------------------------------------------------------------------

DENSE_RANDOM = header(0) + random.Random(7).randbytes(12288)
VALID_CUT = sparse(XZERO(255), b"\x7f")  # ends inside an XZERO whose low byte reads as 0

CASES = {
    "pfadd": [
        ("PFADD", "h", "a", "b", "c"), ("GET", "h"), ("PFADD", "h", "a"), ("PFADD", "h"), ("GET", "h"), ("PFADD", "new"),
        ("GET", "new"), ("PFADD", "h", "d", "e", "a"), ("GET", "h"), ("PFADD", "h", "", b"\x00\xff", "x" * 100), ("GET", "h"),
        ("OBJECT", "ENCODING", "h"), ("TYPE", "h"), ("STRLEN", "h"), ("PFADD", "h", *[b"%d" % i for i in range(40)]), ("GET", "h"),
    ],
    "pfcount caches the cardinality": [
        ("PFADD", "h", "a", "b", "c"), ("PFCOUNT", "h"), ("GET", "h"), ("PFCOUNT", "h"), ("PFADD", "h", "a"), ("GET", "h"),
        ("PFADD", "h", "z"), ("GET", "h"), ("PFCOUNT", "h"), ("GET", "h"), ("PFCOUNT", "nokey"), ("SET", "s", "abc"),
        ("APPEND", "h", ""), ("PFCOUNT", "h"), ("OBJECT", "ENCODING", "h"),
    ],
    "pfcount of several keys": [
        ("PFADD", "a", "x", "y"), ("PFADD", "b", "y", "z", "w"), ("PFCOUNT", "a", "b"), ("PFCOUNT", "a", "b", "nokey"),
        ("PFCOUNT", "a", "a"), ("PFCOUNT", "nokey", "nokey2"), ("GET", "a"), ("GET", "b"), ("PFCOUNT", "a"), ("PFCOUNT", "b", "a"),
    ],
    "pfmerge": [
        ("PFMERGE", "d"), ("GET", "d"), ("PFADD", "a", "x", "y"), ("PFADD", "b", "y", "z"), ("PFMERGE", "d", "a", "b"), ("GET", "d"),
        ("PFCOUNT", "d"), ("GET", "d"), ("PFMERGE", "a", "b"), ("GET", "a"), ("PFMERGE", "n", "nokey"), ("GET", "n"),
        ("PFMERGE", "d", "d"), ("GET", "d"), ("PFMERGE", "a", "a", "a", "b"), ("GET", "a"), ("PFCOUNT", "a"),
    ],
    "wrong types": [
        ("RPUSH", "l", "x"), ("PFADD", "l", "a"), ("PFADD", "l"), ("PFCOUNT", "l"), ("PFCOUNT", "nokey", "l"), ("PFMERGE", "d", "l"),
        ("EXISTS", "d"), ("PFMERGE", "l", "nokey"), ("PFMERGE", "l"), ("PFDEBUG", "ENCODING", "l"),
    ],
    "not an hll": [
        ("SET", "s", "abc"), ("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "s", "nokey"), ("PFMERGE", "d", "s"), ("EXISTS", "d"),
        ("PFMERGE", "s"), ("SET", "s", "HYLL"), ("PFADD", "s", "a"), ("SET", "s", b"HYLX" + b"\x00" * 14), ("PFCOUNT", "s"),
        ("SET", "s", header(2) + XZERO(16384)), ("PFCOUNT", "s"), ("SET", "s", header(0) + b"\x00" * 100), ("PFADD", "s", "x"),
        ("SET", "s", header(0) + b"\x00" * 12289), ("PFCOUNT", "s"), ("SET", "i", "12345"), ("PFADD", "i", "x"),
        ("SET", "i", "-9223372036854775808"), ("PFCOUNT", "i"), ("SET", "s", header(1)[:15]), ("PFCOUNT", "s"),
        ("PFDEBUG", "ENCODING", "s"),
    ],
    "header only": [
        ("SET", "s", header(1, card=b"\x00" * 8)), ("PFCOUNT", "s"), ("PFADD", "s", "a"), ("GET", "s"), ("SET", "s", header(1)),
        ("PFCOUNT", "s"), ("PFMERGE", "d", "s"), ("EXISTS", "d"), ("PFCOUNT", "s", "s"),
    ],
    "short runs": [
        ("SET", "s", sparse(XZERO(16000))), ("PFCOUNT", "s"), ("PFCOUNT", "s", "nokey"), ("PFMERGE", "d", "s"),
        ("PFADD", "s", element(0, 16000)), ("GET", "s"), ("PFADD", "s", element(16000, 16384)), ("GET", "s"),
        ("PFADD", "s", element(0, 16000, 1), element(16000, 16384), element(0, 16000, 2)), ("GET", "s"), ("PFCOUNT", "s"),
        ("PFDEBUG", "GETREG", "s"), ("PFDEBUG", "TODENSE", "s"), ("PFDEBUG", "DECODE", "s"),
    ],
    "runs past the last register": [
        ("SET", "s", sparse(XZERO(16384), VAL(3, 1))), ("PFCOUNT", "s"), ("PFCOUNT", "s", "nokey"), ("PFMERGE", "d", "s"),
        ("GET", "d"), ("PFADD", "s", "x"), ("GET", "s"), ("SET", "t", sparse(XZERO(16384), ZERO(1), VAL(3, 1))),
        ("PFCOUNT", "t", "nokey"), ("PFMERGE", "d", "t"), ("SET", "u", sparse(XZERO(16383), VAL(2, 4))), ("PFCOUNT", "u", "u"),
        ("PFMERGE", "e", "u"), ("SET", "v", sparse(XZERO(16384), VAL(3, 1), ZERO(2))), ("PFCOUNT", "v", "nokey"),
        ("PFDEBUG", "TODENSE", "s"), ("GET", "s"), ("PFDEBUG", "TODENSE", "v"),
    ],
    "a string cut inside an xzero": [
        ("SET", "s", VALID_CUT), ("PFCOUNT", "s"), ("PFCOUNT", "s", "nokey"), ("PFDEBUG", "DECODE", "s"),
        ("SET", "s", VALID_CUT), ("PFADD", "s", element(0, 255)), ("GET", "s"), ("SET", "s", VALID_CUT), ("PFMERGE", "s", "nokey"),
        ("GET", "s"), ("SET", "t", sparse(b"\x7f")), ("PFCOUNT", "t"), ("PFCOUNT", "t", "t"),
    ],
    "non-canonical sparse": [
        ("SET", "s", sparse(ZERO(10), ZERO(10), VAL(1, 4), VAL(1, 4), VAL(1, 1), XZERO(16355))), ("PFCOUNT", "s"),
        ("PFADD", "s", *[element(0, 40, i) for i in range(6)]), ("GET", "s"), ("PFCOUNT", "s"), ("PFMERGE", "d", "s"), ("GET", "d"),
        ("SET", "x", sparse(XZERO(1), XZERO(16383))), ("PFADD", "x", element(0, 1)), ("GET", "x"),
    ],
    "cached cardinality and unused bytes": [
        ("SET", "s", header(1, card=(12345).to_bytes(8, "little"), unused=b"\xaa\xbb\xcc") + XZERO(16384)), ("PFCOUNT", "s"),
        ("PFCOUNT", "s", "s"), ("PFADD", "s", "a"), ("GET", "s"), ("PFCOUNT", "s"), ("GET", "s"),
        ("SET", "s", header(1, card=b"\xff" * 7 + b"\x7f") + XZERO(16384)), ("PFCOUNT", "s"),
        ("SET", "s", header(1, card=b"\x01" * 8, unused=b"\x01\x02\x03") + XZERO(16384)), ("PFDEBUG", "TODENSE", "s"), ("GET", "s"),
    ],
    "dense with any register values": [
        ("SET", "r", DENSE_RANDOM), ("PFCOUNT", "r"), ("GET", "r"), ("PFCOUNT", "r", "nokey"), ("PFADD", "h", "a", "b"),
        ("PFMERGE", "h", "r"), ("GET", "h"), ("PFCOUNT", "h"), ("PFADD", "r", *[b"%d" % i for i in range(50)]), ("GET", "r"),
        ("SET", "z", header(0) + bytes(12288)), ("PFCOUNT", "z"), ("PFMERGE", "z2", "z"), ("GET", "z2"),
    ],
    "pfdebug": [
        ("PFADD", "h", "a", "b", "c"), ("PFDEBUG", "ENCODING", "h"), ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "decode", "h"),
        ("PFDEBUG", "FOO", "h"), (b"PFDEBUG", b"FOO\x00bar", b"h"), ("PFDEBUG", "ENCODING", "nokey"), ("PFDEBUG", "TODENSE", "h"),
        ("GET", "h"), ("PFDEBUG", "TODENSE", "h"), ("PFDEBUG", "DECODE", "h"), ("PFDEBUG", "ENCODING", "h"), ("PFADD", "g", "x"),
        ("PFDEBUG", "GETREG", "g"), ("GET", "g"), (b"PFDEBUG", b"encoding\x00x", b"g"),
    ],
    "pfcount storing its count touches a watch": [
        ("PFADD", "h", "a"), ("WATCH", "h"), ("PFCOUNT", "h"), ("MULTI",), ("PING",), ("EXEC",), ("WATCH", "h"),
        ("PFCOUNT", "h"), ("MULTI",), ("PING",), ("EXEC",), ("WATCH", "h"), ("PFCOUNT", "h", "h"), ("MULTI",), ("EXEC",),
    ],
    "arity": [("PFADD",), ("PFCOUNT",), ("PFMERGE",), ("PFDEBUG", "ENCODING"), ("PFDEBUG", "ENCODING", "a", "b")],
}


@pytest.mark.parametrize("name", list(CASES))
def test_hll_command_replies(pair, name):
    for cmd in CASES[name]:
        pair.check(*cmd)


@pytest.mark.parametrize("name", ["pfadd", "pfcount of several keys", "pfmerge", "not an hll", "pfdebug"])
def test_hll_command_replies_in_resp3(pair, name):
    resp3(pair)
    for cmd in CASES[name]:
        pair.check(*cmd)


def test_read_and_write_lookups_count_like_redis(pair):
    pair.check("PFADD", "a", "x")
    check_lookup_stats(pair, [
        ("PFADD", "a", "y"), ("PFADD", "n", "y"), ("PFCOUNT", "a"), ("PFCOUNT", "nokey"), ("PFCOUNT", "a", "nokey", "n"),
        ("PFMERGE", "a", "n", "nokey"), ("PFMERGE", "new", "nokey"), ("PFDEBUG", "ENCODING", "a"), ("PFDEBUG", "ENCODING", "nokey"),
    ])


# -- values built on one server, used on the other ----------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 40, 700, 1500, 2600, 5000])
def test_values_travel_both_ways(pair, size):
    """A value GET from Redis and SET into Vermilion counts, merges and grows the same, and
    one built by Vermilion does the same in Redis."""
    els = elements(size, size)
    half = len(els) // 2
    for builder, other in ((pair.redis, pair.ours), (pair.ours, pair.redis)):
        for c in (pair.redis, pair.ours):
            c.call("FLUSHALL")
        builder.call("PFADD", "src", *els[:half]) if half else builder.call("PFADD", "src")
        builder.call("PFADD", "src2", *els[half:]) if els[half:] else builder.call("PFADD", "src2")
        for key in ("src", "src2"):
            value = builder.call("GET", key).split(b"\r\n", 1)[1][:-2]
            other.call("SET", key, value)
        pair.check("GET", "src")
        pair.check("PFCOUNT", "src", "src2")
        pair.check("PFCOUNT", "src")
        pair.check("GET", "src")
        pair.check("PFMERGE", "m", "src", "src2")
        pair.check("GET", "m")
        pair.check("PFMERGE", "src", "src2")
        pair.check("GET", "src")
        pair.check("PFADD", "src2", *elements(30, size + 1))
        pair.check("GET", "src2")
        pair.check("PFCOUNT", "src2")


@pytest.mark.parametrize("size", [300, 1400, 3000, 20000])
def test_growing_hll_has_redis_bytes_at_every_step(pair, size):
    """Sparse growth, the promotion to dense and dense updates: identical strings throughout."""
    els = elements(size, 1000 + size)
    add_both(pair, "h", els, chunk=max(1, size // 25))
    pair.check("PFCOUNT", "h")
    pair.check("GET", "h")
    pair.check("PFDEBUG", "ENCODING", "h")


def test_merging_sparse_sources_builds_redis_sparse_result(pair):
    """PFMERGE of sparse HLLs sets each merged register into a sparse destination, which
    may turn dense on the way; the result is Redis's byte for byte."""
    for i, n in enumerate([60, 400, 800, 1200, 1500]):
        add_both(pair, "s%d" % i, elements(n, 50 + i), chunk=n)
    for dest, srcs in [("m1", ["s0"]), ("m2", ["s0", "s1"]), ("m3", ["s1", "s2"]), ("m4", ["s2", "s3", "s4"]),
                       ("s0", ["s1"]), ("s3", ["s0", "s1"])]:
        pair.check("PFMERGE", dest, *srcs)
        pair.check("GET", dest)
        pair.check("PFDEBUG", "ENCODING", dest)
        pair.check("PFCOUNT", dest)
        pair.check("PFCOUNT", *srcs)


@pytest.fixture
def sparse_limit(pair):
    yield pair
    pair.check("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


@pytest.mark.parametrize("limit", ["0", "20", "100", "500", "10000"])
def test_sparse_max_bytes_decides_promotion(sparse_limit, limit):
    pair = sparse_limit
    pair.check("CONFIG", "SET", "hll-sparse-max-bytes", limit)
    add_both(pair, "h", elements(1200, 77), chunk=40)
    add_both(pair, "a", elements(20, 78), chunk=1)
    pair.check("PFMERGE", "m", "a")
    pair.check("GET", "m")
    pair.check("PFMERGE", "a", "h")
    pair.check("GET", "a")


#: Elements whose hash has more than 32 zero bits above the register index: their register
#: value cannot be stored in a sparse VAL opcode (found by brute force over "e<N>").
BIG_RUNS = [b"e2119568080"]


def test_register_value_above_32_promotes_to_dense(pair):
    for e in BIG_RUNS:
        assert pat_len(e)[1] > 32
    pair.check("PFADD", "h", "a", "b")
    pair.check("PFADD", "h", "c", BIG_RUNS[0], "d")
    pair.check("GET", "h")
    pair.check("PFDEBUG", "ENCODING", "h")
    pair.check("PFCOUNT", "h")
    pair.check("PFADD", "g", BIG_RUNS[0])
    pair.check("GET", "g")
    pair.check("PFADD", "k", "x")
    pair.check("PFMERGE", "k", "g")
    pair.check("GET", "k")


def test_corrupted_runs_keep_updates_made_before_them(pair):
    """PFADD meets an uncovered register after updating others: the error, and the updates
    stay in the value (unsignalled)."""
    first, second, third = element(0, 8000), element(8000, 16384), element(0, 8000, 1)
    pair.check("SET", "s", sparse(XZERO(8000)))
    pair.check("PFADD", "s", first, second, third)
    pair.check("GET", "s")
    pair.check("PFCOUNT", "s")
    pair.check("SET", "t", sparse(XZERO(16384)[:1]))
    pair.check("PFADD", "t", first)
    pair.check("GET", "t")


# -- generated element sets and sequences ------------------------------------------------------------

ELEMENT = st.one_of(st.binary(max_size=12), st.integers(0, 10**6).map(lambda i: b"%d" % i))


@fuzz(120)
@given(batches=st.lists(st.lists(ELEMENT, max_size=40), min_size=1, max_size=8))
def test_random_element_batches_give_redis_bytes(pair, batches):
    for c in (pair.redis, pair.ours):
        c.call("FLUSHALL")
    for batch in batches:
        pair.check("PFADD", "h", *batch)
        pair.check("GET", "h")
    pair.check("PFCOUNT", "h")
    pair.check("GET", "h")


@fuzz(12)
@given(size=st.integers(1000, 4000), seed=st.integers(0, 10**6), batches=st.integers(1, 6))
def test_random_large_sets_through_promotion(pair, size, seed, batches):
    for c in (pair.redis, pair.ours):
        c.call("FLUSHALL")
    add_both(pair, "h", elements(size, seed), chunk=-(-size // batches))
    pair.check("PFCOUNT", "h")
    pair.check("GET", "h")


@st.composite
def cut_values(draw):
    """A sparse value covering 16384 registers that ends inside an XZERO (its low byte is
    read past the end), after a few random opcodes."""
    high = draw(st.integers(0, 60))
    tail = (high << 8) + 1
    ops = []
    covered = 0
    for op in draw(st.lists(st.sampled_from([ZERO(1), ZERO(3), ZERO(64), VAL(1, 1), VAL(2, 2), VAL(5, 4)]), max_size=6)):
        ops.append(op)
        covered += ((op[0] & 63) + 1) if op[0] < 0x40 else (op[0] & 3) + 1
    rest = REGISTERS - tail - covered
    while rest > 0:
        n = min(rest, 16384)
        ops.append(XZERO(n) if n > 64 else ZERO(n))
        rest -= n
    return sparse(*ops, bytes((0x40 | high,)))


@fuzz(60)
@given(value=cut_values(), batches=st.lists(st.lists(ELEMENT, max_size=30), min_size=1, max_size=5))
def test_values_cut_inside_an_xzero_update_like_redis(pair, value, batches):
    for c in (pair.redis, pair.ours):
        c.call("FLUSHALL")
    pair.check("SET", "h", value)
    for batch in batches:
        pair.check("PFADD", "h", *batch)
        pair.check("GET", "h")
    pair.check("PFCOUNT", "h")
    pair.check("PFMERGE", "m", "h")
    pair.check("GET", "m")


KEYS = _one_of(b"a", b"b", b"c")
_ELEMENTS = st.lists(ELEMENT, max_size=6).map(tuple)


def hll_commands():
    k = KEYS
    return st.one_of(
        _cmd(b"PFADD", k, _ELEMENTS),
        _cmd(b"PFADD", k, st.integers(0, 10**6).map(lambda s: tuple(elements(300, s)))),
        _cmd(b"PFCOUNT", k),
        _cmd(b"PFCOUNT", k, k, _one_of((), (b"c",))),
        _cmd(b"PFMERGE", k, st.lists(k, max_size=3).map(tuple)),
        _cmd(b"GET", k),
        _cmd(b"APPEND", k, _one_of(b"", b"x")),
        _cmd(b"SETRANGE", k, _one_of(b"4", b"15", b"16", b"17"), _one_of(b"\x00", b"\x01", b"\x7f", b"\xc0")),
        _cmd(b"COPY", k, k),
        _cmd(b"DEL", k),
        _cmd(b"SET", k, _one_of(b"x", sparse(XZERO(16384)), VALID_CUT, sparse(XZERO(100)))),
        _cmd(b"PFDEBUG", _one_of(b"ENCODING", b"TODENSE", b"DECODE"), k),
        _cmd(b"CONFIG", b"SET", b"hll-sparse-max-bytes", _one_of(b"3000", b"200", b"40")),
        _cmd(b"OBJECT", b"ENCODING", k),
    )


@fuzz(150)
@given(commands=st.lists(hll_commands(), min_size=1, max_size=20))
def test_random_hll_command_sequences(sparse_limit, commands):
    pair = sparse_limit
    pair.check("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    for c in (pair.redis, pair.ours):
        c.call("FLUSHALL")
    for cmd in commands:
        pair.check(*cmd)
    for key in (b"a", b"b", b"c"):
        pair.check("GET", key)


# -- propagation and keyspace events ----------------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "pfadd": [("PFADD", "h", "a", "b"), ("PFADD", "h", "a"), ("PFADD", "h"), ("PFADD", "n"), ("PFADD", "h", "c", "a")],
    "pfcount stores its count": [("PFADD", "h", "a"), ("PFCOUNT", "h"), ("PFCOUNT", "h"), ("PFADD", "h", "b"), ("PFCOUNT", "h"),
                                 ("PFCOUNT", "h", "h"), ("PFCOUNT", "nokey")],
    "pfmerge": [("PFADD", "a", "x"), ("PFMERGE", "d", "a"), ("PFMERGE", "d"), ("PFMERGE", "n", "nokey"), ("PFMERGE", "a", "d")],
    "errors": [("SET", "s", "abc"), ("PFADD", "s", "x"), ("PFCOUNT", "s"), ("PFMERGE", "d", "s"),
               ("SET", "c", sparse(XZERO(8000))), ("PFADD", "c", element(0, 8000), element(8000, 16384))],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])
