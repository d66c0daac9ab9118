"""Reply encoding: bulk strings, integers (cached and formatted), arrays."""

from __future__ import annotations

import pytest

from protocol import encoder as enc

pytestmark = pytest.mark.benchmark(group="encoder")

VALUES_10 = [b"value:%d" % i for i in range(10)]
ENCODED_10 = [enc.bulk(v) for v in VALUES_10]


def test_encode_bulk_small(benchmark):
    assert benchmark(enc.bulk, b"VXK") == b"$3\r\nVXK\r\n"


def test_encode_bulk_1k(benchmark):
    value = b"x" * 1024
    assert benchmark(enc.bulk, value) == b"$1024\r\n" + value + b"\r\n"


def test_encode_integer_cached(benchmark):
    assert benchmark(enc.integer, 42) == b":42\r\n"


def test_encode_integer_formatted(benchmark):
    assert benchmark(enc.integer, 1234567890) == b":1234567890\r\n"


def test_encode_bulk_array_10(benchmark):
    out = benchmark(enc.bulk_array, VALUES_10)
    assert out == b"*10\r\n" + b"".join(ENCODED_10)


def test_encode_array_of_encoded_10(benchmark):
    out = benchmark(enc.array, ENCODED_10)
    assert out == b"*10\r\n" + b"".join(ENCODED_10)


def test_encode_null_or_bulk_resp3(benchmark):
    assert benchmark(enc.RESP3.bulk_or_null, None) == b"_\r\n"
