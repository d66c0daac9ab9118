"""Sorted-set commands against real Redis 7.0.15: reply bytes for every command, option and
error in RESP2 and RESP3; encodings and their thresholds; hypothesis-generated command
sequences (random ZADD options, scores with inf/-inf/-0, exclusive and lex ranges, set
algebra, pops, expiry) on listpack and on skiplist sets; the propagated commands and
keyspace events of every write; and multi-client blocking scenarios for BZPOPMIN,
BZPOPMAX and BZMPOP."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import _cmd, _one_of, check_all, check_lookup_stats, decode, full_scan, fuzz, resp3
from tests.differential.blocking import check_scenario, check_served_blockers, dirty_deltas


@contextlib.contextmanager
def zset_limits(pair, entries: int, value: int = 64):
    """zset-max-listpack-entries/-value on both servers for the block, restored after (the
    real server is shared by the whole session)."""
    check_all(pair, ("CONFIG", "SET", "zset-max-listpack-entries", entries), ("CONFIG", "SET", "zset-max-listpack-value", value))
    try:
        yield
    finally:
        check_all(pair, ("CONFIG", "SET", "zset-max-listpack-entries", "128"), ("CONFIG", "SET", "zset-max-listpack-value", "64"))


Z5 = ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
LEX = ("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "ab", "0", "", "0", "B")
MIXED = ("ZADD", "mixed", "1", "b", "2", "z", "3", "a", "4", "c", "5", "aa")
WRONG = ("SET", "str", "v")

# -- replies ---------------------------------------------------------------------------------

CASES = {
    "zadd": [
        ("ZADD", "z", "1", "a"), ("ZADD", "z", "2", "b", "3", "c"), ("ZADD", "z", "1", "a"), ("ZADD", "z", "5", "a"),
        ("ZADD", "z", "CH", "6", "a", "7", "d", "7", "d"), ("ZADD", "z", "nx", "9", "a", "10", "e"),
        ("ZADD", "z", "XX", "11", "a", "12", "f"), ("ZADD", "z", "GT", "1", "a"), ("ZADD", "z", "gt", "ch", "20", "a"),
        ("ZADD", "z", "LT", "30", "a"), ("ZADD", "z", "LT", "CH", "0", "a"), ("ZADD", "z", "XX", "GT", "CH", "100", "a", "1", "b"),
        ("ZADD", "z", "LT", "CH", "1", "nope"), ("ZADD", "z", "GT", "5", "newgt"), ("ZADD", "z", "xx", "lt", "-5", "b"),
        ("ZADD", "z", "1", "dup", "2", "dup"), ("ZADD", "z", "CH", "3", "dup", "3", "dup"), (b"ZADD", b"z", b"nx\x00junk", b"1", b"a"),
        ("ZADD", "z", "1", ""), ("ZADD", "z", "1", b"\x00\r\n"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZADD", "nokey", "XX", "1", "a"), ("EXISTS", "nokey"), ("ZADD", "nokey", "XX", "CH", "1", "a"), ("ZADD", "n2", "NX", "1", "a"),
        ("ZADD", "n3", "GT", "1", "a"), ("ZRANGE", "n3", "0", "-1", "WITHSCORES"),
    ],
    "zadd errors": [
        ("ZADD", "z", "1"), ("ZADD", "z", "nx"), ("ZADD", "z", "1", "a", "2"), ("ZADD", "z", "nx", "xx", "1"),
        ("ZADD", "z", "NX", "XX", "1", "a"), ("ZADD", "z", "GT", "LT", "1", "a"), ("ZADD", "z", "GT", "NX", "1", "a"),
        ("ZADD", "z", "LT", "NX", "1", "a"), ("ZADD", "z", "NX", "XX", "GT", "1", "a"), ("ZADD", "z", "INCR", "1", "a", "2", "b"),
        ("ZADD", "z", "INCR", "NX", "XX", "1", "a", "2", "b"), ("ZADD", "z", "abc", "a"), ("ZADD", "z", "1", "a", "nan", "b"),
        ("ZADD", "z", "", "a"), ("ZADD", "z", " 1", "a"), ("ZADD", "z", "1 ", "a"), ("ZADD", "z", "1e400", "a"),
        ("ZADD", "z", "1e-400", "a"), ("ZADD", "z", "0x10", "a"), ("ZADD", "z", "infinity", "a"), ("ZADD", "z", "+inf", "b"),
        ("ZADD", "z", "-INF", "c"), (b"ZADD", b"z", b"1\x00", b"a"), ("ZADD", "z", "foo", "1", "a"), ("EXISTS", "z"),
        WRONG, ("ZADD", "str", "1", "a"), ("ZADD", "str", "x", "a"), ("ZADD", "str", "NX", "XX", "1", "a"), ("ZINCRBY", "str", "1", "a"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ],
    "zadd incr and zincrby": [
        ("ZADD", "z", "INCR", "1", "a"), ("ZADD", "z", "INCR", "2.5", "a"), ("ZADD", "z", "incr", "0", "a"),
        ("ZADD", "z", "XX", "INCR", "1", "nope"), ("ZADD", "z", "NX", "INCR", "1", "a"), ("ZADD", "z", "GT", "INCR", "-1", "a"),
        ("ZADD", "z", "LT", "INCR", "-1", "a"), ("ZADD", "z", "GT", "INCR", "1", "new"), ("ZADD", "z", "CH", "INCR", "5", "a"),
        ("ZADD", "z", "INCR", "inf", "a"), ("ZADD", "z", "INCR", "-inf", "a"), ("ZINCRBY", "z", "-inf", "a"),
        ("ZINCRBY", "z", "1", "b"), ("ZINCRBY", "z", "-0.1", "b"), ("ZINCRBY", "z", "abc", "b"), ("ZINCRBY", "z", "nx", "b"),
        ("ZINCRBY", "z", "incr", "b"), ("ZINCRBY", "z", "nan", "b"), ("ZINCRBY", "inc", "-0", "m"), ("ZADD", "inc2", "INCR", "-0", "m"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZRANGE", "inc", "0", "-1", "WITHSCORES"),
    ],
    "scores print like redis": [
        ("ZADD", "z", "0.1", "a", "1e-300", "b", "1.7976931348623157e308", "c", "123456789012345678", "d", "-0", "e",
         "3.0", "f", "1e21", "g", "0.30000000000000004", "h", "-2.5e-5", "i", "4611686018427387904", "j", "5e-324", "k",
         "0x1p-3", "l", "4611686018427387905", "m", "-4611686018427387904", "n"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZSCORE", "z", "c"), ("ZSCORE", "z", "e"), ("ZMSCORE", "z", "a", "g", "k", "x"),
        ("ZSCAN", "z", "0"), ("ZINCRBY", "z", "0.2", "a"), ("ZINCRBY", "z", "1e308", "c"), ("ZINCRBY", "z", "1e308", "c"),
    ],
    "zrem": [
        ("ZREM", "z", "a"), Z5, ("ZREM", "z", "a", "nope", "a"), ("ZREM", "z", "nope"), ("ZRANGE", "z", "0", "-1"),
        ("ZREM", "z", "b", "c", "d", "e", "x"), ("EXISTS", "z"), WRONG, ("ZREM", "str", "a"),
    ],
    "zremrangebyrank": [
        ("ZREMRANGEBYRANK", "z", "0", "1"), ("ZREMRANGEBYRANK", "z", "x", "1"), Z5, ("ZREMRANGEBYRANK", "z", "0", "0"),
        ("ZREMRANGEBYRANK", "z", "-1", "-1"), ("ZREMRANGEBYRANK", "z", "5", "10"), ("ZREMRANGEBYRANK", "z", "2", "1"),
        ("ZREMRANGEBYRANK", "z", "1", "x"), ("ZREMRANGEBYRANK", "z", "1.5", "2"), ("ZRANGE", "z", "0", "-1"),
        ("ZREMRANGEBYRANK", "z", "-100", "100"), ("EXISTS", "z"), WRONG, ("ZREMRANGEBYRANK", "str", "0", "1"),
        ("ZREMRANGEBYRANK", "str", "a", "1"),
    ],
    "zremrangebyscore": [
        ("ZREMRANGEBYSCORE", "z", "0", "1"), ("ZREMRANGEBYSCORE", "z", "x", "1"), Z5, ("ZREMRANGEBYSCORE", "z", "(1", "2"),
        ("ZREMRANGEBYSCORE", "z", "(3", "(4"), ("ZREMRANGEBYSCORE", "z", "5", "4"), ("ZREMRANGEBYSCORE", "z", "(5", "5"),
        ("ZREMRANGEBYSCORE", "z", "nan", "5"), ("ZRANGE", "z", "0", "-1"), ("ZREMRANGEBYSCORE", "z", "-inf", "+inf"),
        ("EXISTS", "z"), WRONG, ("ZREMRANGEBYSCORE", "str", "0", "1"), ("ZREMRANGEBYSCORE", "str", "(", "x"),
    ],
    "zremrangebylex": [
        ("ZREMRANGEBYLEX", "lex", "-", "+"), ("ZREMRANGEBYLEX", "lex", "a", "+"), LEX, ("ZREMRANGEBYLEX", "lex", "[a", "(b"),
        ("ZREMRANGEBYLEX", "lex", "(c", "[d"), ("ZREMRANGEBYLEX", "lex", "+", "-"), ("ZREMRANGEBYLEX", "lex", "[z", "+"),
        ("ZRANGE", "lex", "0", "-1"), ("ZREMRANGEBYLEX", "lex", "-", "(a"), ("ZRANGE", "lex", "0", "-1"),
        ("ZREMRANGEBYLEX", "lex", "-", "+"), ("EXISTS", "lex"), MIXED, ("ZREMRANGEBYLEX", "mixed", "[a", "[b"),
        ("ZRANGE", "mixed", "0", "-1"), WRONG, ("ZREMRANGEBYLEX", "str", "-", "+"),
    ],
    "zcard zscore zmscore zrank": [
        ("ZCARD", "z"), ("ZSCORE", "z", "a"), ("ZMSCORE", "z", "a", "b"), ("ZRANK", "z", "a"), ("ZREVRANK", "z", "a"), Z5,
        ("ZCARD", "z"), ("ZSCORE", "z", "c"), ("ZSCORE", "z", "x"), ("ZMSCORE", "z", "a", "x", "e"), ("ZRANK", "z", "a"),
        ("ZRANK", "z", "e"), ("ZREVRANK", "z", "a"), ("ZREVRANK", "z", "x"), ("ZRANK", "z", "x"), WRONG, ("ZCARD", "str"),
        ("ZSCORE", "str", "a"), ("ZMSCORE", "str", "a"), ("ZRANK", "str", "a"), ("ZREVRANK", "str", "a"),
    ],
    "zcount zlexcount": [
        ("ZCOUNT", "z", "-inf", "+inf"), ("ZLEXCOUNT", "lex", "-", "+"), Z5, LEX, MIXED,
        *[("ZCOUNT", "z", a, b) for a, b in [("-inf", "+inf"), ("(1", "(5"), ("2", "2"), ("(2", "2"), ("3", "1"),
                                              ("", ""), ("0x2", "1e1"), ("-1e400", "1e400"), ("(inf", "+inf"), ("-inf", "(-inf")]],
        ("ZCOUNT", "z", "a", "1"), ("ZCOUNT", "z", "1", "nan"), ("ZCOUNT", "z", "((1", "2"),
        *[("ZLEXCOUNT", "lex", a, b) for a, b in [("-", "+"), ("[a", "[c"), ("(a", "(c"), ("[b", "[b"), ("(b", "[b"),
                                                   ("+", "-"), ("-", "-"), ("+", "+"), ("[", "+"), ("(", "(")]],
        ("ZLEXCOUNT", "lex", "a", "+"), ("ZLEXCOUNT", "lex", "-", "b"), ("ZLEXCOUNT", "lex", "", "+"),
        ("ZLEXCOUNT", "mixed", "[a", "[c"), ("ZLEXCOUNT", "mixed", "-", "+"), ("ZLEXCOUNT", "mixed", "[b", "+"),
        WRONG, ("ZCOUNT", "str", "0", "1"), ("ZLEXCOUNT", "str", "-", "+"), ("ZCOUNT", "str", "x", "1"),
    ],
    "zrange by rank": [
        ("ZRANGE", "z", "0", "-1"), Z5,
        *[("ZRANGE", "z", a, b) for a, b in [("0", "-1"), ("1", "3"), ("-2", "-1"), ("-100", "100"), ("3", "1"), ("5", "10"),
                                              ("-1", "-5"), ("0", "0"), ("-9223372036854775808", "9223372036854775807")]],
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZRANGE", "z", "0", "1", "REV"), ("ZRANGE", "z", "0", "-1", "rev", "withscores"),
        ("ZRANGE", "z", "-2", "-1", "REV", "WITHSCORES"), ("ZREVRANGE", "z", "0", "1"), ("ZREVRANGE", "z", "1", "-1", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "-1", "REV"), ("ZRANGE", "z", "x", "1"), ("ZRANGE", "z", "0", "1.5"),
        ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"), ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1"),
        ("ZRANGE", "z", "0", "-1", "LIMIT", "0"), ("ZRANGE", "z", "0", "-1", "LIMIT", "x", "1"), ("ZRANGE", "z", "0", "-1", "FOO"),
        ("ZREVRANGE", "z", "0", "-1", "LIMIT", "1", "1"), ("ZRANGE", "nokey", "0", "-1"), ("ZRANGE", "nokey", "x", "-1"),
        WRONG, ("ZRANGE", "str", "0", "-1"), ("ZRANGE", "str", "x", "-1"),
    ],
    "zrange by score": [
        Z5, ("ZADD", "z", "-inf", "lo", "inf", "hi"),
        *[("ZRANGE", "z", a, b, "BYSCORE") for a, b in [("-inf", "+inf"), ("(1", "(5"), ("2", "2"), ("(2", "2"), ("3", "1"),
                                                         ("", "2"), (" 2", "3"), ("0x3", "4"), ("(-inf", "(inf"), ("-1e400", "0")]],
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "WITHSCORES", "LIMIT", "1", "2"), ("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV"),
        ("ZRANGE", "z", "5", "1", "byscore", "rev", "limit", "1", "2", "withscores"), ("ZRANGE", "z", "1", "5", "BYSCORE", "REV"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "-1"), ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "6", "2"), ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "7", "2"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "0"), ("ZRANGEBYSCORE", "z", "(1", "4", "WITHSCORES", "LIMIT", "1", "1"),
        ("ZRANGEBYSCORE", "z", "1", "4", "LIMIT", "1", "1", "WITHSCORES"), ("ZREVRANGEBYSCORE", "z", "4", "1"),
        ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "3"), ("ZREVRANGEBYSCORE", "z", "1", "4"),
        ("ZREVRANGEBYSCORE", "z", "(4", "(1", "LIMIT", "-5", "1"), ("ZRANGEBYSCORE", "z", "1", "4", "REV"),
        ("ZRANGEBYSCORE", "z", "1", "4", "LIMIT", "1"), ("ZRANGEBYSCORE", "z", "x", "4"), ("ZRANGEBYSCORE", "z", "1", "4 "),
        ("ZRANGEBYSCORE", "z", "1", "nan"), ("ZRANGE", "z", "1", "4", "BYSCORE", "BYSCORE"), ("ZRANGE", "z", "1", "4", "BYSCORE", "BYLEX"),
        ("ZRANGE", "z", "1", "4", "REV", "REV"), ("ZRANGE", "z", "(1", "4"), ("ZRANGEBYSCORE", "z", "1", "4", "LIMIT", "x", "1"),
        ("ZRANGEBYSCORE", "nokey", "x", "1"), ("ZRANGEBYSCORE", "nokey", "0", "1"), WRONG, ("ZRANGEBYSCORE", "str", "0", "1"),
    ],
    "zrange by lex": [
        LEX, MIXED,
        *[("ZRANGE", "lex", a, b, "BYLEX") for a, b in [("-", "+"), ("[a", "[c"), ("(a", "(c"), ("[b", "[b"), ("(b", "[b"),
                                                         ("+", "-"), ("[", "(b"), ("(", "+"), ("[ab", "+"), ("-", "[")]],
        ("ZRANGE", "lex", "+", "-", "BYLEX", "REV"), ("ZRANGE", "lex", "[d", "(a", "BYLEX", "REV", "LIMIT", "1", "2"),
        ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "2", "3"), ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "-1", "3"),
        ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "100", "3"), ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "0", "-5"),
        ("ZREVRANGEBYLEX", "lex", "+", "-"), ("ZREVRANGEBYLEX", "lex", "[c", "[a", "LIMIT", "1", "5"), ("ZREVRANGEBYLEX", "lex", "-", "+"),
        ("ZRANGEBYLEX", "lex", "a", "+"), ("ZRANGEBYLEX", "lex", "-", "+x"), (b"ZRANGEBYLEX", b"lex", b"-", b"+\x00x"),
        (b"ZRANGEBYLEX", b"lex", b"[a\x00", b"+"), ("ZRANGEBYLEX", "lex", "-", "+", "WITHSCORES"),
        ("ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"), ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "0"),
        *[("ZRANGE", "mixed", a, b, "BYLEX", *opts) for a, b in [("[a", "[c"), ("-", "+"), ("[b", "+"), ("(a", "[z"), ("[c", "[a")]
          for opts in [(), ("LIMIT", "1", "1"), ("LIMIT", "2", "5"), ("LIMIT", "4", "1")]],
        *[("ZRANGE", "mixed", b, a, "BYLEX", "REV", *opts) for a, b in [("[a", "[c"), ("-", "+"), ("[b", "+"), ("(a", "[z")]
          for opts in [(), ("LIMIT", "1", "1"), ("LIMIT", "3", "5")]],
        ("ZRANGEBYLEX", "nokey", "a", "b"), ("ZRANGEBYLEX", "nokey", "-", "+"), WRONG, ("ZRANGEBYLEX", "str", "-", "+"),
    ],
    "zrangestore": [
        Z5, ("ZRANGESTORE", "d", "z", "0", "-1"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", "d"),
        ("ZRANGESTORE", "d", "z", "1", "3", "REV"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "z", "(1", "5", "BYSCORE", "LIMIT", "1", "2"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "z", "[b", "[d", "BYLEX"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"), ("ZRANGESTORE", "d", "z", "5", "10"), ("EXISTS", "d"),
        ("ZRANGESTORE", "d", "z", "0", "0"), ("ZRANGESTORE", "d", "nokey", "0", "-1"), ("EXISTS", "d"),
        ("SET", "d", "v", "EX", "100"), ("ZRANGESTORE", "d", "z", "0", "1"), ("TYPE", "d"), ("TTL", "d"),
        ("ZRANGESTORE", "z", "z", "1", "2"), ("ZRANGE", "z", "0", "-1"), WRONG, ("ZRANGESTORE", "d", "str", "0", "-1"),
        ("ZRANGESTORE", "str", "z", "0", "-1"), ("TYPE", "str"), ("ZRANGESTORE", "d", "z", "x", "1"),
    ],
    "zunion zinter zdiff": [
        ("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZADD", "b", "10", "y", "20", "z", "30", "w"), ("SADD", "s", "x", "y", "q"),
        ("SADD", "n", "1", "2", "3"), ("ZADD", "zn", "5", "1", "6", "2"),
        ("ZUNION", "2", "a", "b"), ("ZUNION", "2", "a", "b", "WITHSCORES"), ("ZUNION", "3", "a", "b", "s", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "-1", "WITHSCORES"), ("ZUNION", "2", "a", "b", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "aggregate", "min", "weights", "0", "1", "withscores"),
        ("ZUNION", "2", "a", "nokey", "WITHSCORES"), ("ZUNION", "1", "nokey"), ("ZUNION", "2", "a", "a", "WITHSCORES"),
        ("ZINTER", "2", "a", "b", "WITHSCORES"), ("ZINTER", "2", "a", "s", "WITHSCORES"), ("ZINTER", "2", "s", "a", "WITHSCORES"),
        ("ZINTER", "2", "n", "zn", "WITHSCORES"), ("ZINTER", "2", "a", "a", "AGGREGATE", "MIN", "WEIGHTS", "1", "3", "WITHSCORES"),
        ("ZINTER", "3", "a", "b", "nokey"), ("ZINTER", "1", "s", "WITHSCORES"),
        ("ZDIFF", "2", "a", "b", "WITHSCORES"), ("ZDIFF", "2", "b", "a"), ("ZDIFF", "2", "s", "a", "WITHSCORES"),
        ("ZDIFF", "2", "a", "a"), ("ZDIFF", "3", "a", "nokey", "s", "WITHSCORES"), ("ZDIFF", "1", "nokey"),
        ("ZADD", "pinf", "inf", "m", "1", "o"), ("ZADD", "ninf", "-inf", "m", "-1", "o"), ("ZUNION", "2", "pinf", "ninf", "WITHSCORES"),
        ("ZINTER", "2", "pinf", "ninf", "WITHSCORES"), ("ZUNION", "2", "pinf", "ninf", "WEIGHTS", "0", "1", "WITHSCORES"),
        ("ZINTER", "2", "pinf", "ninf", "WEIGHTS", "0", "0", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZUNION", "1", "pinf", "WEIGHTS", "-0", "WITHSCORES"), ("ZUNION", "2", "pinf", "pinf", "WEIGHTS", "inf", "-inf", "WITHSCORES"),
        ("ZADD", "f", "0.1", "p", "0.2", "q"), ("ZADD", "g", "0.2", "p", "0.1", "q", "7", "r"), ("ZADD", "h", "0.3", "p", "0.3", "q"),
        ("ZUNION", "3", "h", "g", "f", "WITHSCORES"), ("ZUNION", "3", "f", "h", "g", "WITHSCORES"), ("ZINTER", "3", "g", "f", "h", "WITHSCORES"),
    ],
    "set operation errors": [
        ("ZADD", "a", "1", "x"), WRONG,
        ("ZUNION", "0", "a"), ("ZUNION", "-1", "a"), ("ZUNION", "x", "a"), ("ZUNION", "3", "a", "b"), ("ZINTER", "0", "a"),
        ("ZDIFF", "0", "a"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1"), ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "nan"), ("ZUNION", "1", "a", "AGGREGATE"), ("ZUNION", "1", "a", "AGGREGATE", "AVG"),
        ("ZUNION", "1", "a", "FOO"), ("ZDIFF", "1", "a", "WEIGHTS", "1"), ("ZDIFF", "1", "a", "AGGREGATE", "SUM"),
        ("ZUNIONSTORE", "d", "1", "a", "WITHSCORES"), ("ZUNION", "2", "a", "str"), ("ZUNION", "2", "str", "a", "WEIGHTS", "x"),
        ("ZINTER", "2", "nokey", "str"), ("ZDIFF", "2", "a", "str"), ("ZUNIONSTORE", "d", "0", "a"), ("ZINTERSTORE", "d", "x", "a"),
        ("ZDIFFSTORE", "d", "-5", "a"), ("ZINTERCARD", "0", "a"), ("ZINTERCARD", "2", "a"), ("ZINTERCARD", "1", "a", "LIMIT"),
        ("ZINTERCARD", "1", "a", "LIMIT", "-1"), ("ZINTERCARD", "1", "a", "LIMIT", "x"), ("ZINTERCARD", "1", "a", "WITHSCORES"),
        ("ZINTERCARD", "1", "a", "WEIGHTS", "1"), ("ZINTERCARD", "1", "str"), ("ZUNION", "1", "a", b"with\x00scores"),
        ("ZUNION", "1", "a", b"WITHSCORES\x00x"),
    ],
    "store forms": [
        ("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZADD", "b", "10", "y", "20", "z", "30", "w"), ("SADD", "s", "x", "q"),
        ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", "d"),
        ("ZINTERSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2", "AGGREGATE", "MAX"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZDIFFSTORE", "d", "2", "b", "a"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZUNIONSTORE", "d", "2", "s", "a"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZINTERSTORE", "d", "2", "a", "nokey"), ("EXISTS", "d"),
        ("ZDIFFSTORE", "d", "2", "a", "a"), ("ZUNIONSTORE", "d", "1", "nokey"), ("SET", "d", "v", "EX", "100"),
        ("ZUNIONSTORE", "d", "1", "a"), ("TYPE", "d"), ("TTL", "d"), ("ZINTERSTORE", "a", "2", "a", "b"), ("ZRANGE", "a", "0", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", "w", "1", "b", "WEIGHTS", "-0"), ("ZRANGE", "w", "0", "-1", "WITHSCORES"), ("ZUNION", "1", "b", "WEIGHTS", "-0", "WITHSCORES"),
        ("ZINTERCARD", "2", "a", "b"), ("ZINTERCARD", "2", "b", "b", "LIMIT", "2"), ("ZINTERCARD", "2", "b", "b", "limit", "0"),
        ("ZINTERCARD", "2", "b", "s"), ("ZINTERCARD", "1", "nokey"),
    ],
    "zpopmin zpopmax": [
        ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "2"), ("ZPOPMIN", "z", "0"), Z5, ("ZPOPMIN", "z"), ("ZPOPMAX", "z"),
        ("ZPOPMIN", "z", "2"), ("ZPOPMIN", "z", "0"), ("ZPOPMIN", "z", "-1"), ("ZPOPMIN", "z", "x"), ("ZPOPMIN", "z", "1", "2"),
        ("ZPOPMAX", "z", "9223372036854775807"), ("EXISTS", "z"), ("ZPOPMIN", "nokey", "x"), WRONG, ("ZPOPMIN", "str"),
        ("ZPOPMAX", "str", "0"), ("ZPOPMAX", "str", "-1"),
    ],
    "zmpop": [
        ("ZMPOP", "1", "z", "MIN"), Z5, ("ZADD", "y", "7", "q"), ("ZMPOP", "1", "z", "MIN"), ("ZMPOP", "2", "nokey", "z", "max", "COUNT", "2"),
        ("ZMPOP", "2", "y", "z", "MIN", "count", "10"), ("ZMPOP", "2", "y", "z", "MIN", "COUNT", "10"), ("ZMPOP", "1", "z", "MIN"),
        ("ZMPOP", "0", "z", "MIN"), ("ZMPOP", "-1", "z", "MIN"), ("ZMPOP", "x", "z", "MIN"), ("ZMPOP", "2", "z", "MIN"),
        ("ZMPOP", "1", "z", "FOO"), ("ZMPOP", "1", "z", "MIN", "COUNT"), ("ZMPOP", "1", "z", "MIN", "COUNT", "0"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "-1"), ("ZMPOP", "1", "z", "MIN", "COUNT", "x"), ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"),
        ("ZMPOP", "1", "z", "MIN", "FOO"), Z5, WRONG, ("ZMPOP", "2", "str", "z", "MIN"), ("ZMPOP", "2", "nokey", "str", "MAX"),
        ("ZMPOP", "2", "z", "str", "MAX"), (b"ZMPOP", b"1", b"z", b"max\x00x"),
    ],
    "zrandmember (the deterministic cases)": [
        ("ZRANDMEMBER", "nokey"), ("ZRANDMEMBER", "nokey", "5"), ("ZRANDMEMBER", "nokey", "-5", "WITHSCORES"), Z5,
        ("ZRANDMEMBER", "z", "5"), ("ZRANDMEMBER", "z", "100", "WITHSCORES"), ("ZRANDMEMBER", "z", "0"),
        ("ZRANDMEMBER", "z", "0", "withscores"), ("ZRANDMEMBER", "z", "x"), ("ZRANDMEMBER", "z", "1", "foo"),
        ("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"), ("ZRANDMEMBER", "z", "-9223372036854775808"),
        ("ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"), ("ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "9223372036854775808"), ("ZADD", "one", "1", "m"), ("ZRANDMEMBER", "one"), ("ZRANDMEMBER", "one", "-3"),
        ("ZRANDMEMBER", "one", "-2", "WITHSCORES"), ("ZRANDMEMBER", "one", "1", "WITHSCORES"), WRONG, ("ZRANDMEMBER", "str"),
        ("ZRANDMEMBER", "str", "1"), ("ZRANDMEMBER", "str", "x"),
    ],
    "zscan of a listpack": [
        ("ZSCAN", "nokey", "0"), ("ZSCAN", "nokey", "0", "FOO"), Z5, ("ZADD", "z", "1.5", "ab", "-inf", "n", "inf", "p"),
        ("ZSCAN", "z", "0"), ("ZSCAN", "z", "123"), ("ZSCAN", "z", "0", "MATCH", "a*"), ("ZSCAN", "z", "0", "COUNT", "1"),
        ("ZSCAN", "z", "0", "match", "*", "count", "100"), ("ZSCAN", "z", "0", "COUNT", "0"), ("ZSCAN", "z", "0", "COUNT", "x"),
        ("ZSCAN", "z", "0", "TYPE", "zset"), ("ZSCAN", "z", "0", "MATCH"), ("ZSCAN", "z", "x"), ("ZSCAN", "z", "-1"),
        ("ZSCAN", "z", "18446744073709551616"), WRONG, ("ZSCAN", "str", "0"), ("ZSCAN", "str", "x"),
    ],
    "blocking pops that need not block": [
        Z5, ("BZPOPMIN", "z", "0"), ("BZPOPMAX", "nokey", "z", "0"), ("bzpopmin", "z", "1.5"),
        ("BZMPOP", "0", "2", "nokey", "z", "MAX", "COUNT", "5"), ("EXISTS", "z"), Z5, ("BZMPOP", "0", "1", "z", "min"),
        ("BZPOPMIN", "nokey", "0.01"), ("BZPOPMAX", "nokey", "other", "0.01"), ("BZMPOP", "0.01", "1", "nokey", "MIN"),
        ("BZPOPMIN", "z", "-1"), ("BZPOPMIN", "z", "abc"), ("BZPOPMIN", "z", "inf"), ("BZMPOP", "abc", "1", "z", "MIN"),
        ("BZMPOP", "abc", "0", "z", "MIN"), ("BZMPOP", "-1", "1", "z", "FOO"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
        WRONG, ("BZPOPMIN", "nokey", "str", "0"), ("BZPOPMAX", "str", "z", "0"), ("BZMPOP", "0", "2", "str", "z", "MIN"),
    ],
    "memory usage of listpacks": [
        ("ZADD", "z", "1", "a", "2", "b"), ("MEMORY", "USAGE", "z"),
        ("ZADD", "y", "1.5", "a", "200", "b", "70000", "c", "-5", "d", "1e300", "e", "10", "12345678901", "-0.5", "x", "inf", "i"),
        ("MEMORY", "USAGE", "y"), ("ZADD", "w", "1", "a" * 63, "2", "b" * 64, "3", "c" * 10), ("MEMORY", "USAGE", "w"),
    ],
    "command getkeys": [
        *[("COMMAND", "GETKEYS", *cmd) for cmd in [
            ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZUNIONSTORE", "d", "2abc", "a", "b"), ("ZUNIONSTORE", "d", "0", "a", "b"),
            ("ZUNIONSTORE", "d", "3", "a", "b"), ("ZINTERSTORE", "d", " 2", "a", "b"), ("ZDIFFSTORE", "d", "-1", "a", "b"),
            ("ZUNIONSTORE", "d", "4294967298", "a", "b"), ("ZUNIONSTORE", "d", "4294967296", "a", "b"),
            ("ZUNION", "2", "a", "b", "WEIGHTS", "1", "2"), ("ZUNION", "2x", "a", "b"), ("ZINTER", "1", "a"), ("ZDIFF", "3", "a", "b"),
            ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"), ("ZMPOP", "2", "a", "b", "MIN"), ("ZMPOP", "2x", "a", "b", "MIN"),
            ("BZMPOP", "0", "2", "a", "b", "MIN"), ("BZMPOP", "0", "x", "a", "b", "MIN"), ("BZPOPMIN", "a", "b", "0"),
            ("ZRANGESTORE", "d", "s", "0", "1"), ("ZADD", "k", "1", "a"), ("ZUNION", "1")]],
        *[("COMMAND", "GETKEYSANDFLAGS", *cmd) for cmd in [
            ("ZUNIONSTORE", "d", "2", "a", "b"), ("ZRANGESTORE", "d", "s", "0", "1"), ("ZMPOP", "1", "a", "MAX"), ("ZINCRBY", "k", "1", "m")]],
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_zset_command_replies(pair, name):
    check_all(pair, *CASES[name])


@pytest.mark.parametrize("name", list(CASES))
def test_zset_command_replies_in_resp3(pair, name):
    resp3(pair)
    check_all(pair, *CASES[name])


def test_blocking_pops_inside_multi_answer_at_once(pair):
    check_all(pair, ("ZADD", "z", "1", "a", "2", "b"), ("MULTI",), ("BZPOPMIN", "nokey", "0"), ("BZMPOP", "0", "1", "nokey", "MIN"),
              ("BZPOPMAX", "z", "0"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"), ("EXEC",), ("EXISTS", "z"))


# -- encodings ---------------------------------------------------------------------------------


def test_listpack_becomes_skiplist_past_the_entries_limit_and_stays(pair):
    with zset_limits(pair, 3):
        check_all(
            pair, ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("OBJECT", "ENCODING", "z"), ("ZADD", "z", "4", "c"),
            ("OBJECT", "ENCODING", "z"), ("ZADD", "z", "XX", "5", "d"), ("OBJECT", "ENCODING", "z"), ("ZADD", "z", "4", "d"),
            ("OBJECT", "ENCODING", "z"), ("ZREM", "z", "a", "b", "c"), ("OBJECT", "ENCODING", "z"), ("ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d"),
            ("OBJECT", "ENCODING", "z2"), ("ZPOPMIN", "z2", "3"), ("OBJECT", "ENCODING", "z2"), ("COPY", "z2", "z3"), ("OBJECT", "ENCODING", "z3"),
        )


def test_long_members_make_a_skiplist(pair):
    with zset_limits(pair, 128, 4):
        check_all(
            pair, ("ZADD", "z", "1", "abcd"), ("OBJECT", "ENCODING", "z"), ("ZADD", "z", "1", "abcde"), ("OBJECT", "ENCODING", "z"),
            ("ZADD", "y", "1", "abcde"), ("OBJECT", "ENCODING", "y"), ("ZADD", "x", "XX", "1", "abcde"), ("EXISTS", "x"),
            ("ZINCRBY", "w", "1", "abcdef"), ("OBJECT", "ENCODING", "w"), ("ZADD", "v", "1", "a", "2", "abcdef"), ("OBJECT", "ENCODING", "v"),
        )


def test_zero_entries_means_always_a_skiplist(pair):
    with zset_limits(pair, 0):
        check_all(pair, ("ZADD", "z", "1", "a"), ("OBJECT", "ENCODING", "z"), ("ZRANGESTORE", "d", "z", "0", "-1"),
                  ("OBJECT", "ENCODING", "d"), ("ZUNIONSTORE", "u", "1", "z"), ("OBJECT", "ENCODING", "u"))


def test_store_commands_choose_the_encoding_like_redis(pair):
    members = [x for i in range(6) for x in (str(i), "m%d" % i)]
    check_all(pair, ("ZADD", "src", *members), ("ZADD", "long", "1", "x" * 10))
    with zset_limits(pair, 4, 8):
        for cmd in [("ZRANGESTORE", "d", "src", "0", "3"), ("ZRANGESTORE", "d", "src", "0", "4"), ("ZRANGESTORE", "d", "long", "0", "-1"),
                    ("ZUNIONSTORE", "d", "1", "src"), ("ZINTERSTORE", "d", "2", "src", "src"), ("ZDIFFSTORE", "d", "1", "long"),
                    ("ZRANGESTORE", "d", "src", "0", "3", "REV"), ("ZUNIONSTORE", "d", "2", "src", "long")]:
            check_all(pair, cmd, ("OBJECT", "ENCODING", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"))
        check_all(pair, ("ZREMRANGEBYRANK", "src", "0", "8"), ("ZUNIONSTORE", "d", "1", "src"), ("OBJECT", "ENCODING", "d"),
                  ("OBJECT", "ENCODING", "src"))


def test_negative_zero_survives_only_in_a_skiplist(pair):
    """A listpack stores an integral score as an integer, so -0 reads back as 0."""
    script = [
        ("ZADD", "z", "-0", "a"), ("ZSCORE", "z", "a"), ("ZINCRBY", "z", "-0", "b"), ("ZADD", "z", "INCR", "-0", "c"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZUNION", "1", "z", "WEIGHTS", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "-1"), ("ZRANGE", "u", "0", "-1", "WITHSCORES"), ("ZSCAN", "z", "0"),
        ("ZPOPMIN", "z"), ("ZMSCORE", "z", "b", "c"),
    ]
    check_all(pair, *script)
    pair.check("FLUSHALL")
    with zset_limits(pair, 0):
        check_all(pair, *[cmd for cmd in script if cmd[0] != "ZSCAN"])
        pair.check("ZSCAN", "z", "0", "COUNT", "100", normalize=_scan_pairs)


def _scan_pairs(raw: bytes):
    """A ZSCAN reply as (cursor, sorted member/score pairs): a skiplist answers in hash order."""
    cursor, items = decode(raw)
    return cursor, sorted(zip(items[::2], items[1::2]))


def test_zscan_walks_a_skiplist_to_the_same_members(pair):
    members = [x for i in range(300) for x in ("%d.5" % (i % 7), "m%d" % i)]
    check_all(pair, ("ZADD", "z", *members), ("ZADD", "z", "inf", "top", "-0", "zero"), ("OBJECT", "ENCODING", "z"))
    for options in [(), ("COUNT", "1"), ("COUNT", "37"), ("MATCH", "m1*"), ("MATCH", "*", "COUNT", "1000")]:
        seen = []
        for conn in (pair.redis, pair.ours):
            items, _ = full_scan(conn, "ZSCAN", "z", *options)
            seen.append(dict(zip(items[::2], items[1::2])))
        assert seen[1] == seen[0]


def test_zscan_returns_members_present_for_the_whole_iteration(pair):
    check_all(pair, ("ZADD", "z", *[x for i in range(500) for x in (str(i), "m%d" % i)]))
    conn = pair.ours
    cursor, found = b"0", set()
    step = 0
    while True:
        cursor, items = decode(conn.call("ZSCAN", "z", cursor, "COUNT", "20"))
        found.update(items[::2])
        conn.call("ZADD", "z", "1", "new%d" % step)
        conn.call("ZREM", "z", "m%d" % (499 - step))
        step += 1
        if cursor == b"0":
            break
    survivors = {b"m%d" % i for i in range(500 - step)}
    assert survivors <= found


# -- zrandmember -------------------------------------------------------------------------------


@pytest.mark.parametrize("entries", [128, 0])
@pytest.mark.parametrize("proto", [2, 3])
def test_zrandmember_answers_have_redis_shapes(pair, entries, proto):
    """Random answers cannot be compared byte for byte: their shape, their size, member
    uniqueness and the scores that come with the members are."""
    if proto == 3:
        resp3(pair)
    members = {b"m%d" % i: float(i) / 4 for i in range(20)}
    with zset_limits(pair, entries):
        check_all(pair, ("ZADD", "z", *[x for m, s in members.items() for x in (repr(s), m)]), ("OBJECT", "ENCODING", "z"))
        for args in [(), ("1",), ("3",), ("10",), ("19",), ("-5",), ("-40",), ("3", "WITHSCORES"), ("10", "WITHSCORES"),
                     ("-30", "WITHSCORES"), ("1", "WITHSCORES")]:
            theirs, ours = (decode(raw) for raw in pair.compare("ZRANDMEMBER", "z", *args))
            assert type(ours) is type(theirs)
            if not args:
                assert ours in members
                continue
            count = int(args[0])
            withscores = len(args) == 2
            assert len(ours) == len(theirs)
            if withscores:
                pairs = ours if proto == 3 else list(zip(ours[::2], ours[1::2]))
                assert all(float(s) == members[m] for m, s in pairs)
                picked = [m for m, _ in pairs]
            else:
                picked = ours
            assert set(picked) <= set(members)
            if count > 0:
                assert len(set(picked)) == len(picked) == min(count, len(members))


# -- generated sequences ---------------------------------------------------------------------

ZKEYS = _one_of(b"a", b"b", b"c")
MEMBERS = _one_of(b"x", b"y", b"z", b"w", b"", b"10", b"xy", b"abcd")
SCORES = _one_of(b"1", b"0", b"-1", b"2.5", b"-0", b"inf", b"-inf", b"+inf", b"1e-300", b"0.1", b"3", b"1e20", b"7", b"0.2")
# Hypothesis leans towards the first choices: minimums start low and maximums high, so that
# most ranges hold something; the rest are the edge cases.
_BOUNDS = (b"0", b"(0", b"1", b"(1", b"2.5", b"(2.5", b"-1", b"(inf", b"(-inf", b"3", b"(3", b"1e20", b"abc", b"")
MIN_SCORES = _one_of(b"-inf", *_BOUNDS, b"+inf")
MAX_SCORES = _one_of(b"+inf", *_BOUNDS, b"-inf")
_LEX = (b"[x", b"(x", b"[y", b"(z", b"[", b"(", b"[10", b"(xy", b"[abcd", b"x")
MIN_LEX = _one_of(b"-", *_LEX, b"+")
MAX_LEX = _one_of(b"+", *_LEX, b"-")
_EXTREMES = _one_of(-(2**63), 2**63 - 1)
STARTS = st.one_of(_one_of(0, 1, -2, 2, -1, 3, -5, 7), st.integers(-8, 8), _EXTREMES).map(lambda i: b"%d" % i)
STOPS = st.one_of(_one_of(-1, 2, 0, 1, -2, 3, 10, -9), st.integers(-8, 8), _EXTREMES).map(lambda i: b"%d" % i)
LIMITS = _one_of((), (b"LIMIT", b"0", b"2"), (), (b"LIMIT", b"1", b"-1"), (b"LIMIT", b"-1", b"3"), (b"LIMIT", b"2", b"1"),
                 (b"LIMIT", b"5", b"5"), (b"LIMIT", b"1", b"0"))
ZADD_OPTIONS = st.one_of(st.just(()), st.lists(_one_of(b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"ch"), max_size=2).map(tuple))
SETOP_OPTIONS = _one_of((), (b"AGGREGATE", b"MIN"), (b"AGGREGATE", b"MAX"), (b"AGGREGATE", b"SUM"))
WEIGHTS = _one_of(b"1", b"2", b"-1", b"0", b"0.5", b"inf", b"-0")


def _pairs(max_size: int = 3, min_size: int = 1):
    return st.lists(st.tuples(SCORES, MEMBERS), min_size=min_size, max_size=max_size).map(lambda ps: sum(ps, ()))


def zset_commands(lex_key=ZKEYS, scan: bool = True):
    """One random sorted-set command. ``lex_key`` is where lex ranges are asked (a key whose
    members share one score, when the sets may be skiplists: Redis's answer for a mixed
    skiplist depends on its random levels)."""
    k, m = ZKEYS, MEMBERS
    cmds = [
        _cmd(b"ZADD", k, ZADD_OPTIONS, _pairs()),
        _cmd(b"ZADD", k, _pairs(4)),
        _cmd(b"ZADD", k, ZADD_OPTIONS, _pairs(1)),
        _cmd(b"ZADD", k, _one_of(b"x", b"nan", b""), m),
        _cmd(b"ZADD", b"lex", b"0", m, b"0", m),
        _cmd(b"ZINCRBY", k, SCORES, m),
        _cmd(b"ZREM", k, m, m),
        _cmd(b"ZCARD", k),
        _cmd(b"ZSCORE", k, m),
        _cmd(b"ZMSCORE", k, m, m),
        _cmd(_one_of(b"ZRANK", b"ZREVRANK"), k, m),
        _cmd(b"ZCOUNT", k, MIN_SCORES, MAX_SCORES),
        _cmd(b"ZLEXCOUNT", lex_key, MIN_LEX, MAX_LEX),
        _cmd(b"ZRANGE", k, STARTS, STOPS, _one_of((), (b"REV",)), _one_of((), (b"WITHSCORES",))),
        _cmd(b"ZRANGE", k, MIN_SCORES, MAX_SCORES, b"BYSCORE", _one_of((), (b"WITHSCORES",)), LIMITS),
        _cmd(b"ZRANGE", k, MAX_SCORES, MIN_SCORES, b"BYSCORE", b"REV", _one_of((), (b"WITHSCORES",)), LIMITS),
        _cmd(b"ZRANGE", lex_key, MIN_LEX, MAX_LEX, b"BYLEX", LIMITS),
        _cmd(b"ZRANGE", lex_key, MAX_LEX, MIN_LEX, b"BYLEX", b"REV", LIMITS),
        _cmd(b"ZRANGEBYSCORE", k, MIN_SCORES, MAX_SCORES, _one_of((), (b"WITHSCORES",)), LIMITS),
        _cmd(b"ZREVRANGEBYSCORE", k, MAX_SCORES, MIN_SCORES, _one_of((), (b"WITHSCORES",)), LIMITS),
        _cmd(b"ZRANGEBYLEX", lex_key, MIN_LEX, MAX_LEX, LIMITS),
        _cmd(b"ZREVRANGEBYLEX", lex_key, MAX_LEX, MIN_LEX, LIMITS),
        _cmd(b"ZREVRANGE", k, STARTS, STOPS, _one_of((), (b"WITHSCORES",))),
        _cmd(b"ZRANGESTORE", k, k, STARTS, STOPS),
        _cmd(b"ZRANGESTORE", k, k, MIN_SCORES, MAX_SCORES, b"BYSCORE", LIMITS),
        _cmd(b"ZRANGESTORE", k, k, MAX_SCORES, MIN_SCORES, b"BYSCORE", b"REV", LIMITS),
        _cmd(b"ZRANGESTORE", k, lex_key, MIN_LEX, MAX_LEX, b"BYLEX", LIMITS),
        _cmd(b"ZREMRANGEBYRANK", k, STARTS, STOPS),
        _cmd(b"ZREMRANGEBYSCORE", k, MIN_SCORES, MAX_SCORES),
        _cmd(b"ZREMRANGEBYLEX", lex_key, MIN_LEX, MAX_LEX),
        _cmd(_one_of(b"ZPOPMIN", b"ZPOPMAX"), k, _one_of((), (b"1",), (b"2",), (b"0",), (b"9",))),
        _cmd(b"ZMPOP", b"2", k, k, _one_of(b"MIN", b"MAX"), _one_of((), (b"COUNT", b"2"), (b"COUNT", b"10"))),
        _cmd(_one_of(b"BZPOPMIN", b"BZPOPMAX"), k, k, b"0.001"),
        _cmd(_one_of(b"ZUNION", b"ZINTER"), b"2", k, k, _one_of((), (b"WEIGHTS",)).flatmap(
            lambda w: st.just(()) if not w else st.tuples(st.just(b"WEIGHTS"), WEIGHTS, WEIGHTS)), SETOP_OPTIONS, b"WITHSCORES"),
        _cmd(b"ZDIFF", b"2", k, k, _one_of((), (b"WITHSCORES",))),
        _cmd(_one_of(b"ZUNIONSTORE", b"ZINTERSTORE"), k, b"2", k, k, _one_of((), (b"WEIGHTS", b"2", b"-1")), SETOP_OPTIONS),
        _cmd(b"ZDIFFSTORE", k, b"2", k, k),
        _cmd(b"ZINTERCARD", b"2", k, k, _one_of((), (b"LIMIT", b"1"), (b"LIMIT", b"0"))),
        _cmd(b"ZRANDMEMBER", k, _one_of(b"100", b"0", b"-0"), _one_of((), (b"WITHSCORES",))),
        _cmd(b"SADD", k, m, m),
        _cmd(b"SET", k, m),
        _cmd(b"DEL", k),
        _cmd(b"OBJECT", b"ENCODING", k),
        _cmd(b"TYPE", k),
        _cmd(b"PEXPIRE", k, b"100000"),
        _cmd(b"PEXPIREAT", k, b"1"),
        _cmd(b"PERSIST", k),
    ]
    if scan:
        cmds.append(_cmd(b"ZSCAN", k, b"0", _one_of((), (b"MATCH", b"x*"))))
    return st.one_of(*cmds)


#: Each sequence starts from three small sets (and a lex set) so that most commands meet data.
PREFILL = st.tuples(*[_cmd(b"ZADD", key, _pairs(8, 4)) for key in (b"a", b"b", b"c")],
                    _cmd(b"ZADD", b"lex", b"0", MEMBERS, b"0", MEMBERS, b"0", MEMBERS)).map(list)


def run_sequence(pair, commands, resp: int) -> None:
    """Both servers run the commands as one pipeline each; replies compared one by one."""
    hello = [(b"HELLO", b"%d" % resp)]
    head = [(b"FLUSHALL",)]
    theirs = pair.redis.pipeline(hello + head + commands)[1:]
    ours = pair.ours.pipeline(hello + head + commands)[1:]
    for i, (a, b) in enumerate(zip(theirs, ours)):
        if a != b:
            shown = "\n".join("  " + b" ".join(c).decode("latin-1") for c in (head + commands)[: i + 1])
            pytest.fail(f"RESP{resp}: reply differs for the last of:\n{shown}\nredis: {a!r}\nours:  {b!r}")


@fuzz(600)
@given(prefill=PREFILL, commands=st.lists(zset_commands(), min_size=1, max_size=30), resp=st.sampled_from([2, 3]))
def test_random_zset_command_sequences_on_listpacks(pair, prefill, commands, resp):
    run_sequence(pair, prefill + commands, resp)


@fuzz(400)
@given(prefill=PREFILL, commands=st.lists(zset_commands(lex_key=st.just(b"lex"), scan=False), min_size=1, max_size=30),
       resp=st.sampled_from([2, 3]))
def test_random_zset_command_sequences_across_encodings(pair, prefill, commands, resp):
    """Sets turn into skiplists after 3 members or with a 4-byte member, mid-sequence."""
    with zset_limits(pair, 3, 3):
        run_sequence(pair, prefill + commands, resp)


def test_read_and_write_lookups_count_like_redis(pair):
    check_lookup_stats(pair, [
        ("ZCARD", "z"), ("ZSCORE", "z", "a"), ("ZMSCORE", "z", "a"), ("ZRANK", "z", "a"), ("ZCOUNT", "z", "0", "1"),
        ("ZLEXCOUNT", "z", "-", "+"), ("ZRANGE", "z", "0", "-1"), ("ZRANDMEMBER", "z"), ("ZSCAN", "z", "0"), ("ZPOPMIN", "z"),
        ("ZREM", "z", "a"), ("ZREMRANGEBYRANK", "z", "0", "1"), ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZINCRBY", "z", "1", "a"),
        ("ZCARD", "z"), ("ZSCORE", "z", "a"), ("ZMSCORE", "z", "a"), ("ZRANK", "z", "a"), ("ZCOUNT", "z", "0", "1"),
        ("ZLEXCOUNT", "z", "-", "+"), ("ZRANGE", "z", "0", "-1"), ("ZRANDMEMBER", "z", "5"), ("ZSCAN", "z", "0"),
        ("ZRANGESTORE", "d", "z", "0", "-1"), ("ZUNIONSTORE", "d", "2", "z", "nokey"), ("ZINTER", "2", "z", "d"),
        ("ZINTERCARD", "1", "z"), ("ZDIFF", "2", "nokey", "z"), ("ZMPOP", "2", "nokey", "z", "MIN"), ("BZPOPMAX", "nokey", "z", "0"),
        ("ZPOPMIN", "z"), ("ZREM", "d", "a"),
    ])


# -- propagation and keyspace events ---------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "zadd zincrby": [("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z", "1", "a"), ("ZADD", "z", "NX", "5", "a"), ("zadd", "z", "xx", "ch", "3", "a"),
                     ("ZADD", "z", "INCR", "1", "a"), ("ZINCRBY", "z", "2", "c"), ("ZADD", "z", "XX", "1", "nope"), ("ZADD", "z", "GT", "0", "a"),
                     ("ZADD", "z", "INCR", "-inf", "a"), ("ZADD", "z", "INCR", "inf", "a"), ("ZADD", "z", "INCR", "-inf", "a")],
    "zrem": [("ZADD", "z", "1", "a", "2", "b"), ("ZREM", "z", "nope"), ("ZREM", "z", "a", "a"), ("ZREM", "z", "b", "x"), ("ZREM", "z", "b")],
    "zremrange": [("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "0", "e"), ("ZREMRANGEBYRANK", "z", "0", "0"),
                  ("ZREMRANGEBYSCORE", "z", "(2", "3"), ("ZREMRANGEBYSCORE", "z", "9", "10"), ("ZREMRANGEBYLEX", "z", "[a", "[b"),
                  ("ZREMRANGEBYRANK", "z", "0", "-1"), ("ZREMRANGEBYLEX", "z", "-", "+")],
    "pops": [("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZPOPMIN", "z"), ("zpopmax", "z", "1"), ("ZPOPMIN", "z", "0"),
             ("ZPOPMIN", "nokey"), ("ZPOPMAX", "z", "5")],
    "zmpop": [("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZMPOP", "2", "nokey", "z", "MIN"), ("zmpop", "1", "z", "max", "count", "10"),
              ("ZMPOP", "1", "z", "MIN")],
    "blocking pops that need not block": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"), ("BZPOPMIN", "nokey", "z", "0"), ("bzpopmax", "z", "1"),
        ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"), ("BZMPOP", "0", "1", "z", "max", "count", "9"), ("BZPOPMIN", "z", "0.001"),
    ],
    "stores": [("ZADD", "a", "1", "x", "2", "y"), ("SADD", "s", "y", "q"), ("ZUNIONSTORE", "d", "2", "a", "s"), ("ZINTERSTORE", "d", "2", "a", "s"),
               ("ZDIFFSTORE", "d", "2", "a", "s"), ("ZRANGESTORE", "e", "a", "0", "0"), ("ZINTERSTORE", "d", "2", "a", "nokey"),
               ("ZRANGESTORE", "e", "a", "5", "6"), ("ZDIFFSTORE", "nokey2", "1", "nokey"), ("SET", "t", "v", "EX", "100"),
               ("ZUNIONSTORE", "t", "1", "a")],
    "reads propagate nothing": [("ZADD", "z", "1", "a"), ("ZRANGE", "z", "0", "-1"), ("ZSCORE", "z", "a"), ("ZUNION", "1", "z"),
                                ("ZRANDMEMBER", "z"), ("ZSCAN", "z", "0"), ("ZCOUNT", "z", "0", "1"), ("ZINTERCARD", "1", "z")],
}


@pytest.mark.parametrize("name", list(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


def test_served_blocked_clients_propagate_like_redis(mirrored):
    """BZPOPMIN/BZPOPMAX/BZMPOP served by a later write propagate as the ZPOPMIN/ZPOPMAX
    they did, after the write, with the same keyspace events."""
    blockers = [
        ("BZPOPMIN", "a", "0"),
        ("BZPOPMAX", "b", "a", "0"),
        ("BZMPOP", "0", "2", "c", "a", "MAX", "COUNT", "2"),
        ("BZMPOP", "0", "1", "d", "MIN", "COUNT", "10"),
        ("BZPOPMIN", "e", "0"),
    ]
    writes = [("ZADD", "a", "1", "x", "2", "y", "3", "z", "4", "w"), ("ZADD", "d", "1", "x", "2", "y"), ("ZADD", "q", "1", "x"),
              ("ZUNIONSTORE", "e", "1", "q")]
    check_served_blockers(mirrored, blockers, writes)


# -- multi-client blocking scenarios -----------------------------------------------------------

SCENARIOS = {
    "first come first served on one key": [
        ("block", "a", "BZPOPMIN", "k", "0"), ("block", "b", "BZPOPMAX", "k", "0"), ("block", "c", "BZPOPMIN", "k", "0"),
        ("call", "p", "ZADD", "k", "1", "x", "2", "y"), ("read", "a"), ("read", "b"), ("blocked", "c"),
        ("call", "p", "ZADD", "k", "3", "z"), ("read", "c"), ("call", "p", "EXISTS", "k"),
    ],
    "a client waiting on several keys takes the first that becomes ready": [
        ("block", "a", "BZPOPMIN", "k1", "k2", "k3", "0"), ("block", "b", "BZPOPMAX", "k3", "k2", "0"),
        ("call", "p", "ZADD", "k3", "1", "x", "2", "y"), ("read", "a"), ("read", "b"), ("call", "p", "EXISTS", "k3"),
    ],
    "bzmpop takes up to count members": [
        ("block", "a", "BZMPOP", "0", "2", "x", "k", "MIN", "COUNT", "3"), ("block", "b", "BZMPOP", "0", "1", "k", "MAX", "COUNT", "3"),
        ("call", "p", "ZADD", "k", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"), ("read", "a"), ("read", "b"),
        ("call", "p", "EXISTS", "k"),
    ],
    "zset and list waiters on one key": [
        ("block", "a", "BLPOP", "k", "0"), ("block", "b", "BZPOPMIN", "k", "0"), ("call", "p", "ZADD", "k", "1", "x"), ("read", "b"),
        ("blocked", "a"), ("call", "p", "RPUSH", "k", "v"), ("read", "a"),
    ],
    "a key of another type does not serve, a sorted set made later does": [
        ("block", "a", "BZPOPMAX", "k", "0"), ("call", "p", "SET", "k", "v"), ("blocked", "a"), ("call", "p", "DEL", "k"),
        ("call", "p", "SADD", "k", "m"), ("blocked", "a"), ("call", "p", "DEL", "k"), ("call", "p", "ZADD", "k", "1", "m"), ("read", "a"),
    ],
    "store commands and renames wake waiters": [
        ("block", "a", "BZPOPMIN", "d", "0"), ("block", "b", "BZMPOP", "0", "1", "e", "MAX"), ("block", "c", "BZPOPMAX", "f", "0"),
        ("call", "p", "ZADD", "src", "1", "x", "2", "y"), ("call", "p", "ZUNIONSTORE", "d", "1", "src"), ("read", "a"),
        ("call", "p", "ZRANGESTORE", "e", "src", "0", "-1"), ("read", "b"), ("call", "p", "RENAME", "src", "f"), ("read", "c"),
    ],
    "zadd in a transaction serves after exec": [
        ("block", "a", "BZPOPMIN", "k", "0"), ("call", "p", "MULTI"), ("call", "p", "ZADD", "k", "1", "x"), ("call", "p", "ZREM", "k", "x"),
        ("call", "p", "ZADD", "k", "2", "y"), ("call", "p", "EXEC"), ("read", "a"), ("call", "p", "EXISTS", "k"),
    ],
    "timeouts answer null in both protocols": [
        ("call", "a", "BZPOPMIN", "k", "0.02"), ("call", "a", "BZPOPMAX", "k", "j", "0.01"), ("call", "a", "BZMPOP", "0.01", "1", "k", "MIN"),
        ("call", "a", "HELLO", "3"), ("call", "a", "BZPOPMIN", "k", "0.01"), ("call", "a", "BZMPOP", "0.01", "2", "k", "j", "MAX", "COUNT", "2"),
    ],
    "served replies in resp3": [
        ("call", "a", "HELLO", "3"), ("block", "a", "BZPOPMAX", "k", "0"), ("call", "b", "HELLO", "3"),
        ("block", "b", "BZMPOP", "0", "1", "k", "MIN", "COUNT", "2"), ("call", "p", "ZADD", "k", "1.5", "x", "2", "y", "inf", "z"),
        ("read", "a"), ("read", "b"),
    ],
    "client unblock with timeout and error": [
        ("block", "a", "BZPOPMIN", "k", "0"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}"), ("read", "a"),
        ("block", "a", "BZMPOP", "0", "1", "k", "MAX"), ("call", "p", "CLIENT", "UNBLOCK", "{id:a}", "ERROR"), ("read", "a"),
        ("call", "p", "ZADD", "k", "1", "x"), ("call", "p", "ZCARD", "k"),
    ],
    "a client that disconnects while blocked leaves no trace": [
        ("block", "a", "BZPOPMIN", "k", "0"), ("block", "b", "BZPOPMIN", "k", "0"), ("close", "a"), ("call", "p", "ZADD", "k", "1", "x"),
        ("read", "b"), ("call", "p", "EXISTS", "k"), ("call", "p", "INFO", "clients"),
    ],
    "served calls in commandstats and the dirty counter": [
        ("block", "a", "BZPOPMIN", "k", "0"), ("block", "b", "BZMPOP", "0", "1", "k", "MIN", "COUNT", "2"),
        ("call", "p", "ZADD", "k", "1", "x", "2", "y", "3", "z", "4", "w"), ("read", "a"), ("read", "b"),
        ("call", "p", "INFO", "commandstats"),
    ],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_blocking_scenarios_match_redis(redis_ref, diff_node, name):
    check_scenario(redis_ref.port, diff_node.port, SCENARIOS[name])


def test_dirty_counter_after_served_pops_matches_redis(redis_ref, diff_node):
    """rdb_changes_since_last_save moves by the ZADD and the popped members, as in Redis."""
    blockers = [("BZPOPMIN", "k", "0"), ("BZMPOP", "0", "1", "k", "MAX", "COUNT", "2")]
    write = ("ZADD", "k", "1", "a", "2", "b", "3", "c")
    then = [("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "CH", "5", "a", "2", "b", "6", "d"), ("ZREM", "z", "a", "b", "x"),
            ("ZREMRANGEBYRANK", "z", "0", "-1"), ("ZADD", "z", "1", "a"), ("ZUNIONSTORE", "u", "1", "z"), ("ZPOPMIN", "z", "3")]
    theirs = dirty_deltas(redis_ref.port, blockers, write, then)
    assert dirty_deltas(diff_node.port, blockers, write, then) == theirs
