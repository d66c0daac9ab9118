"""Redis glob matching (server/glob.py) against real Redis 7.0.15: KEYS over a keyspace of
awkward names, for hand-picked quirks and for generated patterns, checked both through
our KEYS and through ``stringmatch`` directly; and the case-insensitive flavour against
real Redis's CONFIG GET."""

from __future__ import annotations

import time

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.glob import compile_pattern, stringmatch
from tests.support.differential import sorted_reply
from tests.support.resp import RawClient

#: Names built from the bytes that matter to the matcher, plus letters in both cases and
#: bytes above 127 (ranges compare *signed* chars).
NAMES = [
    b"", b"a", b"b", b"A", b"B", b"ab", b"ba", b"aa", b"abc", b"aXc", b"a\x00c", b"-", b"]", b"[",
    b"^", b"\\", b"*", b"?", b"a-", b"a]", b"[a]", b"\\a", b"a\\", b"\x80", b"\xff", b"a\xff",
    b"\x7f", b"_", b"`", b"z", b"hello", b"hallo", b"hllo", b"heeello", b"h*llo", b"x" * 30,
    b"ab" * 10, b"abab", b"\r\n",
]


def matches(pattern: bytes, names=NAMES) -> list[bytes]:
    return sorted(n for n in names if stringmatch(pattern, n))


def keys_expected(pattern: bytes) -> list[bytes]:
    """What KEYS returns: every name for exactly ``*`` (KEYS skips matching then, so the
    empty name is included), else the names ``stringmatch`` accepts."""
    return sorted(NAMES) if pattern == b"*" else matches(pattern)


def decode(reply: bytes):
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()


@pytest.fixture
def loaded(pair):
    pair.check("MSET", *[x for n in NAMES for x in (n, b"1")])
    return pair


QUIRKS = [
    b"*", b"**", b"", b"?", b"??", b"a*", b"*a", b"*a*", b"a?c", b"h?llo", b"h*llo", b"h[ae]llo",
    b"h[^e]llo", b"h[a-b]llo", b"[b-a]", b"[a-]", b"[-a]", b"[a-", b"[", b"[^", b"[]", b"[]]",
    b"[^]", b"[^]]", b"[]a]", b"[\\]]", b"[\\", b"[a\\", b"\\", b"a\\", b"\\a", b"\\*", b"\\?",
    b"\\[", b"[*]", b"[?]", b"[[]", b"[\\-]", b"[a-c-e]", b"[\x80-\xff]", b"[\xff-\x80]",
    b"[\x00-\x7f]", b"[\x7f-\x80]", b"[^\x80-\xff]", b"[A-z]", b"[z-A]", b"*b*b*b*b*b",
    b"*a*b*a*b*", b"*?*?*?", b"a*****", b"*[a]", b"[a]*", b"x*x*x*x*x*x*x*x*x*x*x*y",
    b"[a-c]*[b-b]", b"a\x00c", b"a[\x00]c", b"\\\\", b"[\\\\]", b"*\\",
]


@pytest.mark.parametrize("pattern", QUIRKS, ids=repr)
def test_keys_quirks_match_redis(loaded, pattern):
    reply = loaded.check("KEYS", pattern, normalize=sorted_reply)
    assert sorted(decode(loaded.redis.call("KEYS", pattern))) == keys_expected(pattern)
    assert reply.startswith(b"*")


_PATTERN_BYTES = st.sampled_from([b"a", b"b", b"A", b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"\x80", b"\xff", b"z", b"_"])
PATTERNS = st.lists(_PATTERN_BYTES, max_size=9).map(b"".join)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=PATTERNS)
def test_generated_patterns_match_redis_keys(loaded, pattern):
    theirs = sorted(decode(loaded.redis.call("KEYS", pattern)))
    assert keys_expected(pattern) == theirs, pattern
    ours = sorted(decode(loaded.ours.call("KEYS", pattern)))
    assert ours == theirs, pattern


def test_patterns_with_many_stars_stay_linear():
    hostile = b"*a" * 40 + b"b"
    subject = b"a" * 5000
    started = time.monotonic()
    assert not stringmatch(hostile, subject)
    assert time.monotonic() - started < 2


def test_compiled_patterns_are_cached_functions():
    assert compile_pattern(b"a*") is compile_pattern(b"a*")
    assert compile_pattern(b"a*")(b"abc") and not compile_pattern(b"a*")(b"bc")


NOCASE_PATTERNS = [b"*MAX*", b"maxmemory*", b"MaxMemory-*", b"*-[A-C]*", b"[^a-l]*", b"*ZIP*", b"?z*", b"*[Z]*[A]*"]


@pytest.mark.parametrize("pattern", NOCASE_PATTERNS, ids=repr)
def test_nocase_matching_agrees_with_redis_config_get(redis_ref, pattern):
    with RawClient(redis_ref.port) as c:
        every = decode(c.call("CONFIG", "GET", "*"))
        names = set(every[0::2])
        got = set(decode(c.call("CONFIG", "GET", pattern))[0::2])
    assert got == {n for n in names if stringmatch(pattern, n, nocase=True)}
    assert got  # the pattern was chosen to match something
