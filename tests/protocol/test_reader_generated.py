"""Generated streams: the fast reader always agrees with the reference, however the stream
is cut; valid streams parse to exactly the requests they were written from."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.reader import PyRequestReader, RequestReader
from tests.protocol.feeding import agree, cut, outcome, run
from tests.protocol.streams import (
    garbage_streams,
    mutated_streams,
    resp_streams,
    valid_streams,
)

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(valid_streams(), st.integers(0, 2**32))
def test_valid_streams_parse_to_the_requests_they_encode(stream, seed):
    data, argvs = stream
    got = agree(data, seed)
    assert got.requests == argvs
    assert got.error is None and got.pending == 0


@SETTINGS
@given(valid_streams(), st.integers(0, 2**32))
def test_valid_streams_read_one_request_at_a_time(stream, seed):
    data, argvs = stream
    assert agree(data, seed, max_requests=1).requests == argvs


@SETTINGS
@given(mutated_streams(), st.integers(0, 2**32))
def test_readers_agree_on_mutated_streams(data, seed):
    agree(data, seed)


@SETTINGS
@given(mutated_streams(), st.integers(0, 2**32))
def test_readers_agree_on_mutated_streams_before_auth(data, seed):
    agree(data, seed, max_requests=1, authenticated=False)


@SETTINGS
@given(garbage_streams, st.integers(0, 2**32))
def test_readers_agree_on_garbage(data, seed):
    agree(data, seed)


@SETTINGS
@given(resp_streams, st.integers(0, 2**32))
def test_readers_agree_on_resp_values_of_every_type(data, seed):
    agree(data, seed)


@SETTINGS
@given(st.lists(st.one_of(mutated_streams(), resp_streams, valid_streams().map(lambda s: s[0])), max_size=4),
       st.data())
def test_fast_reader_with_any_cut_points_matches_the_reference(parts, data):
    # Hypothesis picks the cut points, so it can shrink to the exact boundary that matters.
    stream = b"".join(parts)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    chunks = cut(stream, cuts)
    expected = outcome(stream, PyRequestReader)
    assert run(RequestReader(), chunks) == expected
    assert run(PyRequestReader(), chunks) == expected
