"""Dispatch: ``node.call`` on the commands redis-benchmark sends, and a whole connection
batch (``Client.data_received``: read, dispatch, join, write) for a 16-request pipeline.

The node and client are real (see conftest); only the socket is missing, so these are the
per-request costs the event loop adds to.
"""

from __future__ import annotations

import pytest

from .conftest import GET_16, KEY, PIPELINE_16, SET_16, VALUE

call = pytest.mark.benchmark(group="dispatch: node.call, one request")
batch = pytest.mark.benchmark(group="connection: data_received, 16-request pipeline")


@call
def test_call_get_hit(benchmark, node, client):
    node.call(client, [b"SET", KEY, VALUE])
    assert benchmark(node.call, client, [b"GET", KEY]) == b"$3\r\nVXK\r\n"


@call
def test_call_get_miss(benchmark, node, client):
    assert benchmark(node.call, client, [b"GET", KEY]) == b"$-1\r\n"


@call
def test_call_set(benchmark, node, client):
    assert benchmark(node.call, client, [b"SET", KEY, VALUE]) == b"+OK\r\n"


@call
def test_call_incr(benchmark, node, client):
    assert benchmark(node.call, client, [b"INCR", b"counter"]).startswith(b":")


@call
def test_call_ping(benchmark, node, client):
    assert benchmark(node.call, client, [b"PING"]) == b"+PONG\r\n"


def _batch(benchmark, client, data: bytes, reply_bytes: int) -> None:
    sink = client.transport
    benchmark(client.data_received, data)
    assert sink.written % reply_bytes == 0 and sink.written > 0


@batch
def test_batch_get_x16(benchmark, node, client):
    node.call(client, [b"SET", KEY, VALUE])
    _batch(benchmark, client, GET_16, 16 * len(b"$3\r\nVXK\r\n"))


@batch
def test_batch_set_x16(benchmark, client):
    _batch(benchmark, client, SET_16, 16 * len(b"+OK\r\n"))


@batch
def test_batch_set_get_x16(benchmark, client):
    _batch(benchmark, client, PIPELINE_16, 8 * len(b"+OK\r\n$3\r\nVXK\r\n"))
