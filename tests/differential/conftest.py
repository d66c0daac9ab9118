"""Fixtures of the differential modules (the machinery itself is in ``__init__.py``)."""

from __future__ import annotations

import pytest

# The shared checks in blocking.py assert like test code: keep pytest's detailed reports.
pytest.register_assert_rewrite("tests.differential.blocking")

from tests.differential import mirror, real_side  # noqa: E402


@pytest.fixture(scope="module")
def mirrored():
    """A real Redis and a Vermilion node watched for propagation and keyspace events (see
    ``Mirror``); one pair per test module, flushed by every ``run``/``check``."""
    with real_side() as real, mirror(real) as m:
        yield m
