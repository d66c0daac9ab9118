"""String commands end to end through redis-py, plus the pure pieces behind them
(long double arithmetic for INCRBYFLOAT, the bit-parallel LCS table)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import redis

from server.commands.strings import lcs_rows, lcs_walk
from server.datatypes import longdouble
from tests.differential import ForeignValue
from tests.support.resp import RawClient

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def expiry(node, key: bytes):
    """The key's absolute expiry in ms, read from the node (None if it has none)."""
    return node.dbs[0].expires.get(key)


def stored(node, key: bytes):
    return node.dbs[0].data.get(key)


# -- GET / SET -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"", b"\x00", b"a\r\nb", b"\xff" * 3, b"x" * 70_000])
def test_set_then_get_round_trips_binary_values(r, value):
    assert r.set(b"k\x00\r\n", value) is True
    assert r.get(b"k\x00\r\n") == value
    assert r.strlen(b"k\x00\r\n") == len(value)


def test_set_nx_xx(r):
    assert r.set("k", "1", xx=True) is None
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == b"3"


def test_set_get_returns_the_old_value(r):
    assert r.set("k", "1", get=True) is None
    assert r.set("k", "2", get=True) == b"1"
    assert r.set("k", "3", nx=True, get=True) == b"2"  # NX refused, old value still returned
    assert r.get("k") == b"2"


def test_set_expire_options_store_absolute_times(r, shared_node):
    now = shared_node.clock.ms
    r.set("ex", "v", ex=100)
    r.set("px", "v", px=5000)
    r.set("exat", "v", exat=4_000_000_000)
    r.set("pxat", "v", pxat=4_000_000_000_123)
    assert now + 99_000 <= expiry(shared_node, b"ex") <= now + 101_000
    assert now + 4_000 <= expiry(shared_node, b"px") <= now + 6_000
    assert expiry(shared_node, b"exat") == 4_000_000_000_000
    assert expiry(shared_node, b"pxat") == 4_000_000_000_123


def test_plain_set_drops_the_ttl_and_keepttl_keeps_it(r, shared_node):
    r.set("k", "v", ex=100)
    r.set("k", "w", keepttl=True)
    assert expiry(shared_node, b"k") is not None
    r.set("k", "x")
    assert expiry(shared_node, b"k") is None


@pytest.mark.parametrize(
    "args, error",
    [
        (("EX", "0"), "invalid expire time in 'set' command"),
        (("PX", "-1"), "invalid expire time in 'set' command"),
        (("EX", "9223372036854775"), "invalid expire time in 'set' command"),
        (("PX", "9223372036854775807"), "invalid expire time in 'set' command"),
        (("EX", "x"), "value is not an integer or out of range"),
        (("EX",), "syntax error"),
        (("NX", "XX"), "syntax error"),
        (("EX", "1", "PX", "1"), "syntax error"),
        (("KEEPTTL", "EX", "1"), "syntax error"),
        (("PERSIST",), "syntax error"),
    ],
)
def test_set_refuses_bad_options(r, args, error):
    with pytest.raises(redis.ResponseError, match=f"^{error}$"):
        r.execute_command("SET", "k", "v", *args)
    assert r.get("k") is None


def test_option_words_are_c_strings(r):
    r.set("k", "1")
    assert r.set("k", "2", get=True, nx=True) == b"1"
    assert r.execute_command("SET", "k", "2", b"NX\x00junk") is None
    assert r.get("k") == b"1"


def test_set_with_a_past_absolute_time_leaves_no_key(r):
    assert r.set("k", "v", pxat=1) is True
    assert r.get("k") is None


def test_expired_key_is_replaced_by_set_keepttl_without_a_ttl(node):
    c = redis.Redis(port=node.port)
    c.set("k", "v", px=1000)
    node.clock.advance(2000)
    assert c.set("k", "w", keepttl=True) is True
    assert c.get("k") == b"w"
    assert expiry(node, b"k") is None
    c.close()


def test_setnx_setex_psetex(r, shared_node):
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.execute_command("SETEX", "k", 100, "3") is True
    assert r.get("k") == b"3" and expiry(shared_node, b"k") is not None
    assert r.psetex("p", 100_000, "4") is True
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'setex' command"):
        r.execute_command("SETEX", "k", 0, "v")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'psetex' command"):
        r.psetex("k", -5, "v")


def test_getex_sets_and_removes_ttls(r, shared_node):
    assert r.getex("missing", ex=10) is None
    r.set("k", "v")
    assert r.getex("k") == b"v" and expiry(shared_node, b"k") is None
    assert r.getex("k", ex=100) == b"v" and expiry(shared_node, b"k") is not None
    assert r.getex("k", persist=True) == b"v" and expiry(shared_node, b"k") is None
    assert r.getex("k", pxat=4_000_000_000_000) == b"v"
    assert expiry(shared_node, b"k") == 4_000_000_000_000
    assert r.getex("k", exat=1) == b"v"  # a past time deletes the key
    assert stored(shared_node, b"k") is None


def test_getex_checks_the_expire_time_only_for_existing_keys(r):
    assert r.execute_command("GETEX", "missing", "EX", "-1") is None
    r.set("k", "v")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'getex' command"):
        r.execute_command("GETEX", "k", "EX", "-1")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("GETEX", "k", "PERSIST", "EX", "1")


def test_getdel_and_getset(r, shared_node):
    assert r.getdel("k") is None
    assert r.getset("k", "1") is None
    shared_node.dbs[0].expires[b"k"] = 4_000_000_000_000
    assert r.getset("k", "2") == b"1"
    assert expiry(shared_node, b"k") is None  # GETSET drops the TTL
    assert r.getdel("k") == b"2"
    assert r.get("k") is None


def test_mget_mset_msetnx(r, shared_node):
    assert r.mset({"a": "1", "b": "2"}) is True
    shared_node.dbs[0].data[b"l"] = ForeignValue()
    assert r.mget("a", "b", "c", "l") == [b"1", b"2", None, None]
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.msetnx({"c": "3", "d": "4"}) is True
    assert r.mget("c", "d") == [b"3", b"4"]
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset' command"):
        r.execute_command("MSET", "a", "1", "b")


# -- in-place edits -----------------------------------------------------------------------------------


def test_append_grows_in_place_and_keeps_the_ttl(r, shared_node):
    assert r.append("k", "ab") == 2
    assert type(stored(shared_node, b"k")) is bytes  # a new key stores the argument as is
    shared_node.dbs[0].expires[b"k"] = 4_000_000_000_000
    assert r.append("k", b"\x00\r\n") == 5
    value = stored(shared_node, b"k")
    assert type(value) is bytearray  # "raw" from now on
    assert r.append("k", "z") == 6
    assert stored(shared_node, b"k") is value
    assert r.get("k") == b"ab\x00\r\nz"
    assert expiry(shared_node, b"k") == 4_000_000_000_000


def test_setrange_pads_with_zero_bytes(r, shared_node):
    assert r.setrange("k", 3, "ab") == 5
    assert r.get("k") == b"\x00\x00\x00ab"
    assert r.setrange("k", 1, "Z") == 5
    assert r.get("k") == b"\x00Z\x00ab"
    assert r.setrange("new", 10, "") == 0
    assert r.get("new") is None
    assert r.setrange("k", 100, "") == 5
    with pytest.raises(redis.ResponseError, match="offset is out of range"):
        r.setrange("k", -1, "x")
    with pytest.raises(redis.ResponseError, match=r"string exceeds maximum allowed size \(proto-max-bulk-len\)"):
        r.setrange("k", 512 * 1024 * 1024, "x")


@pytest.mark.parametrize(
    "start, end, expected",
    [(0, -1, b"Hello"), (1, 3, b"ell"), (-3, -1, b"llo"), (-1, -3, b""), (3, 1, b""), (-100, 1, b"He"), (4, 100, b"o"), (5, 6, b"")],
)
def test_getrange_and_substr(r, start, end, expected):
    r.set("k", "Hello")
    assert r.getrange("k", start, end) == expected
    assert r.substr("k", start, end) == expected


def test_string_size_limit(make_node):
    n = make_node(proto_max_bulk_len="1mb")
    c = redis.Redis(port=n.port)
    c.set("k", b"x" * (1024 * 1024))
    with pytest.raises(redis.ResponseError, match="string exceeds maximum allowed size"):
        c.append("k", "y")
    with pytest.raises(redis.ResponseError, match="string exceeds maximum allowed size"):
        c.setrange("k", 1024 * 1024, "y")
    assert c.strlen("k") == 1024 * 1024
    c.close()


# -- counters -------------------------------------------------------------------------------------------


def test_incr_family(r, shared_node):
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.decr("n") == 41
    assert r.decrby("n", -9) == 50
    shared_node.dbs[0].expires[b"n"] = 4_000_000_000_000
    assert r.incr("n") == 51
    assert expiry(shared_node, b"n") == 4_000_000_000_000  # counters keep the TTL


@pytest.mark.parametrize("value", [b" 1", b"1.0", b"01", b"+1", b"-0", b"9223372036854775808", b"abc", b""])
def test_incr_refuses_values_that_are_not_strict_integers(r, value):
    r.set("n", value)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("n")


def test_incr_overflow(r):
    r.set("n", 2**63 - 1)
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.incr("n")
    with pytest.raises(redis.ResponseError, match="^decrement would overflow$"):
        r.decrby("n", -(2**63))
    r.set("m", -(2**63))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.decr("m")


@pytest.mark.parametrize(
    "current, increment, result",
    [
        (b"10.5", b"0.1", b"10.6"),
        (b"1", b"-1.1", b"-0.1"),
        (b"0", b"0.000003814697265625", b"0.00000381469726562"),  # %.17Lf rounds half to even
        (b"3.0e3", b"1", b"3001"),
        (b"1", b"0x1p3", b"9"),
        (b"10000000000000000000", b"1", b"10000000000000000001"),  # exact in 64 bits, not in 53
        (b"100000000000000000000", b"1", b"100000000000000000000"),  # past 2**64: ulp is 8
        (b"1", b"-1", b"0"),
        (b"5", b"1e-4940", b"5"),
    ],
)
def test_incrbyfloat_computes_in_long_double(r, current, increment, result):
    r.set("f", current)
    assert r.incrbyfloat("f", increment) == float(result)
    assert r.get("f") == result


@pytest.mark.parametrize(
    "current, increment, error",
    [
        (b"1", b"x", "value is not a valid float"),
        (b"x", b"1", "value is not a valid float"),
        (b" 1", b"1", "value is not a valid float"),
        (b"1", b"1\x00", "value is not a valid float"),
        (b"1", b"nan", "value is not a valid float"),
        (b"1", b"1e-5000", "value is not a valid float"),
        (b"1", b"inf", "increment would produce NaN or Infinity"),
        (b"1e4932", b"1e4932", "increment would produce NaN or Infinity"),
    ],
)
def test_incrbyfloat_errors(r, current, increment, error):
    r.set("f", current)
    with pytest.raises(redis.ResponseError, match=f"^{error}$"):
        r.incrbyfloat("f", increment)
    assert r.get("f") == current


def test_incrbyfloat_keeps_the_ttl(r, shared_node):
    r.set("f", "1.5", ex=100)
    assert r.incrbyfloat("f", 1) == 2.5
    assert expiry(shared_node, b"f") is not None


# -- LCS ----------------------------------------------------------------------------------------------------


def test_lcs_string_length_and_ranges(r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.lcs("a", "b") == b"mytext"
    assert r.lcs("a", "b", len=True) == 6
    assert r.lcs("a", "b", idx=True, withmatchlen=True) == [
        b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6,
    ]
    assert r.lcs("a", "b", idx=True, minmatchlen=4) == [b"matches", [[[4, 7], [5, 8]]], b"len", 6]
    assert r.lcs("a", "missing") == b""
    with pytest.raises(redis.ResponseError, match="If you want both the length and indexes, please just use IDX."):
        r.execute_command("LCS", "a", "b", "LEN", "IDX")


def test_lcs_idx_is_a_map_in_resp3(shared_node):
    with RawClient(shared_node.port) as c:
        c.call("HELLO", "3")
        c.call("MSET", "a", "ab", "b", "ab")
        assert c.call("LCS", "a", "b", "IDX") == (
            b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:1\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:2\r\n"
        )


def _naive_lcs_table(a: bytes, b: bytes):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


def test_bit_parallel_lcs_rows_equal_the_dynamic_programming_table():
    rnd = random.Random(1)
    for _ in range(300):
        a = bytes(rnd.choice(b"abc") for _ in range(rnd.randrange(12)))
        b = bytes(rnd.choice(b"abc") for _ in range(rnd.randrange(12)))
        table = _naive_lcs_table(a, b)
        rows = lcs_rows(a, b, keep=True)
        for i, row in enumerate(rows):
            assert [j - (row & ((1 << j) - 1)).bit_count() for j in range(len(b) + 1)] == table[i]
        text, _ = lcs_walk(a, b, rows, 0)
        assert len(text) == table[len(a)][len(b)]


# -- wrong type --------------------------------------------------------------------------------------------

WRONGTYPE_COMMANDS = [
    ("GET", "l"), ("SET", "l", "v", "GET"), ("GETEX", "l"), ("GETDEL", "l"), ("GETSET", "l", "v"), ("APPEND", "l", "v"),
    ("STRLEN", "l"), ("GETRANGE", "l", "0", "1"), ("SUBSTR", "l", "0", "1"), ("SETRANGE", "l", "0", "v"), ("INCR", "l"),
    ("DECR", "l"), ("INCRBY", "l", "1"), ("DECRBY", "l", "1"), ("INCRBYFLOAT", "l", "1"),
]


@pytest.mark.parametrize("command", WRONGTYPE_COMMANDS, ids=lambda c: c[0])
def test_commands_refuse_values_of_other_types(r, shared_node, command):
    shared_node.dbs[0].data[b"l"] = ForeignValue()
    with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
        r.execute_command(*command)
    assert isinstance(shared_node.dbs[0].data[b"l"], ForeignValue)


def test_overwriting_commands_replace_values_of_other_types(r, shared_node):
    shared_node.dbs[0].data[b"l"] = ForeignValue()
    assert r.mget("l") == [None]
    assert r.set("l", "v") is True
    assert r.get("l") == b"v"
    shared_node.dbs[0].data[b"x"] = ForeignValue()
    with pytest.raises(redis.ResponseError, match="The specified keys must contain string values"):
        r.lcs("l", "x")


# -- long double -----------------------------------------------------------------------------------------------


def _exact(v) -> Fraction:
    m, e = v
    return m * Fraction(2) ** e


@pytest.mark.parametrize(
    "text, value",
    [
        (b"1", 1),
        (b"0.5", Fraction(1, 2)),
        (b"-2.5e1", -25),
        (b".25", Fraction(1, 4)),
        (b"5.", 5),
        (b"+3", 3),
        (b"0x1.8p1", 3),
        (b"0X10", 16),
        (b"0", 0),
        (b"-0", 0),
        (b"0e999999999999999999", 0),
    ],
)
def test_long_double_parses_like_strtold(text, value):
    assert _exact(longdouble.parse(text)) == value


def test_long_double_infinities_are_accepted_words():
    assert longdouble.parse(b"inf") == longdouble.INF
    assert longdouble.parse(b"-Infinity") == -longdouble.INF
    assert not longdouble.is_finite(longdouble.add(longdouble.parse(b"1"), longdouble.INF))


@pytest.mark.parametrize("text", [b"", b" 1", b"1 ", b"1e", b".", b"0x", b"nan", b"1\x00", b"1e5000", b"1e-5000", b"1" * 5120, b"+-1"])
def test_long_double_refuses_what_string2ld_refuses(text):
    assert longdouble.parse(text) is None


def test_long_double_rounds_to_a_64_bit_mantissa_half_to_even():
    # 2**64 + 1 is a tie between 2**64 and 2**64 + 2: even mantissa wins (2**64).
    assert _exact(longdouble.parse(b"%d" % (2**64 + 1))) == 2**64
    assert _exact(longdouble.parse(b"%d" % (2**64 + 3))) == 2**64 + 4
    # 0.1 has 64 significant bits in x87 precision, not 53 as a double.
    m, e = longdouble.parse(b"0.1")
    assert m.bit_length() == 64


def test_long_double_formatting_strips_zeros_and_negative_zero():
    assert longdouble.format_human((1, -1)) == b"0.5"
    assert longdouble.format_human((-1, -70)) == b"0"
    assert longdouble.format_human((3, 4)) == b"48"
    assert longdouble.format_human(longdouble.parse(b"10.5")) == b"10.5"
    total = longdouble.add(longdouble.parse(b"10.5"), longdouble.parse(b"0.1"))
    assert longdouble.format_human(total) == b"10.6"
