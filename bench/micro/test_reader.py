"""The request reader: hiredis fast path and the pure-Python reference reader, on one
request and on the 16-request pipelines ``redis-benchmark -P 16`` sends."""

from __future__ import annotations

import pytest

from protocol.reader import PyRequestReader, RequestReader

from .conftest import GET, GET_16, KEY, PING_INLINE_16, PIPELINE_16, SET, VALUE

READERS = {"fast": RequestReader, "reference": PyRequestReader}
INPUTS = {
    "get": (GET, [[b"GET", KEY]]),
    "set": (SET, [[b"SET", KEY, VALUE]]),
    "get_x16": (GET_16, [[b"GET", KEY]] * 16),
    "set_get_x16": (PIPELINE_16, [[b"SET", KEY, VALUE], [b"GET", KEY]] * 8),
    "ping_inline_x16": (PING_INLINE_16, [[b"PING"]] * 16),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("name", list(INPUTS))
def test_reader_feed(benchmark, reader, name):
    data, expected = INPUTS[name]
    r = READERS[reader]()
    benchmark.group = f"reader {name}"
    reqs, err = benchmark(r.feed, data)
    assert err is None
    assert reqs == expected
