"""Hypothesis-generated command sequences over strings, generic key commands and expiry,
run against real Redis 7.0.15 and Vermilion: raw replies compared (with a tolerance only
for remaining times), and -- for a smaller sample -- propagated commands and keyspace
events too.

Determinism: the two servers run a sequence some milliseconds apart, so every relative
TTL is long (>= 100 s), expiry times in the past delete at once (no key is ever left
logically expired for the active cycle to race with), and relative EXPIRE/PEXPIRE
durations are made unique per command, so GT/LT never compare two equal durations set a
few milliseconds apart. TTL-like replies may differ by the time between the servers.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.differential import KEYS, _cmd, _one_of, decode, fuzz, string_commands

# -- strategies ------------------------------------------------------------------------------

_FLAGS = _one_of((), (), (b"NX",), (b"XX",), (b"GT",), (b"LT",), (b"XX", b"GT"), (b"lt",), (b"NX", b"XX"), (b"GT", b"LT"), (b"foo",))
#: Relative: made unique by ``_uniquify`` when positive; zero and negative delete at once.
_RELATIVE = _one_of(b"1000", b"2000", b"0", b"-1", b"abc", b"9223372036854775807", b"-9223372036854775808")
_ABSOLUTE_S = _one_of(b"1", b"0", b"-5", b"4000000000", b"4000000001", b"99999999999", b"9223372036854775807", b"x")
_ABSOLUTE_MS = _one_of(b"1", b"0", b"4000000000000", b"4000000000001", b"99999999999999", b"9223372036854775807")
_DB = _one_of(b"0", b"1", b"16", b"-1", b"x")


def key_commands(listings: bool = True):
    """One generic key command. ``listings`` adds the commands whose replies are times or
    key listings (compared loosely) and SELECT."""
    k = KEYS
    writes = [
        _cmd(_one_of(b"DEL", b"UNLINK"), k, st.lists(k, max_size=2).map(tuple)),
        _cmd(b"EXISTS", k, k, k),
        _cmd(b"TYPE", k),
        _cmd(b"TOUCH", k, k),
        _cmd(_one_of(b"EXPIRE", b"PEXPIRE", b"expire"), k, _RELATIVE, _FLAGS),
        _cmd(b"EXPIREAT", k, _ABSOLUTE_S, _FLAGS),
        _cmd(b"PEXPIREAT", k, _ABSOLUTE_MS, _FLAGS),
        _cmd(b"PERSIST", k),
        _cmd(_one_of(b"RENAME", b"RENAMENX"), k, k),
        _cmd(b"COPY", k, k, _one_of((), (b"REPLACE",), (b"DB", b"1"), (b"DB", b"0", b"REPLACE"), (b"DB", b"16"))),
        _cmd(b"MOVE", k, _DB),
        _cmd(b"SWAPDB", _DB, _DB),
        _cmd(b"OBJECT", _one_of(b"ENCODING", b"FREQ"), k),
        _cmd(b"DBSIZE"),
    ]
    if listings:
        writes += [
            _cmd(_one_of(b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"), k),
            _cmd(b"SELECT", _one_of(b"0", b"1")),
            _cmd(b"KEYS", _one_of(b"*", b"a*", b"[ab]", b"?")),
            _cmd(b"SCAN", b"0", _one_of((), (b"MATCH", b"[bc]"), (b"TYPE", b"string"), (b"TYPE", b"list"), (b"COUNT", b"100"))),
        ]
    return st.one_of(*writes)


COMMANDS = st.one_of(key_commands(), key_commands(), string_commands(past_times=False))


def _uniquify(commands):
    """Give each positive relative EXPIRE/PEXPIRE its own duration (i * 7 s apart)."""
    out = []
    for i, cmd in enumerate(commands):
        name = cmd[0].upper()
        if name in (b"EXPIRE", b"PEXPIRE") and cmd[2] in (b"1000", b"2000"):
            seconds = int(cmd[2]) + 7 * i
            arg = b"%d" % (seconds if name == b"EXPIRE" else seconds * 1000 + 1)
            cmd = (cmd[0], cmd[1], arg) + cmd[3:]
        out.append(cmd)
    return out


# -- comparison ------------------------------------------------------------------------------

#: Replies that are times, and how far the two servers may be apart in them.
_TOLERANCE = {b"TTL": 1, b"EXPIRETIME": 1, b"PTTL": 1000, b"PEXPIRETIME": 1000}


def _same(cmd, theirs: bytes, ours: bytes) -> bool:
    if theirs == ours:
        return True
    name = cmd[0].upper()
    tolerance = _TOLERANCE.get(name)
    if tolerance is not None and theirs[:1] == ours[:1] == b":":
        a, b = int(theirs[1:]), int(ours[1:])
        return a >= 0 and b >= 0 and abs(a - b) <= tolerance
    if name == b"KEYS" and theirs[:1] == b"*":
        return sorted(decode(theirs)) == sorted(decode(ours))
    if name == b"SCAN" and theirs[:1] == b"*":
        (c1, k1), (c2, k2) = decode(theirs), decode(ours)
        return c1 == c2 == b"0" and sorted(k1) == sorted(k2)
    return False


def run_and_compare(pair, commands) -> None:
    commands = [(b"SELECT", b"0"), (b"FLUSHALL",)] + _uniquify(commands)
    theirs = pair.redis.pipeline(commands)
    ours = pair.ours.pipeline(commands)
    for i, (cmd, a, b) in enumerate(zip(commands, theirs, ours)):
        if not _same(cmd, a, b):
            shown = "\n".join("  " + b" ".join(c).decode("latin-1") for c in commands[: i + 1])
            pytest.fail(f"reply differs for the last of:\n{shown}\nredis: {a!r}\nours:  {b!r}")


@fuzz(1500, HealthCheck.filter_too_much)
@given(commands=st.lists(COMMANDS, min_size=1, max_size=30))
def test_random_key_string_and_expiry_sequences_reply_like_redis(pair, commands):
    run_and_compare(pair, commands)


@fuzz(600, HealthCheck.filter_too_much)
@given(commands=st.lists(key_commands(), min_size=1, max_size=30))
def test_random_key_command_sequences_reply_like_redis(pair, commands):
    run_and_compare(pair, [(b"MSET", b"a", b"1", b"b", b"two", b"c", b"x" * 50)] + commands)


# -- propagation and keyspace events ---------------------------------------------------------


_PROPAGATED = st.one_of(key_commands(listings=False), key_commands(listings=False), string_commands(past_times=False))


@fuzz(400, HealthCheck.filter_too_much)
@given(commands=st.lists(_PROPAGATED, min_size=1, max_size=12))
def test_random_sequences_propagate_and_notify_like_redis(mirrored, commands):
    mirrored.check(*_uniquify([(b"MSET", b"a", b"1", b"b", b"2")] + commands))
