"""List commands and blocking against real Redis 7.0.15: reply bytes for every command,
option and error; hypothesis-generated command sequences mixed with expiry; the propagated
commands and keyspace events of every write; and multi-client blocking scenarios run on both
servers with their replies (and, for served clients, their propagation) compared."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import _cmd, _one_of, check_all, check_lookup_stats, fuzz, pipeline_compare, resp3
from tests.differential.blocking import check_scenario, check_served_blockers, dirty_deltas


FIVE = ("RPUSH", "l", "a", "b", "c", "b", "a")

# -- replies ---------------------------------------------------------------------------------

CASES = {
    "pushes": [
        ("LPUSH", "l", "a"), ("LPUSH", "l", "b", "c", "d"), ("RPUSH", "l", "e", "f"), ("LRANGE", "l", "0", "-1"),
        ("RPUSH", "r", ""), ("LPUSH", "r", b"\x00\r\n", b"\xff"), ("LRANGE", "r", "0", "-1"),
        ("LPUSH", "n", "1", "-1", "0123", "9223372036854775808", "1.5"), ("LRANGE", "n", "0", "-1"),
        ("LPUSH", "l"), ("RPUSH", "l"),
    ],
    "pushx": [
        ("LPUSHX", "l", "a"), ("RPUSHX", "l", "a", "b"), ("EXISTS", "l"),
        ("RPUSH", "l", "x"), ("LPUSHX", "l", "a", "b"), ("RPUSHX", "l", "c", "d"), ("LRANGE", "l", "0", "-1"),
        ("LPUSHX", "l"),
    ],
    "pops": [
        FIVE, ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "1"), ("RPOP", "l", "1"), ("LLEN", "l"),
        ("LPOP", "l", "5"), ("EXISTS", "l"), ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "2"), ("RPOP", "l", "0"),
    ],
    "pop counts": [
        FIVE, ("LPOP", "l", "0"), ("RPOP", "l", "2"), ("LPOP", "l", "-1"), ("LPOP", "l", "abc"), ("RPOP", "l", "1.5"),
        ("LPOP", "l", "9223372036854775807"), ("RPOP", "l", "9223372036854775808"), ("LPOP", "l", "1", "2"),
        ("RPOP", "l", "1", "2", "3"), ("LPOP", "missing", "abc"), ("LPOP", "missing", "0"),
    ],
    "llen lindex": [
        ("LLEN", "l"), ("LINDEX", "l", "0"), ("LINDEX", "l", "abc"), FIVE, ("LLEN", "l"),
        ("LINDEX", "l", "0"), ("LINDEX", "l", "4"), ("LINDEX", "l", "5"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "-5"),
        ("LINDEX", "l", "-6"), ("LINDEX", "l", "abc"), ("LINDEX", "l", "9223372036854775807"),
        ("LINDEX", "l", "-9223372036854775808"), ("LINDEX", "l", "1.0"), ("LINDEX", "l", " 1"),
    ],
    "lrange": [
        ("LRANGE", "l", "0", "-1"), ("LRANGE", "l", "x", "1"), FIVE,
        *[("LRANGE", "l", a, b) for a, b in [("0", "0"), ("0", "-1"), ("-2", "-1"), ("-100", "100"), ("3", "1"),
                                                ("5", "10"), ("-1", "-2"), ("4", "4"), ("1", "-5"), ("-6", "-5"),
                                                ("2", "9223372036854775807"), ("-9223372036854775808", "0")]],
        ("LRANGE", "l", "a", "1"), ("LRANGE", "l", "0", "b"), ("LRANGE", "l", "1"),
    ],
    "lset": [
        ("LSET", "l", "0", "x"), ("LSET", "l", "abc", "x"), FIVE, ("LSET", "l", "0", "x"), ("LSET", "l", "-1", "y"),
        ("LSET", "l", "2", ""), ("LSET", "l", "5", "z"), ("LSET", "l", "-6", "z"), ("LSET", "l", "abc", "z"),
        ("LRANGE", "l", "0", "-1"),
    ],
    "linsert": [
        ("LINSERT", "l", "BEFORE", "a", "x"), ("LINSERT", "l", "middle", "a", "x"), FIVE,
        ("LINSERT", "l", "BEFORE", "b", "x"), ("LINSERT", "l", "after", "b", "y"), ("LINSERT", "l", "AFTER", "a", "z"),
        ("LINSERT", "l", "before", "nope", "w"), ("LINSERT", "l", "aside", "a", "w"), (b"LINSERT", b"l", b"after\x00x", b"a", b"v"),
        ("LRANGE", "l", "0", "-1"),
    ],
    "lrem": [
        ("LREM", "l", "0", "a"), ("LREM", "l", "x", "a"), ("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"),
        ("LREM", "l", "1", "a"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "-2", "a"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "0", "b"), ("LREM", "l", "0", "nope"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "5", "a"),
        ("LREM", "l", "-1", "c"), ("EXISTS", "l"), ("LREM", "l", "abc", "c"),
    ],
    "ltrim": [
        ("LTRIM", "l", "0", "1"), ("LTRIM", "l", "a", "1"), FIVE, ("LTRIM", "l", "0", "-1"), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "1", "-2"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "-100", "100"), ("LTRIM", "l", "1", "1"),
        ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "5", "1"), ("EXISTS", "l"), FIVE, ("LTRIM", "l", "0", "x"),
        ("LTRIM", "l", "-1", "-1"), ("LRANGE", "l", "0", "-1"), ("RPUSH", "m", *"abcdefghijklmnopqrstuvwxyz" * 10),
        ("LTRIM", "m", "100", "-3"), ("LRANGE", "m", "0", "-1"), ("LTRIM", "m", "2", "200"), ("LLEN", "m"),
    ],
    "lpos": [
        ("LPOS", "l", "a"), ("LPOS", "l", "a", "COUNT", "0"), ("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"),
        ("LPOS", "l", "c"), ("LPOS", "l", "c", "RANK", "2"), ("LPOS", "l", "c", "RANK", "-1"), ("LPOS", "l", "c", "RANK", "-3"),
        ("LPOS", "l", "c", "RANK", "4"), ("LPOS", "l", "c", "COUNT", "0"), ("LPOS", "l", "c", "COUNT", "2"),
        ("LPOS", "l", "c", "COUNT", "0", "RANK", "-1"), ("LPOS", "l", "c", "COUNT", "0", "RANK", "2"),
        ("LPOS", "l", "c", "MAXLEN", "3"), ("LPOS", "l", "c", "MAXLEN", "7", "COUNT", "0"), ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"),
        ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "2", "COUNT", "0"), ("LPOS", "l", "x"), ("LPOS", "l", "x", "COUNT", "3"),
        ("lpos", "l", "c", "rank", "1", "count", "1", "maxlen", "0"), ("LPOS", "l", "c", "COUNT", "1", "COUNT", "0"),
    ],
    "lpos errors": [
        ("RPUSH", "l", "a", "b", "a"), ("LPOS", "l", "a", "RANK", "0"), ("LPOS", "l", "a", "RANK", "x"),
        ("LPOS", "l", "a", "COUNT", "-1"), ("LPOS", "l", "a", "COUNT", "x"), ("LPOS", "l", "a", "MAXLEN", "-1"),
        ("LPOS", "l", "a", "MAXLEN", "x"), ("LPOS", "l", "a", "RANK"), ("LPOS", "l", "a", "FOO", "1"),
        ("LPOS", "l", "a", "COUNT"), ("LPOS", "missing", "a", "RANK", "0"), ("LPOS", "l", "a", "RANK", "1.5"),
        ("LPOS", "l", "a", "RANK", "-9223372036854775808"), ("LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", "0"),
        ("LPOS", "l", "a", "RANK", "-9223372036854775808", "COUNT", "1"), ("LPOS", "l", "a", "RANK", "9223372036854775807"),
        ("LPOS", "l", "a", "COUNT", "9223372036854775807"), ("LPOS", "l", "a", "RANK", "-9223372036854775807", "COUNT", "1"),
    ],
    "lmove": [
        ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("RPUSH", "s", "1", "2", "3"), ("LMOVE", "s", "d", "LEFT", "RIGHT"),
        ("LMOVE", "s", "d", "right", "left"), ("LMOVE", "s", "d", "Left", "Left"), ("LRANGE", "d", "0", "-1"),
        ("EXISTS", "s"), ("LMOVE", "d", "d", "LEFT", "RIGHT"), ("LRANGE", "d", "0", "-1"), ("LMOVE", "d", "d", "RIGHT", "LEFT"),
        ("LMOVE", "d", "s", "UP", "LEFT"), ("LMOVE", "d", "s", "LEFT", "DOWN"), ("LMOVE", "nope", "s", "UP", "LEFT"),
        ("RPUSH", "one", "x"), ("LMOVE", "one", "one", "LEFT", "LEFT"), ("LRANGE", "one", "0", "-1"),
    ],
    "rpoplpush": [
        ("RPOPLPUSH", "s", "d"), ("RPUSH", "s", "1", "2"), ("RPOPLPUSH", "s", "d"), ("RPOPLPUSH", "s", "s"),
        ("RPOPLPUSH", "s", "d"), ("LRANGE", "d", "0", "-1"), ("EXISTS", "s"), ("RPOPLPUSH", "d", "d"), ("LRANGE", "d", "0", "-1"),
    ],
    "lmpop": [
        ("LMPOP", "1", "l", "LEFT"), ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "3"), ("RPUSH", "b", "1", "2", "3", "4"),
        ("LMPOP", "2", "a", "b", "LEFT"), ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "2"), ("RPUSH", "a", "x"),
        ("LMPOP", "2", "a", "b", "left", "count", "10"), ("LMPOP", "2", "a", "b", "LEFT", "COUNT", "10"), ("EXISTS", "a", "b"),
    ],
    "lmpop errors": [
        ("RPUSH", "l", "x"), ("LMPOP", "0", "l", "LEFT"), ("LMPOP", "-1", "l", "LEFT"), ("LMPOP", "x", "l", "LEFT"),
        ("LMPOP", "2", "l", "LEFT"), ("LMPOP", "1", "l", "MIDDLE"), ("LMPOP", "1", "l", "LEFT", "COUNT"),
        ("LMPOP", "1", "l", "LEFT", "COUNT", "0"), ("LMPOP", "1", "l", "LEFT", "COUNT", "-1"), ("LMPOP", "1", "l", "LEFT", "COUNT", "x"),
        ("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"), ("LMPOP", "1", "l", "LEFT", "FOO"),
        ("LMPOP", "9223372036854775807", "l", "LEFT"), ("LMPOP", "9223372036854775806", "l", "LEFT"), ("LMPOP", "1", "l"),
        ("LMPOP", "1"),
    ],
    "blocking commands that need not block": [
        ("RPUSH", "a", "1", "2", "3"), ("RPUSH", "b", "x"), ("BLPOP", "none", "a", "b", "0"), ("BRPOP", "b", "a", "1"),
        ("BLMPOP", "0", "2", "none", "a", "RIGHT"), ("BLMPOP", "0.5", "1", "a", "LEFT", "COUNT", "5"), ("EXISTS", "a"),
        ("RPUSH", "b", "y", "z"), ("BLMOVE", "b", "c", "RIGHT", "LEFT", "0"), ("BRPOPLPUSH", "c", "d", "0"), ("LRANGE", "d", "0", "-1"),
    ],
    "blocking argument errors": [
        ("BLPOP", "k", "-1"), ("BLPOP", "k", "x"), ("BRPOP", "k", "nan"), ("BRPOP", "k", "inf"), ("BLPOP", "k", "1e300"),
        ("BLPOP", "k", " 1"), ("BLPOP", "k", ""), ("BLPOP", "k", "9223372036854775807"), ("BLPOP", "k", "-1e-5000"), ("BLPOP", "k", "1e-5000"), ("BLPOP", "k", "0x"),
        ("BLMOVE", "s", "d", "UP", "LEFT", "x"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "x"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "-0.5"),
        ("BRPOPLPUSH", "s", "d", "x"), ("BRPOPLPUSH", "s", "d", "-1"),
        ("BLMPOP", "x", "0", "k", "LEFT"), ("BLMPOP", "x", "1", "k", "LEFT"), ("BLMPOP", "0", "2", "k", "LEFT"),
        ("BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"), ("BLMPOP", "-1", "1", "k", "UP"), ("BLMPOP", "-1", "1", "k", "LEFT"),
        ("BLPOP", "k"), ("BLMPOP", "0", "1", "k"),
    ],
    "wrong type": [
        ("SET", "s", "v"), ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s", "2"), ("LLEN", "s"), ("LINDEX", "s", "0"), ("LINDEX", "s", "x"), ("LRANGE", "s", "0", "1"),
        ("LRANGE", "s", "x", "1"), ("LSET", "s", "0", "x"), ("LSET", "s", "x", "x"), ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LINSERT", "s", "x", "a", "b"), ("LREM", "s", "0", "a"), ("LREM", "s", "x", "a"), ("LTRIM", "s", "0", "1"),
        ("LPOS", "s", "a"), ("LPOS", "s", "a", "RANK", "0"), ("LMOVE", "s", "d", "LEFT", "LEFT"),
        ("RPUSH", "l", "x"), ("LMOVE", "l", "s", "LEFT", "LEFT"), ("RPOPLPUSH", "l", "s"), ("LRANGE", "l", "0", "-1"),
        ("LMPOP", "2", "none", "s", "LEFT"), ("LMPOP", "2", "l", "s", "LEFT"), ("RPUSH", "l", "x"),
        ("BLPOP", "none", "s", "l", "0"), ("BLPOP", "s", "x"), ("BLMPOP", "0", "2", "s", "l", "LEFT"),
        ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"), ("BLMOVE", "l", "s", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "l", "s", "0"),
        ("LLEN", "l"),
    ],
    "list as seen by the generic commands": [
        FIVE, ("TYPE", "l"), ("OBJECT", "ENCODING", "l"), ("RPUSH", "big", "x" * 10000), ("OBJECT", "ENCODING", "big"),
        ("COPY", "l", "c"), ("RPUSH", "c", "z"), ("LRANGE", "l", "0", "-1"), ("LRANGE", "c", "0", "-1"),
        ("RENAME", "c", "d"), ("LRANGE", "d", "0", "-1"), ("GET", "l"), ("APPEND", "l", "x"), ("INCR", "l"),
        ("SCAN", "0", "TYPE", "list", "MATCH", "l"), ("SCAN", "0", "TYPE", "string"), ("DEL", "l", "d", "big"), ("EXISTS", "l"),
    ],
    "expired lists": [
        FIVE, ("PEXPIREAT", "l", "1"), ("LLEN", "l"), ("RPUSH", "m", "x"), ("PEXPIREAT", "m", "1"), ("LPUSH", "m", "y"),
        ("TTL", "m"), ("LRANGE", "m", "0", "-1"), ("RPUSH", "p", "x"), ("EXPIRE", "p", "100"), ("RPUSH", "p", "y"),
        ("TTL", "p"), ("LPOP", "p", "2"), ("TTL", "p"),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_list_command_replies(pair, name):
    check_all(pair, *CASES[name])


@pytest.mark.parametrize("name", ["pops", "pop counts", "lpos", "lmpop", "blocking commands that need not block", "lmove"])
def test_list_command_replies_in_resp3(pair, name):
    resp3(pair)
    check_all(pair, *CASES[name])


def test_lrange_and_lindex_on_a_long_list(pair):
    check_all(pair, ("RPUSH", "l", *[str(i) for i in range(1000)]))
    for start, stop in [(0, 99), (450, 550), (-100, -1), (-300, 999), (990, 2000), (500, 499)]:
        pair.check("LRANGE", "l", start, stop)
    for index in (0, 1, 499, 500, 998, 999, -1, -500, -1000, 1000):
        pair.check("LINDEX", "l", index)
    check_all(pair, ("LSET", "l", "700", "x"), ("LINSERT", "l", "AFTER", "800", "y"), ("LPOS", "l", "y"), ("LREM", "l", "0", "x"))


def test_read_and_write_lookups_count_like_redis(pair):
    check_lookup_stats(pair, [
        ("LLEN", "l"), ("LINDEX", "l", "0"), ("LRANGE", "l", "0", "-1"), ("LPOS", "l", "a"), ("LPOP", "l"), ("LTRIM", "l", "0", "1"),
        ("RPUSH", "l", "a", "b"), ("LLEN", "l"), ("LINDEX", "l", "0"), ("LRANGE", "l", "0", "-1"), ("LPOS", "l", "a"),
        ("LSET", "l", "0", "x"), ("LREM", "l", "0", "x"), ("LINSERT", "l", "AFTER", "b", "c"), ("LMOVE", "l", "m", "LEFT", "LEFT"),
        ("LMPOP", "2", "z", "l", "LEFT"), ("BLPOP", "z", "m", "0"), ("RPUSH", "l", "q"), ("BLMOVE", "l", "n", "LEFT", "LEFT", "0"),
    ])


# -- generated sequences ---------------------------------------------------------------------

LKEYS = _one_of(b"a", b"b", b"c")
ELEMS = _one_of(b"x", b"y", b"z", b"", b"1", b"-1", b"x\x00y")
INDEXES = st.one_of(st.integers(-6, 6), _one_of(-(2**63), 2**63 - 1)).map(lambda i: b"%d" % i)
SIDES = _one_of(b"LEFT", b"RIGHT", b"left")
COUNTS = _one_of(b"0", b"1", b"2", b"5", b"-1", b"x")


def list_commands():
    k, e = LKEYS, ELEMS
    return st.one_of(
        _cmd(_one_of(b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"), k, st.lists(e, min_size=1, max_size=4).map(tuple)),
        _cmd(_one_of(b"LPOP", b"RPOP"), k),
        _cmd(_one_of(b"LPOP", b"RPOP"), k, COUNTS),
        _cmd(b"LLEN", k),
        _cmd(b"LINDEX", k, INDEXES),
        _cmd(b"LRANGE", k, INDEXES, INDEXES),
        _cmd(b"LSET", k, INDEXES, e),
        _cmd(b"LINSERT", k, _one_of(b"BEFORE", b"AFTER"), e, e),
        _cmd(b"LREM", k, INDEXES, e),
        _cmd(b"LTRIM", k, INDEXES, INDEXES),
        _cmd(b"LPOS", k, e, _one_of((), (b"RANK", b"-1"), (b"RANK", b"2"), (b"COUNT", b"0"), (b"MAXLEN", b"2"),
                                    (b"RANK", b"-2", b"COUNT", b"2"))),
        _cmd(b"LMOVE", k, k, SIDES, SIDES),
        _cmd(b"RPOPLPUSH", k, k),
        _cmd(b"LMPOP", b"2", k, k, SIDES, _one_of((), (b"COUNT", b"2"), (b"COUNT", b"9"))),
        _cmd(b"SET", k, e),
        _cmd(b"DEL", k),
        _cmd(b"EXPIRE", k, b"100"),
        _cmd(b"PEXPIREAT", k, b"1"),
        _cmd(b"PERSIST", k),
        _cmd(b"TTL", k),
        _cmd(b"TYPE", k),
    )


@fuzz(250)
@given(commands=st.lists(list_commands(), min_size=1, max_size=25))
def test_random_list_command_sequences(pair, commands):
    pipeline_compare(pair, [(b"FLUSHALL",)] + commands)


# -- propagation and keyspace events ---------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "pushes": [("LPUSH", "l", "a", "b"), ("RPUSH", "l", "c"), ("LPUSHX", "l", "d"), ("RPUSHX", "none", "d"), ("LPUSHX", "none", "x")],
    "pops": [("RPUSH", "l", "a", "b", "c", "d"), ("LPOP", "l"), ("RPOP", "l", "2"), ("LPOP", "l", "0"), ("LPOP", "l", "5"),
             ("LPOP", "l"), ("RPOP", "none", "1")],
    "edits": [("RPUSH", "l", "a", "b", "a", "c"), ("LSET", "l", "0", "z"), ("LINSERT", "l", "BEFORE", "c", "y"),
              ("LINSERT", "l", "AFTER", "none", "y"), ("LREM", "l", "0", "none"), ("LREM", "l", "-1", "a"),
              ("LREM", "l", "0", "b"), ("LSET", "l", "9", "x")],
    "trims": [("RPUSH", "l", "a", "b", "c", "d"), ("LTRIM", "l", "0", "-1"), ("LTRIM", "l", "1", "2"), ("LTRIM", "none", "0", "1"),
              ("LTRIM", "l", "5", "1"), ("EXISTS", "l")],
    "moves": [("RPUSH", "s", "a", "b", "c"), ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("lmove", "s", "d", "right", "left"),
              ("RPOPLPUSH", "s", "d"), ("RPOPLPUSH", "s", "d"), ("LMOVE", "d", "d", "LEFT", "LEFT")],
    "lmpop": [("RPUSH", "b", "1", "2", "3"), ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "2"), ("lmpop", "1", "b", "left", "count", "7"),
              ("LMPOP", "1", "b", "LEFT")],
    "blocking pops that need not block": [
        ("RPUSH", "a", "1", "2", "3", "4", "5"), ("BLPOP", "none", "a", "0"), ("brpop", "a", "1"),
        ("BLMPOP", "0", "1", "a", "LEFT", "COUNT", "2"), ("BLMOVE", "a", "b", "Left", "right", "0"), ("BRPOPLPUSH", "b", "c", "0"),
        ("BLPOP", "none", "0.001"),
    ],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


def test_served_blocked_clients_propagate_like_redis(mirrored):
    """BLPOP/BRPOP/BLMPOP/BLMOVE/BRPOPLPUSH served by a later push propagate as the pop or
    move they did, after the push, with the same keyspace events."""
    blockers = [
        ("BLPOP", "a", "0"),
        ("BRPOP", "b", "a", "0"),
        ("BLMPOP", "0", "2", "c", "a", "RIGHT", "COUNT", "2"),
        ("BLMOVE", "d", "e", "LEFT", "RIGHT", "0"),
        ("BRPOPLPUSH", "f", "e", "0"),
        ("BLMOVE", "g", "a", "RIGHT", "LEFT", "0"),
    ]
    pushes = [("RPUSH", "a", "1", "2", "3", "4", "5"), ("RPUSH", "d", "x", "y"), ("LPUSH", "f", "z"), ("RPUSH", "g", "w")]
    check_served_blockers(mirrored, blockers, pushes)


# -- multi-client blocking scenarios -----------------------------------------------------------


SCENARIOS = {
    "first come first served on one key": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLPOP", "k", "0"), ("block", "c", "BRPOP", "k", "0"),
        ("call", "p", "RPUSH", "k", "1", "2"), ("read", "a"), ("read", "b"), ("blocked", "c"),
        ("call", "p", "LPUSH", "k", "3"), ("read", "c"), ("call", "p", "EXISTS", "k"),
    ],
    "a client waiting on several keys takes the first that becomes ready": [
        ("block", "a", "BLPOP", "k1", "k2", "k3", "0"), ("block", "b", "BRPOP", "k3", "k2", "0"),
        ("call", "p", "RPUSH", "k3", "x", "y"), ("read", "a"), ("read", "b"), ("call", "p", "EXISTS", "k3"),
        ("block", "a", "BLPOP", "k", "k", "j", "k", "0"), ("call", "p", "RPUSH", "j2", "no"), ("blocked", "a"),
        ("call", "p", "RPUSH", "k", "z"), ("read", "a"),
    ],
    "one push serves as many clients as it has elements": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLPOP", "k", "0"), ("block", "c", "BLPOP", "k", "0"),
        ("call", "p", "RPUSH", "k", "1", "2", "3", "4"), ("read", "a"), ("read", "b"), ("read", "c"),
        ("call", "p", "LRANGE", "k", "0", "-1"),
    ],
    "blmpop takes up to count elements": [
        ("call", "b", "HELLO", "3"), ("block", "a", "BLMPOP", "0", "2", "x", "k", "LEFT", "COUNT", "3"),
        ("block", "b", "BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "3"),
        ("call", "p", "RPUSH", "k", "1", "2", "3", "4", "5"), ("read", "a"), ("read", "b"), ("call", "p", "EXISTS", "k"),
    ],
    "blmove chains hand an element along": [
        ("block", "a", "BLMOVE", "k1", "k2", "LEFT", "RIGHT", "0"), ("block", "b", "BLMOVE", "k2", "k3", "RIGHT", "LEFT", "0"),
        ("block", "c", "BRPOPLPUSH", "k3", "k4", "0"), ("block", "d", "BLPOP", "k4", "0"),
        ("call", "p", "LPUSH", "k1", "v"), ("read", "a"), ("read", "b"), ("read", "c"), ("read", "d"),
        ("call", "p", "EXISTS", "k1", "k2", "k3", "k4"),
    ],
    "blmove rings stop when the element has moved once per client": [
        ("block", "a", "BLMOVE", "x", "y", "LEFT", "LEFT", "0"), ("block", "b", "BLMOVE", "y", "x", "LEFT", "LEFT", "0"),
        ("call", "p", "LPUSH", "x", "v"), ("read", "a"), ("read", "b"), ("call", "p", "LRANGE", "x", "0", "-1"),
        ("call", "p", "LRANGE", "y", "0", "-1"),
    ],
    "blmove onto the key it waits on": [
        ("block", "a", "BLMOVE", "k", "k", "LEFT", "RIGHT", "0"), ("block", "b", "BLPOP", "k", "0"),
        ("call", "p", "RPUSH", "k", "1", "2"), ("read", "a"), ("read", "b"), ("call", "p", "LRANGE", "k", "0", "-1"),
    ],
    "a key of another type does not serve, a list made later does": [
        ("block", "a", "BLPOP", "k", "0"), ("call", "p", "SET", "k", "v"), ("blocked", "a"), ("call", "p", "DEL", "k"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "a"),
    ],
    "clients waiting for another type are skipped, and keep waiting": [
        ("block", "z", "BZPOPMIN", "k", "0"), ("block", "a", "BLPOP", "k", "0"), ("block", "y", "BZPOPMAX", "k", "0"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "a"), ("blocked", "z"), ("blocked", "y"), ("call", "p", "LPUSH", "k", "y"),
        ("blocked", "z"), ("call", "p", "DEL", "k"), ("call", "p", "ZADD", "k", "1", "m", "2", "n"), ("read", "z"), ("read", "y"),
    ],
    "a list serving leaves the sorted set waiters in their order": [
        ("block", "z1", "BZPOPMIN", "k", "0"), ("block", "a", "BLPOP", "k", "0"), ("block", "z2", "BZPOPMIN", "k", "0"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "a"), ("call", "p", "DEL", "k"), ("call", "p", "ZADD", "k", "1", "m"),
        ("blocked", "z1"), ("blocked", "z2"), ("call", "p", "ZADD", "k", "2", "n"), ("blocked", "z1"), ("blocked", "z2"),
        ("call", "p", "DEL", "k"), ("call", "p", "ZADD", "k", "3", "o"), ("read", "z1"), ("read", "z2"),
    ],
    "blmove onto a destination of another type answers wrongtype": [
        ("block", "a", "BLMOVE", "s", "d", "LEFT", "RIGHT", "0"), ("block", "b", "BLPOP", "s", "0"),
        ("call", "p", "SET", "d", "v"), ("call", "p", "RPUSH", "s", "x"), ("read", "a"), ("read", "b"),
        ("call", "p", "EXISTS", "s"), ("call", "p", "INFO", "errorstats"), ("call", "p", "INFO", "commandstats"),
    ],
    "rename and copy onto a waited key wake its clients": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLPOP", "j", "0"), ("call", "p", "RPUSH", "s", "1", "2"),
        ("call", "p", "RENAME", "s", "k"), ("read", "a"), ("call", "p", "COPY", "k", "j"), ("read", "b"),
    ],
    "move and swapdb wake clients of the other database": [
        ("call", "a", "SELECT", "1"), ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLPOP", "k", "0"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "b"), ("blocked", "a"), ("call", "p", "RPUSH", "k", "y"),
        ("call", "p", "MOVE", "k", "1"), ("read", "a"), ("block", "b", "BLPOP", "q", "0"), ("call", "p", "SELECT", "1"),
        ("call", "p", "RPUSH", "q", "z"), ("call", "p", "SWAPDB", "0", "1"), ("read", "b"),
    ],
    "pushes inside exec serve the waiting clients once exec is done": [
        ("block", "a", "BLPOP", "k1", "k2", "0"), ("block", "b", "BRPOP", "k2", "0"), ("call", "p", "MULTI"),
        ("call", "p", "RPUSH", "k2", "a", "b", "c"), ("call", "p", "RPUSH", "k1", "z"), ("call", "p", "LPOP", "k2"),
        ("call", "p", "EXEC"), ("read", "a"), ("read", "b"), ("call", "p", "LRANGE", "k2", "0", "-1"),
    ],
    "blocking commands inside exec answer at once": [
        ("call", "p", "RPUSH", "k1", "z"), ("call", "p", "MULTI"), ("call", "p", "BLPOP", "none", "0"),
        ("call", "p", "BRPOP", "none", "1"), ("call", "p", "BLMOVE", "none", "d", "LEFT", "LEFT", "0"),
        ("call", "p", "BRPOPLPUSH", "none", "d", "0"), ("call", "p", "BLMPOP", "0", "1", "none", "LEFT"),
        ("call", "p", "BLMPOP", "0", "1", "k1", "LEFT", "COUNT", "5"), ("call", "p", "EXEC"), ("call", "p", "INFO", "clients"),
    ],
    "the pusher's next command sees the list after the serving": [
        ("block", "a", "BLPOP", "k", "0"), ("send", "p", "RPUSH", "k", "1", "2"), ("send", "p", "LLEN", "k"),
        ("read", "p"), ("read", "p"), ("read", "a"),
    ],
    "a served client goes on with its pipeline": [
        ("send", "a", "BLPOP", "k", "0"), ("send", "a", "RPUSH", "out", "after"), ("send", "a", "LLEN", "out"),
        ("block", "a", "PING"), ("call", "p", "RPUSH", "k", "x"), ("read", "a"), ("read", "a"), ("read", "a"), ("read", "a"),
    ],
    "a pipeline with two blocking commands blocks twice": [
        ("send", "a", "BLPOP", "k", "0"), ("block", "a", "BLPOP", "k", "0"), ("call", "p", "RPUSH", "k", "1"), ("read", "a"),
        ("blocked", "a"), ("call", "p", "RPUSH", "k", "2"), ("read", "a"),
    ],
    "timeouts answer null for every blocking command": [
        ("call", "a", "BLPOP", "k", "0.05"), ("call", "a", "BRPOP", "k", "j", "0.01"), ("call", "a", "BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"),
        ("call", "a", "BRPOPLPUSH", "k", "d", "0.01"), ("call", "a", "BLMPOP", "0.01", "1", "k", "LEFT"),
        ("call", "a", "HELLO", "3"), ("call", "a", "BLPOP", "k", "0.01"), ("call", "a", "BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"),
        ("call", "a", "BLMPOP", "0.01", "1", "k", "LEFT", "COUNT", "2"), ("call", "p", "INFO", "commandstats"),
    ],
    "tiny timeouts": [
        ("call", "a", "BLPOP", "k", "0.0005"), ("call", "a", "BLPOP", "k", "1e-300"), ("block", "a", "BLPOP", "k", "-0.0001"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "a"), ("block", "a", "BLPOP", "k", "9223372036854775"), ("call", "p", "RPUSH", "k", "y"),
        ("read", "a"),
    ],
    "client unblock with timeout and error": [
        ("block", "a", "BLPOP", "k", "0"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}"), ("read", "a"),
        ("block", "a", "BLMOVE", "k", "d", "LEFT", "LEFT", "0"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}", "TIMEOUT"), ("read", "a"),
        ("block", "a", "BLMPOP", "0", "1", "k", "LEFT"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}", "error"), ("read", "a"),
        ("call", "p", "CLIENT", "UNBLOCK", "{id:a}"), ("call", "p", "CLIENT", "UNBLOCK", "{id:p}", "ERROR"),
        ("call", "p", "CLIENT", "UNBLOCK", "999999"), ("call", "p", "CLIENT", "UNBLOCK", "x"),
        ("call", "p", "CLIENT", "UNBLOCK", "{id:a}", "foo"), ("call", "p", "CLIENT", "UNBLOCK", "x", "foo"),
        ("call", "p", "CLIENT", "UNBLOCK", "1", "2", "3"), ("call", "p", "CLIENT", "unblock"),
        ("call", "p", "RPUSH", "k", "x"), ("call", "p", "LLEN", "k"),
        ("call", "p", "INFO", "commandstats"), ("call", "p", "INFO", "errorstats"),
    ],
    "an unblocked client goes on with its pipeline": [
        ("send", "a", "BLPOP", "k", "0"), ("block", "a", "ECHO", "next"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}", "ERROR"),
        ("read", "a"), ("read", "a"),
    ],
    "a client that disconnects while blocked leaves no trace": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLPOP", "k", "0"), ("close", "a", ), ("call", "p", "RPUSH", "k", "x"),
        ("read", "b"), ("call", "p", "EXISTS", "k"), ("call", "p", "INFO", "clients"),
    ],
    "blocked clients in info and client list": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BRPOP", "k", "5"), ("call", "p", "INFO", "clients"),
        ("call", "p", "RPUSH", "k", "x"), ("read", "a"), ("call", "p", "INFO", "clients"), ("call", "p", "RPUSH", "k", "x"),
        ("read", "b"), ("call", "p", "INFO", "clients"),
    ],
    "served and timed out calls in commandstats": [
        ("block", "a", "BLPOP", "k", "0"), ("call", "p", "RPUSH", "k", "x"), ("read", "a"),
        ("call", "a", "BRPOP", "k", "0.01"), ("block", "a", "BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
        ("call", "p", "CLIENT", "UNBLOCK", "{id:a}"), ("read", "a"), ("call", "p", "RPUSH", "k", "y"),
        ("call", "p", "INFO", "commandstats"), ("call", "p", "INFO", "errorstats"),
    ],
    "a client held by client pause counts as blocked": [
        ("call", "p", "CLIENT", "PAUSE", "5000", "WRITE"), ("block", "a", "SET", "x", "1"), ("call", "p", "INFO", "clients"),
        ("call", "p", "CLIENT", "UNPAUSE"), ("read", "a"), ("call", "p", "INFO", "clients"),
    ],
    "a served pop counts no change of its own": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
        ("block", "c", "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "2"), ("call", "p", "RPUSH", "k", "1", "2", "3", "4", "5"),
        ("read", "a"), ("read", "b"), ("read", "c"),
    ],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_blocking_scenarios_match_redis(redis_ref, diff_node, name):
    check_scenario(redis_ref.port, diff_node.port, SCENARIOS[name])


def test_dirty_counter_after_served_pops_matches_redis(redis_ref, diff_node):
    """rdb_changes_since_last_save moves by the push alone for BLPOP and BLMOVE, by the
    push and the popped elements for BLMPOP, as in Redis."""
    blockers = [("BLPOP", "k", "0"), ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0"), ("BLMPOP", "0", "1", "k", "LEFT", "COUNT", "2")]
    push = ("RPUSH", "k", "1", "2", "3")
    theirs = dirty_deltas(redis_ref.port, blockers, push)
    assert dirty_deltas(diff_node.port, blockers, push) == theirs


def test_memory_usage_of_lists_built_by_rpush_matches_redis(pair):
    check_all(
        pair,
        ("RPUSH", "small", "a", "b", "c"),
        ("RPUSH", "ints", "1", "2", "300", "70000", "-5", "12345678901", "-9223372036854775808", "0123"),
        ("RPUSH", "long", "x" * 100, "y" * 5000, "z" * 70000),
        ("MEMORY", "USAGE", "small"), ("MEMORY", "USAGE", "ints"), ("MEMORY", "USAGE", "long"),
    )
    for start in range(0, 3000, 500):
        pair.check("RPUSH", "big", *[f"value{i}" for i in range(start, start + 500)])
    check_all(pair, ("MEMORY", "USAGE", "big"), ("MEMORY", "USAGE", "big", "SAMPLES", "0"), ("MEMORY", "USAGE", "big", "SAMPLES", "1"))
