"""The format pieces on their own (sans-IO): CRC-64, LZF, listpack, intset, ziplist, the
string and length encodings, and whole values through the writer and back through the
loader. Interoperability with real Redis is tested in the other modules of this package;
these pin down boundaries and pit the native helpers against the pure-Python fallbacks."""

from __future__ import annotations

import math
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.datatypes.hash import RHash
from server.datatypes.list import RList
from server.datatypes.set import RSet
from server.datatypes.zset import ZSet
from server.persistence import crc64 as crc
from server.persistence import lzf
from server.persistence.encodings import (
    BlobError,
    intset_decode,
    intset_encode,
    lp_decode,
    lp_encode,
    zipmap_decode,
    zl_decode,
)
from server.persistence.rdb import (
    LoadLimits,
    RdbError,
    Reader,
    SaveOptions,
    dump_payload,
    encode_length,
    encode_string,
    load_payload,
    verify_payload,
    write_value,
)
from tests.persistence.support import ziplist, zipmap

# -- CRC-64 -------------------------------------------------------------------------------------


def test_crc64_check_value():
    assert crc.crc64(b"123456789") == crc.crc64_pure(b"123456789") == crc.CHECK_VALUE


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 65537])
def test_crc64_native_and_pure_agree_and_continue_across_chunks(n):
    data = random.Random(n).randbytes(n)
    whole = crc.crc64(data)
    assert crc.crc64_pure(data) == whole
    cut = n // 3
    assert crc.crc64(data[cut:], crc.crc64(data[:cut])) == whole
    assert crc.crc64_pure(data[cut:], crc.crc64_pure(data[:cut])) == whole


# -- LZF -----------------------------------------------------------------------------------------

SAMPLES = [b"a" * 100, b"abc" * 1000, b"hello world " * 50, bytes(range(256)) * 4, os.urandom(500) * 3,
           b"x" * 21 + b"y" * 21, b"0123456789" * 3000]


@pytest.mark.parametrize("data", SAMPLES, ids=range(len(SAMPLES)))
def test_lzf_streams_decode_the_same_in_both_implementations(data):
    for packed in (lzf.compress(data, len(data) - 4), lzf.compress_pure(data, len(data) - 4)):
        assert packed is not None and len(packed) <= len(data) - 4
        assert lzf.decompress(packed, len(data)) == data
        assert lzf.decompress_pure(packed, len(data)) == data


@given(st.binary(min_size=0, max_size=3000) | st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=8),
                                                        st.integers(1, 400)))
@settings(max_examples=200, deadline=None)
def test_lzf_pure_compressor_round_trips(data):
    packed = lzf.compress_pure(data, len(data) + 64)
    assert packed is not None
    assert lzf.decompress_pure(packed, len(data)) == data
    if data:
        assert lzf.decompress(packed, len(data)) == data


def test_incompressible_data_is_not_compressed():
    data = os.urandom(100)
    assert lzf.compress(data, 96) is None
    assert lzf.compress_pure(data, 96) is None


@pytest.mark.parametrize("stream, size", [(b"\x04abc", 5), (b"\x20\x05", 6), (b"\x00a\x20", 4), (b"\x00a", 2)])
def test_broken_lzf_streams_raise(stream, size):
    for decompress in (lzf.decompress, lzf.decompress_pure):
        with pytest.raises(lzf.LzfError):
            decompress(stream, size)


# -- strings and lengths ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    (b"0", b"\xc0\x00"), (b"-128", b"\xc0\x80"), (b"127", b"\xc0\x7f"), (b"128", b"\xc1\x80\x00"),
    (b"-32768", b"\xc1\x00\x80"), (b"32768", b"\xc2\x00\x80\x00\x00"), (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
    (b"-2147483648", b"\xc2\x00\x00\x00\x80"), (b"2147483648", b"\x0a2147483648"), (b"-0", b"\x02-0"),
    (b"01", b"\x0201"), (b"+1", b"\x02+1"), (b"", b"\x00"), (b"a" * 20, b"\x14" + b"a" * 20),
])
def test_string_encodings(text, expected):
    assert encode_string(text) == expected


def test_long_strings_are_compressed_only_when_asked_and_worth_it():
    assert encode_string(b"a" * 21)[:1] == b"\xc3"
    assert encode_string(b"a" * 21, compress=False) == b"\x15" + b"a" * 21
    noise = os.urandom(40)
    assert encode_string(noise) == b"\x28" + noise


@pytest.mark.parametrize("n, expected", [
    (63, b"\x3f"), (64, b"\x40\x40"), (16383, b"\x7f\xff"), (16384, b"\x80\x00\x00\x40\x00"),
    (2**32 - 1, b"\x80\xff\xff\xff\xff"), (2**32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
])
def test_length_encodings(n, expected):
    assert encode_length(n) == expected


@pytest.mark.parametrize("n", [0, 63, 64, 16383, 16384, 70000])
def test_strings_of_every_length_form_read_back(n):
    data = random.Random(n).randbytes(n)
    for compress in (True, False):
        assert Reader(encode_string(data, compress), LoadLimits()).string() == data


# -- listpack, intset, ziplist, zipmap ---------------------------------------------------------------

BOUNDARY_INTS = [0, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, 32768, -32768, -32769, 8388607, 8388608,
                 -8388608, -8388609, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, -(2**63)]


def test_listpack_integer_and_string_boundaries_round_trip():
    items = [b"%d" % v for v in BOUNDARY_INTS] + [
        b"", b"a" * 63, b"a" * 64, b"a" * 4095, b"a" * 4096, b"b" * 127, b"b" * 16383, b"b" * 70000,
        b"9223372036854775808", b"-0", b"007", b"1.5"]
    blob = lp_encode(items)
    assert lp_decode(blob) == items


@given(st.lists(st.binary(max_size=300) | st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v), max_size=80))
@settings(max_examples=150, deadline=None)
def test_listpacks_round_trip(items):
    assert lp_decode(lp_encode(items)) == items


@pytest.mark.parametrize("blob", [
    b"", b"\x07\x00\x00\x00\x00\x00",  # too short / no terminator
    b"\x08\x00\x00\x00\x00\x00\xff",  # size mismatch
    b"\x0d\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\xff",  # count mismatch
    b"\x0a\x00\x00\x00\x01\x00\x85a\x02\xff",  # string past the end
    b"\x0a\x00\x00\x00\x01\x00\xf9a\x02\xff",  # bad encoding byte
])
def test_damaged_listpacks_raise(blob):
    with pytest.raises(BlobError):
        lp_decode(blob)


@pytest.mark.parametrize("values, width", [([1, -5, 3], 2), ([70000, 1], 4), ([2**40, -1], 8), ([-(2**63), 2**63 - 1], 8)])
def test_intsets_use_the_narrowest_width(values, width):
    blob = intset_encode(sorted(values))
    assert int.from_bytes(blob[:4], "little") == width
    assert intset_decode(blob) == sorted(values)


@pytest.mark.parametrize("blob", [b"", b"\x02\x00\x00\x00\x00\x00\x00\x00", b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00",
                                  b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"])
def test_damaged_intsets_raise(blob):
    with pytest.raises(BlobError):
        intset_decode(blob)


@given(st.lists(st.binary(max_size=300) | st.integers(-(2**63), 2**63 - 1), max_size=60))
@settings(max_examples=150, deadline=None)
def test_ziplists_decode(items):
    expected = [b"%d" % v if isinstance(v, int) else v for v in items]
    assert zl_decode(ziplist(items)) == expected


def test_zipmaps_decode_with_free_space_and_long_values():
    pairs = [(b"k", b"v"), (b"long", b"x" * 300), (b"", b"")]
    assert zipmap_decode(zipmap(pairs, free=3)) == [x for p in pairs for x in p]
    with pytest.raises(BlobError):
        zipmap_decode(zipmap(pairs)[:-1])


# -- whole values ------------------------------------------------------------------------------------

members = st.binary(max_size=40) | st.integers(-(2**63), 2**63 - 1).map(lambda v: b"%d" % v)


def _read_back(value, limits=LoadLimits()):
    out = bytearray()
    assert write_value(out, None, value, SaveOptions())
    r = Reader(bytes(out), limits)
    loaded = r.value(r.byte())
    assert r.pos == len(out)
    return loaded


@given(st.lists(members, min_size=1, max_size=300), st.sampled_from([-5, -2, -1, 1, 3, 128]))
@settings(max_examples=100, deadline=None)
def test_lists_round_trip_whatever_the_node_size(values, fill):
    out = bytearray()
    write_value(out, None, RList(values), SaveOptions(list_fill=fill))
    r = Reader(bytes(out), LoadLimits())
    assert list(r.value(r.byte())) == values


@given(st.sets(members, min_size=1, max_size=200))
@settings(max_examples=100, deadline=None)
def test_sets_round_trip(values):
    loaded = _read_back(RSet.build(values, 512))
    assert set(loaded) == values


@given(st.dictionaries(members, members, min_size=1, max_size=100), st.booleans())
@settings(max_examples=100, deadline=None)
def test_hashes_round_trip(pairs, listpack):
    assert dict(_read_back(RHash(pairs, listpack))) == pairs


@given(st.dictionaries(members, st.floats(allow_nan=False), min_size=1, max_size=100), st.booleans())
@settings(max_examples=100, deadline=None)
def test_zsets_round_trip(pairs, listpack):
    # Without listpack limits a skiplist stays one, and keeps -0.0 (a listpack stores 0).
    limits = LoadLimits() if listpack else LoadLimits(zset_entries=0)
    loaded = _read_back(ZSet.from_pairs(pairs.items(), listpack), limits)
    assert loaded.listpack == listpack
    expected = {m: s + 0.0 if listpack else s for m, s in pairs.items()}
    assert loaded.scores == expected
    for m, s in loaded.scores.items():
        assert math.copysign(1, s) == math.copysign(1, expected[m])


def test_dump_payloads_carry_version_and_checksum():
    p = dump_payload(b"value", SaveOptions())
    assert p[-10:-8] == b"\x0a\x00" and verify_payload(p)
    assert load_payload(p, LoadLimits()) == b"value"
    assert not verify_payload(p[:-1] + bytes([p[-1] ^ 1]))
    assert not verify_payload(b"\x00" * 9)
    with pytest.raises(RdbError):
        load_payload(b"\xff" + p[1:], LoadLimits())
