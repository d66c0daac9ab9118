"""The reply encoder: every RESP2/RESP3 type byte for byte against real Redis (DEBUG PROTOCOL
and ZSCORE give each type in both protocols), and generated values read back by hiredis."""

from __future__ import annotations

import math

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol.encoder as enc
from tests.support.resp import RawClient


@pytest.fixture(scope="module")
def redis_conn(redis_ref):
    """A raw connection to real Redis, with one reply per call in either protocol."""
    with RawClient(redis_ref.port) as c:
        yield c


def _debug_protocol(c: RawClient, proto: int, kind: str) -> bytes:
    c.call("HELLO", proto)
    reply = c.call("DEBUG", "PROTOCOL", kind)
    if kind == "push" and proto == 3:
        c.read_reply()  # DEBUG PROTOCOL push also sends a normal reply after the push
    return reply


def _ours(p: enc.Resp2, kind: str) -> bytes:
    return {
        "string": enc.bulk(b"Hello World"),
        "integer": enc.integer(12345),
        "double": p.double(3.141),
        "bignum": p.bignum(b"1234567999999999999999999999999999999"),
        "null": p.null,
        "array": enc.array([enc.integer(i) for i in range(3)]),
        "set": p.set_header(3) + b"".join(enc.integer(i) for i in range(3)),
        "map": p.map_header(3) + b"".join(enc.integer(i) + p.boolean(i == 1) for i in range(3)),
        "verbatim": p.verbatim(b"This is a verbatim\nstring"),
        "true": p.boolean(True),
        "false": p.boolean(False),
        "push": p.push_header(2) + enc.bulk(b"server-cpu-usage") + enc.integer(42),
    }[kind]


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize(
    "kind", ["string", "integer", "double", "bignum", "null", "array", "set", "map", "verbatim", "true", "false"]
)
def test_every_type_matches_redis(redis_conn, proto, kind):
    assert _ours(enc.for_version(proto), kind) == _debug_protocol(redis_conn, proto, kind)


def test_push_matches_redis_in_resp3(redis_conn):
    assert _ours(enc.RESP3, "push") == _debug_protocol(redis_conn, 3, "push")


SCORES = [0.1, 1.5, 3.0, 0.0, 1e300, -1e-300, 5e-324, 2.0**53 + 1, 1 / 3, 123456789.123456789,
          math.inf, -math.inf, 1e15, 1e16, 1e17, -2.5e-5]


@pytest.mark.parametrize("proto", [2, 3])
def test_doubles_match_redis_zscore(redis_conn, proto):
    redis_conn.call("HELLO", proto)
    p = enc.for_version(proto)
    for score in SCORES:
        redis_conn.call("ZADD", "enc:z", repr(score), "m")
        assert p.double(score) == redis_conn.call("ZSCORE", "enc:z", "m"), score
    redis_conn.call("DEL", "enc:z")
    redis_conn.call("HELLO", 2)


def test_nan_is_spelled_like_redis():
    assert enc.format_double(math.nan) == b"nan"
    assert enc.RESP3.double(math.nan) == b",nan\r\n"
    assert enc.RESP2.double(-math.inf) == b"$4\r\n-inf\r\n"


def test_nulls_and_empties_per_protocol():
    assert (enc.RESP2.null, enc.RESP2.null_array) == (b"$-1\r\n", b"*-1\r\n")
    assert (enc.RESP3.null, enc.RESP3.null_array) == (b"_\r\n", b"_\r\n")
    assert (enc.RESP2.empty_map, enc.RESP2.empty_set) == (b"*0\r\n", b"*0\r\n")
    assert (enc.RESP3.empty_map, enc.RESP3.empty_set) == (b"%0\r\n", b"~0\r\n")
    assert enc.RESP2.bulk_or_null(None) == b"$-1\r\n" and enc.RESP3.bulk_or_null(None) == b"_\r\n"
    assert enc.RESP2.bulk_or_null(b"") == enc.RESP3.bulk_or_null(b"") == b"$0\r\n\r\n"
    assert enc.for_version(3) is enc.RESP3 and enc.for_version(2) is enc.RESP2


def test_error_replies_get_a_code_and_lose_line_breaks():
    assert enc.error("syntax error") == b"-ERR syntax error\r\n"
    assert enc.error("-WRONGTYPE Operation") == b"-WRONGTYPE Operation\r\n"
    assert enc.error(b"a\r\nb\nc\rd") == b"-ERR a  b c d\r\n"
    assert enc.error("caf\u00e9") == b"-ERR caf\xc3\xa9\r\n"


@pytest.mark.parametrize("n", [-(2**63), -3, -2, -1, 0, 1, 9999, 10000, 10001, 2**63 - 1])
def test_integers_inside_and_outside_the_cache(n):
    assert enc.integer(n) == b":%d\r\n" % n


# -- generated values read back by hiredis ---------------------------------------------------


def _resp3_reader():
    return hiredis.Reader()


def _read(data: bytes):
    r = _resp3_reader()
    r.feed(data)
    value = r.gets()
    assert r.gets() is False, "trailing bytes after one reply"
    return value


@given(st.binary(max_size=300))
def test_bulk_round_trips(value):
    assert _read(enc.bulk(value)) == value


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_bulk_array_round_trips(values):
    assert _read(enc.bulk_array(values)) == values
    assert enc.bulk_array(values) == enc.array([enc.bulk(v) for v in values])


@given(st.integers(-(2**63), 2**63 - 1))
def test_integer_round_trips(n):
    assert _read(enc.integer(n)) == n


@given(st.floats(allow_nan=False))
def test_double_round_trips_exactly(x):
    # %.17g always round-trips a binary double.
    assert _read(enc.RESP3.double(x)) == x
    assert float(_read(enc.RESP2.double(x))) == x


@given(st.dictionaries(st.binary(max_size=10), st.binary(max_size=10), max_size=8))
def test_map_round_trips_in_both_protocols(d):
    items = b"".join(enc.bulk(k) + enc.bulk(v) for k, v in d.items())
    assert _read(enc.RESP3.map_header(len(d)) + items) == d
    flat = _read(enc.RESP2.map_header(len(d)) + items)
    assert dict(zip(flat[::2], flat[1::2])) == d


@given(st.lists(st.binary(max_size=10), max_size=8))
def test_set_and_push_headers_frame_their_items(values):
    items = b"".join(enc.bulk(v) for v in values)
    for header in (enc.RESP3.set_header, enc.RESP3.push_header, enc.RESP2.set_header, enc.RESP2.push_header):
        assert list(_read(header(len(values)) + items)) == values


@given(st.binary(max_size=100))
def test_verbatim_round_trips(text):
    assert _read(enc.RESP2.verbatim(text)) == text
    # hiredis hands a verbatim string back without its "txt:" prefix
    assert _read(enc.RESP3.verbatim(text)) == text


@given(st.booleans())
def test_booleans(flag):
    assert _read(enc.RESP3.boolean(flag)) is flag
    assert _read(enc.RESP2.boolean(flag)) == int(flag)
