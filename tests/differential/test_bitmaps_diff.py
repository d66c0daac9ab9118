"""Bitmap commands against real Redis 7.0.15: reply bytes, propagated commands and keyspace
events compared, for hand-picked edge cases and for hypothesis-generated sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import bitmap_commands, check_all, check_lookup_stats, fuzz, make_foreign, pipeline_compare, string_commands


VALUES = [b"", b"\x00", b"\xff", b"foobar", b"\xff\xf0\x00", b"\x00\x00\x01", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"1234", b"\x80" + b"\x00" * 40 + b"\x01"]


# -- SETBIT / GETBIT ---------------------------------------------------------------------------


def test_setbit_getbit(pair):
    check_all(
        pair,
        ("GETBIT", "k", "0"),
        ("SETBIT", "k", "7", "1"),
        ("GET", "k"),
        ("SETBIT", "k", "7", "1"),
        ("SETBIT", "k", "7", "0"),
        ("SETBIT", "k", "100", "0"),
        ("GET", "k"),
        ("GETBIT", "k", "7"),
        ("GETBIT", "k", "1000"),
        ("SET", "n", "12"),
        ("GETBIT", "n", "2"),
        ("SETBIT", "n", "7", "1"),
        ("GET", "n"),
    )


BAD_OFFSETS = ["-1", "x", "", "1.5", "4294967296", "9223372036854775808", "#1", " 1"]
BAD_BITS = ["2", "-1", "x", "", "01", "1.0", "9223372036854775807"]


def test_setbit_getbit_argument_errors(pair, diff_node):
    for offset in BAD_OFFSETS:
        check_all(pair, ("SETBIT", "k", offset, "1"), ("GETBIT", "k", offset), ("GETBIT", "missing", offset))
    for bit in BAD_BITS:
        check_all(pair, ("SETBIT", "k", "0", bit))
    make_foreign(pair, diff_node, "l")
    check_all(pair, ("SETBIT", "l", "0", "1"), ("GETBIT", "l", "0"), ("SETBIT", "l", "-1", "1"), ("SETBIT", "l", "0", "2"))


# -- BITCOUNT / BITPOS ---------------------------------------------------------------------------

COUNT_RANGES = [(), ("0", "-1"), ("0", "0"), ("1", "1"), ("-1", "-1"), ("-2", "-1"), ("-1", "-2"), ("5", "2"), ("-100", "100"),
                ("0", "-1", "BIT"), ("3", "17", "BIT"), ("3", "17", "bit"), ("-9", "-2", "BIT"), ("0", "0", "BYTE"), ("7", "7", "BIT"),
                ("8", "15", "BIT"), ("9", "9", "BIT"), ("-1", "-2", "BIT"), ("-1", "-2", "FOO"), ("0", "1", "FOO"), ("1",),
                ("a", "1"), ("1", "a"), ("0", "-1", "BIT", "x"), ("9223372036854775807", "-9223372036854775808"),
                ("-9223372036854775808", "9223372036854775807", "BIT")]


@pytest.mark.parametrize("value", VALUES)
def test_bitcount_ranges(pair, value):
    pair.check("SET", "k", value)
    for r in COUNT_RANGES:
        check_all(pair, ("BITCOUNT", "k", *r), ("BITCOUNT", "missing", *r))


POS_RANGES = [(), ("0",), ("1",), ("-1",), ("2", "-1"), ("0", "-1"), ("1", "1"), ("3", "1"), ("-100",), ("100",),
              ("0", "-1", "BIT"), ("3", "21", "BIT"), ("0", "-3", "bit"), ("1", "1", "BYTE"), ("9", "9", "BIT"),
              ("7", "8", "BIT"), ("5", "6", "BIT"), ("-5", "-1", "BIT"), ("0", "7", "BIT"), ("8", "23", "BIT"),
              ("1", "1", "FOO"), ("x",), ("1", "x"), ("1", "x", "FOO"), ("0", "-1", "BIT", "x")]


@pytest.mark.parametrize("value", VALUES)
def test_bitpos_ranges(pair, value):
    pair.check("SET", "k", value)
    for bit in ("0", "1"):
        for r in POS_RANGES:
            check_all(pair, ("BITPOS", "k", bit, *r), ("BITPOS", "missing", bit, *r))
    check_all(pair, ("BITPOS", "k", "2"), ("BITPOS", "k", "-1"), ("BITPOS", "k", "x"), ("BITPOS", "missing", "2"))


def test_bitcount_bitpos_on_other_types(pair, diff_node):
    make_foreign(pair, diff_node, "l")
    check_all(pair, ("BITCOUNT", "l"), ("BITCOUNT", "l", "0", "x"), ("BITPOS", "l", "1"), ("BITPOS", "l", "2"), ("BITPOS", "l", "1", "x"))


# -- BITOP -----------------------------------------------------------------------------------------


def test_bitop(pair, diff_node):
    pair.check("MSET", "a", b"\xff\x0f\x00", "b", b"\xf0", "c", b"\x01\x02\x03\x04\x05\x06\x07\x08" * 6, "e", "")
    for op in ("AND", "OR", "XOR", "and", "xor"):
        check_all(pair, ("BITOP", op, "d", "a", "b", "c"), ("GET", "d"), ("BITOP", op, "d", "a", "missing"), ("GET", "d"),
                  ("BITOP", op, "d", "c", "c", "c"), ("GET", "d"), ("BITOP", op, "d", "a"), ("GET", "d"))
    check_all(
        pair,
        ("BITOP", "NOT", "d", "a"),
        ("GET", "d"),
        ("BITOP", "NOT", "d", "a", "b"),
        ("BITOP", "NOT", "d", "missing"),
        ("GET", "d"),
        ("BITOP", "AND", "d", "missing", "e"),
        ("BITOP", "NAND", "d", "a"),
        ("BITOP", "OR", "a", "a", "b"),
        ("GET", "a"),
        ("BITOP", "AND", "d"),
    )
    make_foreign(pair, diff_node, "l")
    check_all(pair, ("BITOP", "AND", "d", "a", "l"), ("BITOP", "OR", "l", "a"), ("GET", "l"), ("BITOP", "NOT", "d", "l"))


# -- BITFIELD --------------------------------------------------------------------------------------

BITFIELD_CASES = [
    ("SET", "i8", "0", "-128", "GET", "u8", "0", "INCRBY", "i8", "0", "-1"),
    ("OVERFLOW", "SAT", "INCRBY", "i8", "0", "-100", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-100", "INCRBY", "u4", "0", "100"),
    ("OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808", "GET", "i8", "0"),
    ("OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "u8", "0", "256", "OVERFLOW", "WRAP", "SET", "u8", "0", "-1", "SET", "u8", "0", "257"),
    ("SET", "u63", "3", "9223372036854775807", "INCRBY", "u63", "3", "1", "OVERFLOW", "SAT", "INCRBY", "u63", "3", "5",
     "OVERFLOW", "WRAP", "INCRBY", "u63", "3", "-1", "INCRBY", "u63", "3", "-9223372036854775808"),
    ("SET", "i64", "10", "-9223372036854775808", "INCRBY", "i64", "10", "-1", "OVERFLOW", "SAT", "INCRBY", "i64", "10", "-1",
     "INCRBY", "i64", "10", "9223372036854775807", "INCRBY", "i64", "10", "10", "OVERFLOW", "FAIL", "INCRBY", "i64", "10", "9223372036854775807"),
    ("SET", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "9223372036854775807"),
    ("GET", "u4", "#3", "SET", "u4", "#3", "17", "GET", "i3", "1000", "GET", "i1", "0", "SET", "i1", "0", "-1", "GET", "u1", "0"),
    ("INCRBY", "u2", "100", "1", "GET", "u2", "100", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "3"),
    ("OVERFLOW", "WRAP", "INCRBY", "i5", "1", "100", "INCRBY", "i5", "1", "-100", "OVERFLOW", "SAT", "INCRBY", "i5", "1", "-100", "INCRBY", "i5", "1", "100"),
    ("set", "I8", "0", "1"),
    ("SET", "i65", "0", "1"),
    ("SET", "u64", "0", "1"),
    ("SET", "u0", "0", "1"),
    ("SET", "i08", "0", "1"),
    ("SET", "x8", "0", "1"),
    (b"GET", b"i8\x00x", b"0"),
    ("GET", "i8", "-1"),
    ("GET", "i8", "#-1"),
    ("GET", "i8", "##1"),
    ("GET", "i64", "#9223372036854775807"),
    ("GET", "i64", "#536870911"),
    ("GET", "i64", "#67108863"),
    ("GET", "i8", "4294967296"),
    ("SET", "i8", "0", "x"),
    ("SET", "i8", "0"),
    ("GET", "i8"),
    ("OVERFLOW",),
    ("OVERFLOW", "FOO"),
    ("OVERFLOW", "sat"),
    ("FOO", "i8", "0"),
    ("GET", "i8", "0", "SET", "i8", "0", "1", "BAD"),
    (),
]


@pytest.mark.parametrize("ops", BITFIELD_CASES, ids=lambda o: " ".join(map(str, o))[:60] or "none")
def test_bitfield_cases(pair, ops):
    check_all(pair, ("BITFIELD", "new", *ops), ("GET", "new"), ("SET", "k", b"\x80\x01\xfe\x7f"), ("BITFIELD", "k", *ops), ("GET", "k"),
              ("BITFIELD_RO", "k", *ops))


def test_bitfield_ro_and_types(pair, diff_node):
    pair.check("SET", "k", "foobar")
    check_all(
        pair,
        ("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i16", "#1", "GET", "u63", "5"),
        ("BITFIELD_RO", "missing", "GET", "u8", "0"),
        ("BITFIELD_RO", "k", "SET", "u8", "0", "1"),
        ("BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"),
        ("BITFIELD_RO", "k", "OVERFLOW", "SAT"),
        ("BITFIELD_RO", "k"),
        ("BITFIELD", "k"),
    )
    make_foreign(pair, diff_node, "l")
    check_all(pair, ("BITFIELD", "l", "GET", "u8", "0"), ("BITFIELD", "l", "SET", "u8", "0", "1"), ("BITFIELD_RO", "l", "GET", "u8", "0"),
              ("BITFIELD", "l"), ("BITFIELD", "l", "GET", "u99", "0"))


def test_read_and_write_lookups_count_hits_and_misses_like_redis(pair):
    check_lookup_stats(
        pair,
        [("SETBIT", "b", "1", "1"), ("GETBIT", "b", "1"), ("GETBIT", "x", "1"), ("BITCOUNT", "b"), ("BITCOUNT", "x"),
         ("BITPOS", "b", "1"), ("BITPOS", "x", "1"), ("BITOP", "AND", "d", "b", "x"), ("BITFIELD", "b", "GET", "u8", "0"),
         ("BITFIELD", "x", "GET", "u8", "0"), ("BITFIELD", "b", "SET", "u8", "0", "1"), ("BITFIELD_RO", "b", "GET", "u8", "0"),
         ("BITFIELD_RO", "x", "GET", "u8", "0")],
    )


def test_resp3_bitfield_fail_is_null(pair):
    pair.check("HELLO", "3", normalize=lambda r: b"")
    check_all(pair, ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9", "GET", "u2", "0"))


def test_arity_errors(pair):
    for cmd in ["SETBIT", "GETBIT", "BITCOUNT", "BITPOS", "BITOP", "BITFIELD", "BITFIELD_RO"]:
        pair.check(cmd)
        pair.check(cmd, "k")


# -- generated sequences ------------------------------------------------------------------------------


@fuzz(600)
@given(commands=st.lists(bitmap_commands(), min_size=1, max_size=25))
def test_random_bitmap_command_sequences(pair, commands):
    pipeline_compare(pair, [(b"FLUSHALL",)] + commands)


@fuzz(400)
@given(commands=st.lists(st.one_of(bitmap_commands(), string_commands()), min_size=1, max_size=25))
def test_random_mixed_string_and_bitmap_sequences(pair, commands):
    pipeline_compare(pair, [(b"FLUSHALL",)] + commands)


# -- propagation and keyspace events ------------------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "setbit": [("SETBIT", "k", "3", "1"), ("SETBIT", "k", "3", "1"), ("SETBIT", "k", "3", "0"), ("SETBIT", "k", "30", "0")],
    "setbit on embstr": [("SET", "k", "a"), ("SETBIT", "k", "1", "1"), ("SETBIT", "k", "2", "1")],
    "bitop": [("SET", "a", "x"), ("BITOP", "NOT", "d", "a"), ("BITOP", "AND", "d", "missing"), ("BITOP", "OR", "d", "missing")],
    "bitfield writes": [("BITFIELD", "k", "SET", "u8", "0", "5", "SET", "u8", "0", "5", "INCRBY", "u8", "0", "0"),
                        ("BITFIELD", "k", "SET", "u8", "0", "5"), ("BITFIELD", "k", "INCRBY", "u8", "0", "1", "INCRBY", "u8", "8", "1")],
    "bitfield all failed on new key": [("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "100"), ("GET", "f")],
    "bitfield reads": [("SET", "k", "x"), ("BITFIELD", "k", "GET", "u8", "0"), ("BITFIELD_RO", "k", "GET", "u8", "0"), ("BITCOUNT", "k"),
                       ("BITPOS", "k", "1"), ("GETBIT", "k", "1")],
    "expired source and target": [("SET", "a", "x", "PXAT", "1"), ("SET", "b", "y"), ("BITOP", "OR", "d", "a", "b"),
                                  ("SET", "d", "y", "PXAT", "1"), ("SETBIT", "d", "1", "1")],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


@fuzz(300)
@given(commands=st.lists(bitmap_commands(), min_size=1, max_size=12))
def test_random_sequences_propagate_and_notify_like_redis(mirrored, commands):
    mirrored.check(*commands)
