"""The backlog ring: offsets, wrapping by whole blocks, reads from any held offset."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replication.backlog import BLOCK, MIN_SIZE, Backlog


def test_a_new_backlog_is_empty_and_starts_after_the_current_offset():
    b = Backlog(1 << 20, 1000)
    assert (b.histlen, b.end, b.first_byte_offset) == (0, 1000, 1001)
    assert b.can_serve(1001) and not b.can_serve(1000) and not b.can_serve(1002)
    assert b.read_from(1001) == b""


def test_feeding_moves_the_end_and_keeps_every_byte_until_full():
    b = Backlog(1 << 20, 0)
    b.feed(b"hello")
    b.feed(b" world")
    assert (b.end, b.histlen, b.first_byte_offset) == (11, 11, 1)
    assert b.read_from(1) == b"hello world"
    assert b.read_from(7) == b"world"
    assert b.read_from(12) == b""


def test_the_size_is_never_below_redis_minimum():
    assert Backlog(1, 0).size == MIN_SIZE


def test_whole_blocks_are_dropped_but_never_below_the_configured_size():
    size = 2 * BLOCK
    b = Backlog(size, 0)
    data = bytes(range(256)) * 1000  # 256000 bytes
    b.feed(data)
    assert b.end == len(data)
    assert size < b.histlen <= size + BLOCK
    assert b.first_byte_offset == b.end - b.histlen + 1
    start = b.first_byte_offset
    assert b.read_from(start) == data[start - 1 :]
    assert not b.can_serve(start - 1)


def test_resize_trims_to_the_new_size():
    b = Backlog(1 << 20, 0)
    b.feed(b"x" * (200 * 1024))
    b.resize(MIN_SIZE)
    assert MIN_SIZE < b.histlen <= MIN_SIZE + BLOCK
    assert b.read_from(b.first_byte_offset) == b"x" * b.histlen


def test_reading_outside_the_window_is_refused():
    b = Backlog(MIN_SIZE, 10)
    b.feed(b"abc")
    with pytest.raises(ValueError):
        b.read_from(10)
    with pytest.raises(ValueError):
        b.read_from(15)


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=40_000), max_size=30),
    size=st.sampled_from([MIN_SIZE, 3 * BLOCK + 5, 1 << 20]),
    start=st.integers(min_value=0, max_value=10**12),
)
def test_the_backlog_always_holds_the_last_bytes_of_the_stream(chunks, size, start):
    b = Backlog(size, start)
    stream = b""
    for chunk in chunks:
        b.feed(chunk)
        stream += chunk
        assert b.end == start + len(stream)
        assert b.histlen >= min(len(stream), size)
        first = b.first_byte_offset
        assert b.read_from(first) == stream[first - start - 1 :]
        mid = (first + b.end + 1) // 2
        assert b.read_from(mid) == stream[mid - start - 1 :]
