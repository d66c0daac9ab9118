"""Generic key commands against real Redis 7.0.15: reply bytes for hand-picked cases (errors,
options, edge values), and the propagated commands and keyspace events of every write."""

from __future__ import annotations

import time

import hiredis
import pytest

from tests.support.differential import sorted_reply


def _idle(reply: bytes) -> bytes:
    """OBJECT IDLETIME of a key just written: 0, or 1 if a second boundary fell between."""
    return b":0\r\n" if reply == b":1\r\n" else reply


def check_all(pair, *commands) -> None:
    """Check each command; KEYS replies are compared as sets (hash order differs)."""
    for cmd in commands:
        normalize = None
        if cmd[0] == "KEYS":
            normalize = sorted_reply
        elif cmd[:2] == ("OBJECT", "IDLETIME"):
            normalize = _idle
        pair.check(*cmd, normalize=normalize)


def scan_all(client, *options) -> tuple[bytes, list[bytes]]:
    """Run a full SCAN iteration on a raw client; returns (last reply, sorted keys)."""
    keys: list[bytes] = []
    cursor = b"0"
    while True:
        raw = client.call("SCAN", cursor, *options)
        reader = hiredis.Reader()
        reader.feed(raw)
        cursor, batch = reader.gets()
        keys += batch
        if cursor == b"0":
            return raw, sorted(set(keys))


# -- replies ---------------------------------------------------------------------------------

EXPIRE_CASES = {
    "flag conflicts": [
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100", "NX", "XX"),
        ("EXPIRE", "k", "100", "GT", "LT"),
        ("EXPIRE", "k", "100", "nx", "gt"),
        ("EXPIRE", "k", "100", "XX", "LT", "GT"),
        ("EXPIRE", "k", "100", "NX", "NX"),
        ("EXPIRE", "k", "100", "xx", "xx", "lt"),
    ],
    "unsupported options are checked before the number": [
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100", "foo"),
        ("EXPIRE", "k", "abc", "foo"),
        ("EXPIRE", "k", "100", b"fo\x00o"),
        ("EXPIRE", "k", "100", b"nx\x00junk"),
        ("EXPIRE", "k", "abc"),
        ("EXPIRE", "k", ""),
        ("EXPIRE", "k", " 1"),
        ("TTL", "k"),
    ],
    "overflow": [
        ("SET", "k", "v"),
        ("EXPIRE", "k", "9223372036854775807"),
        ("EXPIRE", "k", "9223372036854775"),
        ("EXPIRE", "k", "9223372036854776"),
        ("EXPIRE", "k", "-9223372036854776"),
        ("EXPIRE", "k", "-9223372036854775808"),
        ("PEXPIRE", "k", "9223372036854775807"),
        ("EXPIREAT", "k", "9223372036854775807"),
        ("EXPIREAT", "nokey", "9223372036854775807"),
        ("PEXPIREAT", "k", "9223372036854775807"),
        ("PEXPIRETIME", "k"),
        ("EXPIRETIME", "k"),
        ("TTL", "k"),
        ("EXPIRE", "k", "9223372036854775", "XX"),
        ("PEXPIRE", "k", "-9223372036854775808"),
        ("EXISTS", "k"),
    ],
    "nx xx gt lt": [
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100", "XX"),
        ("EXPIRE", "k", "100", "GT"),
        ("EXPIRE", "k", "100", "LT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "50", "LT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "80", "LT"),
        ("EXPIRE", "k", "80", "GT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "70", "gt"),
        ("EXPIRE", "k", "100", "NX"),
        ("EXPIRE", "k", "300", "XX", "GT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "100", "lt", "xx"),
        ("TTL", "k"),
        ("PERSIST", "k"),
        ("PERSIST", "k"),
        ("TTL", "k"),
        ("EXPIRE", "k", "-1", "LT"),
        ("EXISTS", "k"),
        ("EXPIRE", "nokey", "100"),
        ("EXPIRE", "nokey", "100", "NX"),
    ],
    "absolute times": [
        ("SET", "k", "v"),
        ("EXPIREAT", "k", "4000000000"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("TTL", "k"),
        ("PEXPIREAT", "k", "4000000000123"),
        ("PEXPIRETIME", "k"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", "4000000000499"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", "4000000000500"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", "4000000001", "LT"),
        ("EXPIREAT", "k", "4000000001", "GT"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", "1"),
        ("EXISTS", "k"),
        ("TTL", "k"),
        ("PTTL", "k"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("SET", "k", "v"),
        ("TTL", "k"),
        ("PTTL", "k"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("EXPIRE", "k", "0"),
        ("EXISTS", "k"),
        ("SET", "k", "v"),
        ("EXPIREAT", "k", "0"),
        ("EXISTS", "k"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPIRE_CASES))
def test_expire_family_replies(pair, name):
    check_all(pair, *EXPIRE_CASES[name])


KEYSPACE_CASES = {
    "rename": [
        ("RENAME", "nokey", "x"),
        ("RENAME", "nokey", "nokey"),
        ("RENAMENX", "nokey", "nokey"),
        ("SET", "a", "1"),
        ("RENAME", "a", "a"),
        ("RENAMENX", "a", "a"),
        ("EXPIREAT", "a", "4000000000"),
        ("RENAME", "a", "b"),
        ("EXISTS", "a", "b"),
        ("EXPIRETIME", "b"),
        ("SET", "c", "3"),
        ("RENAMENX", "b", "c"),
        ("RENAMENX", "b", "d"),
        ("EXPIRETIME", "d"),
        ("RENAME", "d", "c"),
        ("EXPIRETIME", "c"),
        ("GET", "c"),
        ("SET", "e", "x"),
        ("PEXPIREAT", "e", "1"),
        ("RENAME", "e", "f"),
        ("RENAME", "c", b"\x00bin\r\n"),
        ("GET", b"\x00bin\r\n"),
    ],
    "copy": [
        ("SET", "c", "3"),
        ("EXPIREAT", "c", "4000000000"),
        ("COPY", "c", "c"),
        ("COPY", "c", "c", "DB", "0"),
        ("COPY", "c", "c", "DB"),
        ("COPY", "c", "c", "DB", "16"),
        ("COPY", "c", "c", "DB", "-1"),
        ("COPY", "c", "c", "DB", "abc"),
        ("COPY", "c", "c", "DB", "2147483648"),
        ("COPY", "c", "c", "DB", "-2147483649"),
        ("COPY", "c", "e", "REPLACE", "foo"),
        ("COPY", "c", "e", "foo"),
        ("COPY", "nokey", "e"),
        ("COPY", "c", "e", "replace", "replace"),
        ("EXPIRETIME", "e"),
        ("COPY", "c", "e"),
        ("SET", "e", "other"),
        ("COPY", "c", "e", b"REPLACE\x00x"),
        ("GET", "e"),
        ("COPY", "c", "c", "DB", "1"),
        ("COPY", "c", "e", "DB", "1"),
        ("COPY", "c", "e", "DB", "1"),
        ("COPY", "c", "e", "DB", "1", "REPLACE"),
        ("COPY", "c", "e", "db", "1", "db", "2"),
        ("SELECT", "2"),
        ("EXPIRETIME", "e"),
        ("SELECT", "1"),
        ("KEYS", "*"),
        ("SELECT", "0"),
    ],
    "move": [
        ("SET", "c", "3"),
        ("EXPIREAT", "c", "4000000000"),
        ("MOVE", "c", "16"),
        ("MOVE", "c", "-1"),
        ("MOVE", "c", "abc"),
        ("MOVE", "c", "2147483648"),
        ("MOVE", "c", "4294967296"),
        ("MOVE", "c", "0"),
        ("MOVE", "nokey", "0"),
        ("MOVE", "nokey", "1"),
        ("MOVE", "c", "1"),
        ("EXISTS", "c"),
        ("SET", "c", "again"),
        ("MOVE", "c", "1"),
        ("SELECT", "1"),
        ("GET", "c"),
        ("EXPIRETIME", "c"),
        ("MOVE", "c", "1"),
        ("SELECT", "0"),
    ],
    "swapdb": [
        ("SET", "a", "in0"),
        ("SELECT", "1"),
        ("SET", "b", "in1"),
        ("EXPIREAT", "b", "4000000000"),
        ("SWAPDB", "0", "1"),
        ("KEYS", "*"),
        ("SELECT", "0"),
        ("KEYS", "*"),
        ("EXPIRETIME", "b"),
        ("SWAPDB", "0", "16"),
        ("SWAPDB", "abc", "1"),
        ("SWAPDB", "1", "abc"),
        ("SWAPDB", "-1", "1"),
        ("SWAPDB", "2147483648", "1"),
        ("SWAPDB", "1", "2147483648"),
        ("SWAPDB", "abc", "abc"),
        ("SWAPDB", "0", "0"),
        ("DBSIZE",),
    ],
    "flush": [
        ("SET", "a", "1"),
        ("FLUSHDB", "foo"),
        ("FLUSHDB", "sync", "sync"),
        ("FLUSHALL", "foo"),
        ("FLUSHALL", "async", "async"),
        ("FLUSHALL", "a", "b", "c"),
        ("DBSIZE",),
        ("FLUSHDB", "sync"),
        ("DBSIZE",),
        ("SET", "a", "1"),
        ("FLUSHDB", "ASYNC"),
        ("FLUSHDB", b"async\x00x"),
        ("SET", "a", "1"),
        ("SELECT", "3"),
        ("SET", "a", "1"),
        ("FLUSHALL", "SYNC"),
        ("DBSIZE",),
        ("SELECT", "0"),
        ("DBSIZE",),
        ("FLUSHALL", "async"),
    ],
    "del exists touch type": [
        ("SET", "a", "1"),
        ("SET", "b", "2"),
        ("EXISTS", "a", "a", "nokey", "b"),
        ("TOUCH", "a", "a", "nokey"),
        ("TYPE", "a"),
        ("TYPE", "nokey"),
        ("DEL", "a", "a", "nokey"),
        ("UNLINK", "b", "b"),
        ("DEL", "a"),
        ("EXISTS", "a", "b"),
        ("SET", "x", "1"),
        ("PEXPIREAT", "x", "1"),
        ("EXISTS", "x"),
        ("DEL", "x"),
        ("DBSIZE",),
        ("RANDOMKEY",),
        ("SET", "only", "1"),
        ("RANDOMKEY",),
    ],
    "object": [
        ("OBJECT", "HELP"),
        ("OBJECT", "help", "x"),
        ("OBJECT", "foo"),
        ("OBJECT",),
        ("OBJECT", "ENCODING"),
        ("OBJECT", "ENCODING", "nokey"),
        ("OBJECT", "ENCODING", "a", "b"),
        ("OBJECT", "FREQ", "nokey"),
        ("OBJECT", "IDLETIME", "nokey"),
        ("OBJECT", "REFCOUNT", "nokey"),
        ("SET", "i", "123"),
        ("SET", "s", "text"),
        ("OBJECT", "FREQ", "i"),
        # Not IDLETIME of "i": 123 is one of Redis's shared integers, whose single object
        # carries the access time of whichever key last touched it (or the server start).
        ("OBJECT", "IDLETIME", "s"),
        ("OBJECT", "encoding", "i"),
        ("OBJECT", "REFCOUNT", "i"),
        ("SET", "i", "9999"),
        ("OBJECT", "REFCOUNT", "i"),
        ("SET", "i", "10000"),
        ("OBJECT", "REFCOUNT", "i"),
        ("OBJECT", "ENCODING", "i"),
        ("SET", "i", "-1"),
        ("OBJECT", "REFCOUNT", "i"),
        ("SET", "i", "0"),
        ("OBJECT", "REFCOUNT", "i"),
        ("RENAME", "i", "j"),
        ("OBJECT", "REFCOUNT", "j"),
        ("INCR", "n"),
        ("OBJECT", "REFCOUNT", "n"),
        ("OBJECT", "ENCODING", "n"),
    ],
}


@pytest.mark.parametrize("name", sorted(KEYSPACE_CASES))
def test_keyspace_command_replies(pair, name):
    check_all(pair, *KEYSPACE_CASES[name])


STRING_ENCODINGS = [
    b"123",
    b"-1",
    b"0",
    b"12345678901234567890",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"01",
    b"-0",
    b"+1",
    b" 1",
    b"1 ",
    b"",
    b"x" * 44,
    b"x" * 45,
    b"1" * 44,
    b"\x00" * 44,
]


@pytest.mark.parametrize("value", STRING_ENCODINGS)
def test_object_encoding_of_set_values(pair, value):
    check_all(pair, ("SET", "k", value), ("OBJECT", "ENCODING", "k"), ("OBJECT", "REFCOUNT", "k"))


def test_object_encoding_after_in_place_changes(pair):
    check_all(
        pair,
        ("APPEND", "ap", "5"),
        ("OBJECT", "ENCODING", "ap"),
        ("OBJECT", "REFCOUNT", "ap"),
        ("APPEND", "ap", "5"),
        ("OBJECT", "ENCODING", "ap"),
        ("INCR", "ap"),
        ("OBJECT", "ENCODING", "ap"),
        ("SETRANGE", "sr", "0", "5"),
        ("OBJECT", "ENCODING", "sr"),
        ("SET", "s", "short"),
        ("SETRANGE", "s", "1", "x"),
        ("OBJECT", "ENCODING", "s"),
        ("COPY", "s", "s2"),
        ("OBJECT", "ENCODING", "s2"),
        ("SETBIT", "b", "3", "1"),
        ("OBJECT", "ENCODING", "b"),
    )


def test_object_freq_and_idletime_follow_the_maxmemory_policy(pair):
    for policy in ("allkeys-lfu", "volatile-lfu", "allkeys-lru", "noeviction", "volatile-ttl"):
        check_all(
            pair,
            ("CONFIG", "SET", "maxmemory-policy", policy),
            ("SET", "k", "v"),
            ("OBJECT", "IDLETIME", "k"),
            ("OBJECT", "IDLETIME", "nokey"),
            ("OBJECT", "FREQ", "nokey"),
        )
        if "lfu" not in policy:
            pair.check("OBJECT", "FREQ", "k")
    pair.check("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_shared_integers_are_not_shared_under_an_lru_policy_with_maxmemory(pair):
    try:
        for policy in ("allkeys-lru", "volatile-lfu", "volatile-ttl", "allkeys-random"):
            check_all(
                pair,
                ("CONFIG", "SET", "maxmemory", "1gb"),
                ("CONFIG", "SET", "maxmemory-policy", policy),
                ("SET", "i", "5"),
                ("OBJECT", "REFCOUNT", "i"),
                ("OBJECT", "ENCODING", "i"),
            )
    finally:
        check_all(pair, ("CONFIG", "SET", "maxmemory", "0"), ("CONFIG", "SET", "maxmemory-policy", "noeviction"))


SCAN_ERRORS = [
    ("SCAN", "18446744073709551616"),
    ("SCAN", " 1"),
    ("SCAN", "1 "),
    ("SCAN", "0x10"),
    ("SCAN", "abc"),
    ("SCAN", "-"),
    ("SCAN", "+"),
    ("SCAN", "-18446744073709551616"),
    ("SCAN", "0", "COUNT", "0"),
    ("SCAN", "0", "COUNT", "-1"),
    ("SCAN", "0", "COUNT", "abc"),
    ("SCAN", "0", "COUNT"),
    ("SCAN", "0", "MATCH"),
    ("SCAN", "0", "TYPE"),
    ("SCAN", "0", "FOO", "bar"),
    ("SCAN", "abc", "FOO", "bar"),
    ("SCAN", "0", "COUNT", "1", "foo"),
]


@pytest.mark.parametrize("cmd", SCAN_ERRORS, ids=lambda c: " ".join(c))
def test_scan_argument_errors(pair, cmd):
    pair.check("SET", "k", "v")
    pair.check(*cmd)


SCAN_ACCEPTED = [
    ("SCAN", "0"),
    ("SCAN", ""),
    ("SCAN", "+0"),
    ("SCAN", "-0"),
    ("SCAN", b"\x001"),
    ("SCAN", "0", "count", "100"),
    ("SCAN", "0", "COUNT", "1", "COUNT", "1000"),
    ("SCAN", "0", "COUNT", "9223372036854775807"),
    ("SCAN", "0", "MATCH", "*"),
    ("SCAN", "0", "MATCH", "**"),
    ("SCAN", "0", "MATCH", ""),
    ("SCAN", "0", "MATCH", "k*"),
    ("SCAN", "0", "MATCH", "k?", "MATCH", "a*"),
    ("SCAN", "0", "TYPE", "string"),
    ("SCAN", "0", "TYPE", "STRING"),
    ("SCAN", "0", "TYPE", b"string\x00junk"),
    ("SCAN", "0", "TYPE", "list"),
    ("SCAN", "0", "TYPE", "nosuchtype"),
    ("SCAN", "0", "TYPE", "none"),
    ("SCAN", "0", "type", "string", "match", "k1*", "count", "500"),
]


@pytest.mark.parametrize("cmd", SCAN_ACCEPTED, ids=lambda c: " ".join(map(repr, c)))
def test_scan_options_on_a_small_keyspace(pair, cmd):
    # A handful of keys fit in one step on both servers, so whole replies compare.
    check_all(pair, ("MSET", "k1", "1", "k2", "2", "k10", "3", "a", "4", "", "5"))
    pair.check(*cmd, normalize=_sorted_scan)


def _sorted_scan(reply: bytes):
    """A SCAN reply as (cursor, sorted keys); errors stay as they are."""
    if not reply.startswith(b"*2\r\n"):
        return reply
    reader = hiredis.Reader()
    reader.feed(reply)
    cursor, keys = reader.gets()
    return cursor, sorted(keys)


def test_full_scan_iterations_find_what_keys_finds(pair):
    for i in range(300):
        pair.check("SET", f"key:{i}", str(i))
    for i in range(0, 300, 7):
        pair.check("EXPIREAT", f"key:{i}", "4000000000")
    for options in [(), ("COUNT", "3"), ("MATCH", "key:1*"), ("MATCH", "*7", "COUNT", "50"), ("TYPE", "string")]:
        _, theirs = scan_all(pair.redis, *options)
        _, ours = scan_all(pair.ours, *options)
        assert ours == theirs, options
    pair.check("KEYS", "key:2?", normalize=sorted_reply)


KEYS_PATTERNS = ["*", "**", "", "k*", "k?", "k[0-9]", "k[^1]*", "[a-]", "[]]", "[^]", "[\\]]", "*1", "a*b*c*d", "\\k1", "k\\"]


@pytest.mark.parametrize("pattern", KEYS_PATTERNS)
def test_keys_patterns(pair, pattern):
    check_all(pair, ("MSET", "k1", "1", "k2", "2", "k10", "3", "a", "4", "", "5", "]", "6", "^", "7", "\\", "8", "k\\", "9"))
    pair.check("KEYS", pattern, normalize=sorted_reply)


def test_keys_skips_expired_keys_without_deleting_them(pair):
    check_all(pair, ("DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("SET", "a", "1"), ("SET", "b", "2"), ("PEXPIRE", "b", "1"))
    time.sleep(0.01)
    try:
        check_all(pair, ("KEYS", "*"), ("DBSIZE",), ("SCAN", "0", "TYPE", "none"), ("DBSIZE",), ("EXISTS", "b"))
    finally:
        pair.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# -- propagation and keyspace events ---------------------------------------------------------


PROPAGATION_SCRIPTS = {
    "expire relative": [("SET", "k", "v"), ("EXPIRE", "k", "100"), ("pexpire", "k", "150000", "GT"), ("EXPIRE", "k", "10", "LT", "XX")],
    "expire absolute": [("SET", "k", "v"), ("EXPIREAT", "k", "4000000000"), ("pexpireat", "k", "4000000000001", "gt")],
    "expire refused": [("SET", "k", "v"), ("EXPIRE", "k", "100", "XX"), ("EXPIRE", "nokey", "100"), ("EXPIRE", "k", "abc")],
    "expire in the past": [("SET", "k", "v"), ("EXPIRE", "k", "-1"), ("SET", "k", "v"), ("PEXPIREAT", "k", "1"), ("SET", "k", "v"), ("EXPIREAT", "k", "0", "LT")],
    "persist": [("SET", "k", "v", "EX", "100"), ("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "nokey")],
    "del unlink": [("MSET", "a", "1", "b", "2"), ("DEL", "a", "nokey", "a"), ("unlink", "b"), ("DEL", "nokey")],
    "rename": [("SET", "a", "1", "EX", "100"), ("RENAME", "a", "b"), ("SET", "c", "1"), ("RENAMENX", "b", "c"), ("RENAMENX", "b", "d"), ("RENAME", "d", "c"), ("RENAME", "c", "c")],
    "copy": [("SET", "a", "1", "EX", "100"), ("COPY", "a", "b"), ("COPY", "a", "b"), ("COPY", "a", "b", "REPLACE"), ("COPY", "a", "b", "DB", "1")],
    "move": [("SET", "a", "1", "PX", "100000"), ("MOVE", "a", "1"), ("MOVE", "a", "1"), ("SELECT", "1"), ("MOVE", "a", "0"), ("SELECT", "0")],
    "swapdb": [("SET", "a", "1"), ("SWAPDB", "0", "1"), ("SWAPDB", "1", "1")],
    "flushdb with keys": [("SET", "a", "1"), ("FLUSHDB",), ("SET", "a", "1"), ("FLUSHDB", "ASYNC")],
    "touch exists type keys": [("SET", "a", "1"), ("TOUCH", "a", "b"), ("EXISTS", "a", "b"), ("TYPE", "b"), ("TTL", "b"), ("KEYS", "*"), ("OBJECT", "ENCODING", "b")],
}


@pytest.mark.parametrize("name", sorted(PROPAGATION_SCRIPTS))
def test_propagation_and_keyspace_events_match_redis(mirrored, name):
    mirrored.check(*PROPAGATION_SCRIPTS[name])


def test_incrbyfloat_results_stay_embstr_through_rename_copy_move(pair):
    """INCRBYFLOAT skips tryObjectEncoding: an integer-looking result is embstr, and the
    object keeps that encoding when renamed, copied or moved."""
    pair.check("SET", "f", "10.5")
    pair.check("INCRBYFLOAT", "f", "0.5")
    pair.check("OBJECT", "ENCODING", "f")
    pair.check("RENAME", "f", "g")
    pair.check("OBJECT", "ENCODING", "g")
    pair.check("COPY", "g", "h")
    pair.check("OBJECT", "ENCODING", "h")
    pair.check("MOVE", "h", "1")
    pair.check("SELECT", "1")
    pair.check("OBJECT", "ENCODING", "h")
    pair.check("SELECT", "0")
    pair.check("SET", "g", "11")
    pair.check("OBJECT", "ENCODING", "g")


@pytest.mark.parametrize("step", [("INCR", "f"), ("DECR", "f"), ("INCRBY", "f", "0"), ("DECRBY", "f", "-1")])
def test_a_counter_step_after_incrbyfloat_is_int_encoded(pair, step):
    """INCR and family store a fresh, int-encoded object, even when its text is the very one
    INCRBYFLOAT left (one-digit results are shared objects in Python)."""
    pair.check("SET", "f", "4")
    pair.check("INCRBYFLOAT", "f", "1")
    pair.check(*step)
    if step[0] in ("INCR", "DECRBY"):
        pair.check("DECR", "f")
    pair.check("OBJECT", "ENCODING", "f")
