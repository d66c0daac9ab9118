"""Bad arguments get Redis's exact error and change nothing: wrong arity for every command
and subcommand in our table, non-integer and out-of-range numbers, wrong types. Compared
byte for byte with real Redis (the ``pair`` fixture)."""

from __future__ import annotations

import pytest

from server.commands.table import build_table, redis_metadata
from tests.support.differential import Mismatch

TABLE = build_table()
#: Commands and subcommands Redis 7.0 has (we also answer a few later ones).
IN_REDIS_70 = set(redis_metadata()) | {
    sub[0] for meta in redis_metadata().values() for sub in (meta["info"][9] if len(meta["info"]) > 9 else [])
}


def check_all(pair, commands) -> None:
    """pair.check each command; report every mismatch at the end, not just the first."""
    failures = []
    for args in commands:
        try:
            pair.check(*args)
        except Mismatch as exc:
            failures.append(str(exc).split("\nrecent commands")[0])
    assert not failures, "\n".join(failures)


def _arity_cases():
    """(argv) lists with a wrong argument count for every command and subcommand."""
    cases = []

    def wrong_counts(arity: int, base: int) -> list[int]:
        if arity > 0:
            return [n for n in (arity - 1, arity + 1) if n >= base]
        return [n for n in (-arity - 1,) if n >= base]

    for name, spec in TABLE.specs.items():
        if name not in IN_REDIS_70:
            continue
        if spec.subcommands:
            if 1 in wrong_counts(spec.arity, 1):
                cases.append([name])  # the container alone
            for sub, subspec in spec.subcommands.items():
                if f"{name}|{sub.decode()}" not in IN_REDIS_70:
                    continue
                for n in wrong_counts(subspec.arity, 2):
                    cases.append([name, sub.decode()] + ["x"] * (n - 2))
        else:
            for n in wrong_counts(spec.arity, 1):
                cases.append([name] + ["x"] * (n - 1))
    return cases


ARITY_CASES = _arity_cases()


@pytest.mark.parametrize("argv", ARITY_CASES, ids=[" ".join(a[:2]) + f"/{len(a)}" for a in ARITY_CASES])
def test_wrong_arity_matches_redis(pair, argv):
    pair.check("SET", "x", "untouched")
    pair.check(*argv)
    pair.check(*[a.upper() for a in argv[:1]] + argv[1:])
    pair.check("GET", "x")


NOT_INTEGERS = ["", " 1", "1 ", "+1", "01", "1.0", "0x10", "1e3", "abc", "9223372036854775808",
                "-9223372036854775809", "99999999999999999999999", "\x00", "1\x00", "--1", "-"]

NUMBER_CASES = [
    *[("INCRBY", "n", v) for v in NOT_INTEGERS],
    *[("DECRBY", "n", v) for v in NOT_INTEGERS],
    ("INCRBY", "n", "-9223372036854775808"),
    ("SET", "n", "9223372036854775807"), ("INCR", "n"), ("INCRBY", "n", "1"), ("DECRBY", "n", "-1"),
    ("SET", "n", "-9223372036854775808"), ("DECR", "n"), ("DECRBY", "n", "9223372036854775807"),
    ("DECRBY", "n", "-9223372036854775808"),
    ("SET", "n", " 5"), ("INCR", "n"), ("SET", "n", "5 "), ("INCR", "n"), ("SET", "n", "05"), ("INCR", "n"),
    ("SET", "f", "1"),
    *[("INCRBYFLOAT", "f", v) for v in ["nan", "inf", "-inf", "1e400", "abc", "", " 1", "0x10", "1e-400", "1.5e3"]],
    ("SET", "f", "1e308"), ("INCRBYFLOAT", "f", "1e308"),
    *[("EXPIRE", "n", v) for v in ["abc", "", "1.5", "9223372036854775807", "-9223372036854775808",
                                  "9223372036854775"]],
    *[("PEXPIRE", "n", v) for v in ["9223372036854775807", "-9223372036854775808", "x"]],
    *[("EXPIREAT", "n", v) for v in ["9223372036854775807", "abc"]],
    *[("SET", "k", "v", "EX", v) for v in ["0", "-1", "abc", "9223372036854775807", "1.5", ""]],
    *[("SET", "k", "v", "PX", v) for v in ["0", "-1", "9223372036854775807", "9223372036854775"]],
    *[("SETEX", "k", v, "v") for v in ["0", "-5", "x", "9223372036854775807"]],
    *[("PSETEX", "k", v, "v") for v in ["0", "-5", "x"]],
    *[("GETEX", "n", "EX", v) for v in ["0", "-1", "x", "9223372036854775807"]],
    ("SET", "s", "hello"),
    *[("GETRANGE", "s", a, b) for a, b in [("x", "1"), ("0", "y"), ("-9223372036854775808", "-1"),
                                           ("0", "9223372036854775807"), ("9223372036854775808", "1")]],
    *[("SETRANGE", "s", v, "x") for v in ["-1", "x", "536870912", "4294967296"]],
    *[("SETBIT", "b", o, v) for o, v in [("-1", "1"), ("4294967296", "1"), ("0", "2"), ("0", "-1"), ("x", "1"),
                                         ("0", "x")]],
    *[("GETBIT", "b", o) for o in ["-1", "4294967296", "x"]],
    *[("BITCOUNT", "s", a, b) for a, b in [("0", "x"), ("x", "0"), ("0", "-9223372036854775809")]],
    *[("BITPOS", "s", "2"), ("BITPOS", "s", "1", "x"), ("BITPOS", "s", "0", "0", "x")],
    *[("SELECT", v) for v in ["16", "-1", "x", "9223372036854775808", "1.0"]],
    # (SCAN -1 is accepted by strtoul as 2**64-1: what it returns depends on hash order.)
    *[("SCAN", v) for v in ["x", "18446744073709551616", "1.5"]],
    ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "COUNT", "-1"),
    *[("MOVE", "s", v) for v in ["16", "-1", "x"]],
    *[("SWAPDB", a, b) for a, b in [("0", "16"), ("x", "0"), ("-1", "0")]],
    *[("COPY", "s", "t", "DB", v) for v in ["16", "x", "-1"]],
    ("OBJECT", "FREQ", "s"),
    ("CLIENT", "KILL", "ID", "x"), ("CLIENT", "KILL", "ID", "-1"), ("CLIENT", "KILL", "MAXAGE", "x"),
    ("CLIENT", "PAUSE", "x"), ("CLIENT", "PAUSE", "-1"),
    ("LCS", "s", "s", "MINMATCHLEN", "x"),
    ("BITFIELD", "b", "GET", "u8", "x"), ("BITFIELD", "b", "GET", "i65", "0"), ("BITFIELD", "b", "INCRBY", "u8", "0", "x"),
    ("BITFIELD", "b", "SET", "u64", "0", "1"), ("BITFIELD", "b", "OVERFLOW", "x"),
    ("HELLO", "x"), ("HELLO", "4"), ("HELLO", "-1"), ("HELLO", "3.0"),
    ("MGET", "n", "f", "s", "b"),
]


def test_bad_numbers_match_redis(pair):
    after = [(cmd, key) for key in ("n", "f", "s", "b", "k") for cmd in ("GET", "TTL")]
    check_all(pair, NUMBER_CASES + after)


#: How to make a key of each type; the string and missing cases always exist, the others
#: join as their commands are implemented.
TYPE_MAKERS = {
    "missing": None,
    "string": ("SET", "w", "abc"),
    "integer": ("SET", "w", "12"),
    "list": ("RPUSH", "w", "a", "b"),
    "hash": ("HSET", "w", "f", "v"),
    "set": ("SADD", "w", "a"),
    "zset": ("ZADD", "w", "1", "a"),
}
STRING_COMMANDS = [
    ("GET", "w"), ("APPEND", "w", "x"), ("INCR", "w"), ("DECRBY", "w", "2"), ("INCRBYFLOAT", "w", "1"),
    ("STRLEN", "w"), ("GETRANGE", "w", "0", "1"), ("SETRANGE", "w", "0", "x"), ("GETSET", "w", "v"),
    ("GETEX", "w"), ("SETBIT", "w", "0", "1"), ("GETBIT", "w", "0"), ("BITCOUNT", "w"),
    ("BITPOS", "w", "1"), ("BITFIELD", "w", "GET", "u8", "0"), ("BITOP", "AND", "d", "w"),
    ("LCS", "w", "w"), ("MGET", "w", "nokey"), ("SETNX", "w", "v"), ("MSETNX", "w", "v"),
    ("TYPE", "w"), ("OBJECT", "ENCODING", "w"), ("RENAME", "w", "w2"), ("TYPE", "w2"), ("GETDEL", "w2"),
]


def _implemented(argv) -> bool:
    return argv is None or TABLE.get(argv[0].encode()) is not None


@pytest.mark.parametrize("kind", [k for k, argv in TYPE_MAKERS.items() if _implemented(argv)])
def test_string_commands_on_every_type_match_redis(pair, kind):
    # Each command runs on a fresh key of that type, so one command's effect (APPEND on
    # a missing key, GETDEL) does not hide the next one's error.
    failures = []
    for args in STRING_COMMANDS:
        pair.check("DEL", "w", "w2", "d")
        if TYPE_MAKERS[kind] is not None:
            pair.check(*TYPE_MAKERS[kind])
        try:
            pair.check(*args)
            pair.check("TYPE", "w")
        except Mismatch as exc:
            failures.append(str(exc).split("\nrecent commands")[0])
    assert not failures, "\n".join(failures)
