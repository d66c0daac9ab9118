"""Bitmap commands end to end through redis-py: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
BITFIELD and BITFIELD_RO."""

from __future__ import annotations

import pytest
import redis

from tests.differential import ForeignValue

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def stored(node, key: bytes):
    return node.dbs[0].data.get(key)


# -- SETBIT / GETBIT ---------------------------------------------------------------------------


def test_setbit_returns_the_old_bit_and_grows_the_string(r, shared_node):
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 0) == 1
    assert r.setbit("k", 17, 1) == 0
    assert r.get("k") == b"\x00\x00\x40"
    assert type(stored(shared_node, b"k")) is bytearray
    assert r.getbit("k", 17) == 1
    assert r.getbit("k", 18) == 0
    assert r.getbit("k", 10**6) == 0
    assert r.getbit("missing", 3) == 0


def test_setbit_keeps_the_ttl(r, shared_node):
    r.set("k", "a", ex=100)
    r.setbit("k", 1, 0)
    r.setbit("k", 100, 1)
    assert shared_node.dbs[0].expires.get(b"k") is not None


def test_setbit_that_changes_nothing_does_not_count_as_a_change(r, shared_node):
    r.setbit("k", 3, 1)
    before = shared_node.dirty
    assert r.setbit("k", 3, 1) == 1
    assert shared_node.dirty == before
    r.setbit("k", 3, 0)
    assert shared_node.dirty == before + 1


@pytest.mark.parametrize("offset", ["-1", "x", "4294967296", "1.5"])
def test_bit_offsets_are_checked(r, offset):
    with pytest.raises(redis.ResponseError, match="^bit offset is not an integer or out of range$"):
        r.execute_command("SETBIT", "k", offset, "1")
    with pytest.raises(redis.ResponseError, match="^bit offset is not an integer or out of range$"):
        r.execute_command("GETBIT", "k", offset)


@pytest.mark.parametrize("bit", ["2", "-1", "x"])
def test_bit_values_are_zero_or_one(r, bit):
    with pytest.raises(redis.ResponseError, match="^bit is not an integer or out of range$"):
        r.execute_command("SETBIT", "k", "0", bit)


def test_offset_limit_follows_proto_max_bulk_len(make_node):
    n = make_node(proto_max_bulk_len="1mb")
    c = redis.Redis(port=n.port)
    assert c.setbit("k", 8 * 1024 * 1024 - 1, 1) == 0
    assert c.strlen("k") == 1024 * 1024
    with pytest.raises(redis.ResponseError, match="bit offset is not an integer or out of range"):
        c.setbit("k", 8 * 1024 * 1024, 1)
    c.close()


# -- BITCOUNT / BITPOS ---------------------------------------------------------------------------


def test_bitcount_bytes_and_bits(r):
    r.set("k", "foobar")
    assert r.bitcount("k") == 26
    assert r.bitcount("k", 0, 0) == 4
    assert r.bitcount("k", 1, 1) == 6
    assert r.bitcount("k", 5, 30, "BIT") == 17
    assert r.bitcount("k", -2, -1) == 7
    assert r.bitcount("k", -1, -2) == 0
    assert r.bitcount("missing") == 0
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BITCOUNT", "k", "0")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BITCOUNT", "k", "0", "1", "BITS")


def test_bitpos(r):
    r.set("k", b"\xff\xf0\x00")
    assert r.bitpos("k", 0) == 12
    assert r.bitpos("k", 1, 2) == -1
    assert r.bitpos("k", 0, 2) == 16
    assert r.bitpos("k", 1, 7, 15, "BIT") == 7
    r.set("ones", b"\xff\xff")
    assert r.bitpos("ones", 0) == 16  # the right of the string counts as zero padding
    assert r.bitpos("ones", 0, 0, -1) == -1  # ... but not with an explicit end
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    with pytest.raises(redis.ResponseError, match="The bit argument must be 1 or 0."):
        r.execute_command("BITPOS", "k", "2")


# -- BITOP ------------------------------------------------------------------------------------------


def test_bitop_pads_shorter_strings_with_zeros(r, shared_node):
    r.set("a", b"\xff\x0f")
    r.set("b", b"\xf0")
    assert r.bitop("AND", "d", "a", "b") == 2
    assert r.get("d") == b"\xf0\x00"
    assert type(stored(shared_node, b"d")) is bytearray
    assert r.bitop("OR", "d", "a", "b", "missing") == 2
    assert r.get("d") == b"\xff\x0f"
    assert r.bitop("XOR", "d", "a", "b") == 2
    assert r.get("d") == b"\x0f\x0f"
    assert r.bitop("NOT", "d", "b") == 1
    assert r.get("d") == b"\x0f"


def test_bitop_with_only_empty_sources_deletes_the_target(r):
    r.set("d", "x")
    assert r.bitop("AND", "d", "missing", "missing2") == 0
    assert r.get("d") is None


def test_bitop_errors(r):
    with pytest.raises(redis.ResponseError, match="BITOP NOT must be called with a single source key."):
        r.bitop("NOT", "d", "a", "b")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.bitop("NAND", "d", "a")


# -- BITFIELD ---------------------------------------------------------------------------------------


def test_bitfield_set_get_incrby(r):
    assert r.bitfield("k").set("i8", 0, 100).get("u4", 0).incrby("i8", 0, 27).execute() == [0, 6, 127]
    assert r.get("k") == b"\x7f"
    assert r.execute_command("BITFIELD", "k", "GET", "u8", "#0", "SET", "u4", "#1", "15", "GET", "u8", "0") == [127, 15, 127]


def test_bitfield_overflow_modes(r):
    def incr(mode, amount):
        return r.execute_command("BITFIELD", "k", "OVERFLOW", mode, "INCRBY", "u2", "0", amount)

    assert incr("WRAP", 5) == [1]
    assert incr("SAT", 10) == [3]
    assert incr("SAT", -10) == [0]
    assert incr("FAIL", -1) == [None]
    assert incr("FAIL", 3) == [3]
    assert r.get("k") == b"\xc0"


def test_bitfield_signed_64_bit_limits(r):
    assert r.execute_command("BITFIELD", "k", "SET", "i64", "0", 2**63 - 1, "INCRBY", "i64", "0", 1) == [0, -(2**63)]
    assert r.execute_command("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "0", -1) == [-(2**63)]
    assert r.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", -1) == [None]
    assert r.execute_command("BITFIELD", "k", "GET", "u63", "0", "GET", "i64", "0") == [2**62, -(2**63)]


@pytest.mark.parametrize("kind", ["u64", "i65", "i0", "I8", "8", "i"])
def test_bitfield_types(r, kind):
    with pytest.raises(redis.ResponseError, match="Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."):
        r.execute_command("BITFIELD", "k", "GET", kind, "0")


def test_bitfield_all_failed_writes_still_create_the_key(r):
    assert r.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9") == [None]
    assert r.get("k") == b"\x00"


def test_bitfield_ro_only_reads(r):
    r.set("k", b"\xf0")
    assert r.bitfield_ro("k", "u4", 0) == [15]
    assert r.execute_command("BITFIELD_RO", "missing", "GET", "i8", "0") == [0]
    with pytest.raises(redis.ResponseError, match="BITFIELD_RO only supports the GET subcommand"):
        r.execute_command("BITFIELD_RO", "k", "SET", "u4", "0", "1")
    with pytest.raises(redis.ResponseError, match="Invalid OVERFLOW type specified"):
        r.execute_command("BITFIELD", "k", "OVERFLOW", "NONE")


# -- wrong type --------------------------------------------------------------------------------------

WRONGTYPE_COMMANDS = [
    ("SETBIT", "l", "0", "1"), ("GETBIT", "l", "0"), ("BITCOUNT", "l"), ("BITPOS", "l", "1"), ("BITOP", "AND", "d", "l"),
    ("BITFIELD", "l", "GET", "u8", "0"), ("BITFIELD", "l", "SET", "u8", "0", "1"), ("BITFIELD_RO", "l", "GET", "u8", "0"),
]


@pytest.mark.parametrize("command", WRONGTYPE_COMMANDS, ids=lambda c: c[0])
def test_bitmap_commands_refuse_values_of_other_types(r, shared_node, command):
    shared_node.dbs[0].data[b"l"] = ForeignValue()
    with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
        r.execute_command(*command)
    assert r.get("d") is None
