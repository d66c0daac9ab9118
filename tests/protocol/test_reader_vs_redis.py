"""Real Redis judges the reference reader: the same bytes go to redis-server 7.0 and to a
Vermilion node; the replies (which echo what each request was parsed to) and whether the
server hung up must be what the reference reader predicts, on both servers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.protocol.cases import CASES
from tests.protocol.feeding import outcome
from tests.protocol.streams import garbage_streams, mutated_streams, valid_streams
from tests.protocol.wire import exchange, model_replies
from tests.support.servers import real_redis, vermilion


@pytest.fixture(scope="module")
def servers(redis_ref, diff_node):
    return redis_ref.port, diff_node.port


@pytest.fixture(scope="module")
def unauth_servers():
    with real_redis("--requirepass", "pw") as rp, vermilion(requirepass="pw") as node:
        yield rp.port, node.port


def _judge(ports, data: bytes, auth: bool = True, settle: float = 0.3):
    """Send ``data`` to both; check Redis against the model and Vermilion against Redis.

    A server that is not expected to hang up is given ``settle`` seconds to do so wrongly;
    one that is expected to is given seconds, so a loaded machine cannot fake a difference.
    """
    expected = outcome(data, authenticated=auth, max_requests=0 if auth else 1)
    theirs, ours = exchange(ports, data, settle if expected.error is None else 5.0)
    model = model_replies(expected, auth)
    if model is not None:
        assert theirs.reply == model, f"redis disagrees with the reference reader on {data!r}"
    assert theirs.closed == (expected.error is not None), data
    assert ours == theirs, f"\n stream {data[:200]!r}\n redis:     {theirs!r}\n vermilion: {ours!r}"


@pytest.mark.parametrize("case", [c for c in CASES if c.wire], ids=lambda c: c.id)
def test_case_matches_real_redis(case, servers, unauth_servers):
    _judge(servers if case.auth else unauth_servers, case.data, case.auth)


WIRE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                HealthCheck.function_scoped_fixture])


@WIRE
@given(valid_streams())
def test_generated_valid_streams_match_real_redis(servers, stream):
    _judge(servers, stream[0], settle=0.05)


@WIRE
@given(st.one_of(mutated_streams(), garbage_streams))
def test_generated_broken_streams_match_real_redis(servers, data):
    _judge(servers, data, settle=0.05)


@WIRE
@given(mutated_streams())
def test_generated_broken_streams_before_auth_match_real_redis(unauth_servers, data):
    _judge(unauth_servers, data, auth=False, settle=0.05)
