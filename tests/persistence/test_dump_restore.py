"""DUMP and RESTORE: replies byte for byte against Redis 7.0, payloads interchangeable in
both directions for every type and encoding, TTL and access-time options, notifications,
and the form RESTORE propagates in."""

from __future__ import annotations

import time

import pytest
import redis

from server.persistence.crc64 import crc64
from tests.persistence.support import populate, value_of
from tests.support.servers import real_redis, vermilion


def payload(body: bytes, version: int = 10) -> bytes:
    data = body + version.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


# -- replies ------------------------------------------------------------------------------------

ERRORS = [
    [("DUMP", "missing")],
    [("RESTORE", "k", "0", "garbage")],
    [("RESTORE", "k", "0", b"")],
    [("RESTORE", "k", "abc", payload(b"\x00\x01v"))],
    [("RESTORE", "k", "-1", payload(b"\x00\x01v"))],
    [("RESTORE", "k", "0", payload(b"\x00\x01v", version=11))],
    [("RESTORE", "k", "0", payload(b"\x1e\x01v"))],  # unknown type
    [("RESTORE", "k", "0", payload(b"\x00\x05v"))],  # string shorter than announced
    [("RESTORE", "k", "0", payload(b"\x10" + b"\x07\x00\x00\x00\x00\x00\xff"))],  # empty listpack hash
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "FOO")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "IDLETIME")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "IDLETIME", "-1")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "IDLETIME", "x")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "FREQ", "256")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "FREQ", "-1")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "IDLETIME", "1", "FREQ", "2")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "FREQ", "2", "IDLETIME", "1")],
    [("RESTORE", "k")],
    [("DUMP",)],
    # BUSYKEY comes before the TTL is even parsed.
    [("SET", "k", "old"), ("RESTORE", "k", "abc", "garbage"), ("RESTORE", "k", "0", payload(b"\x00\x01v")),
     ("GET", "k"), ("RESTORE", "k", "0", payload(b"\x00\x01v"), "REPLACE"), ("GET", "k"), ("TTL", "k")],
    [("RESTORE", "k", "0", payload(b"\x00\x01v"), "replace", "absttl", "idletime", "5"), ("GET", "k"),
     ("OBJECT", "IDLETIME", "k"), ("RESTORE", "n", "0", payload(b"\x00\xc0\x05")), ("GET", "n"),
     ("OBJECT", "ENCODING", "n"), ("DUMP", "n")],
    # An expiry in the past: nothing is created, and a replaced key is deleted.
    [("RESTORE", "k", "1", payload(b"\x00\x01v"), "ABSTTL"), ("EXISTS", "k"), ("SET", "k", "x"),
     ("RESTORE", "k", "1", payload(b"\x00\x01v"), "ABSTTL", "REPLACE"), ("EXISTS", "k")],
    [("RESTORE", "k", "100000", payload(b"\x00\x01v")), ("TTL", "k"), ("RESTORE", "a", "99999999999999", payload(b"\x00\x01v"), "ABSTTL"),
     ("PEXPIRETIME", "a")],
]


@pytest.mark.parametrize("commands", ERRORS, ids=[" ".join(str(a)[:20] for a in c[-1]) for c in ERRORS])
def test_replies_match_redis(pair, commands):
    for cmd in commands:
        pair.check(*cmd)


def test_dump_of_each_type_matches_redis_byte_for_byte(pair):
    """Where the encoding fixes the order (strings, listpacks, intsets, lists), the payload
    is the same bytes, LZF compression included."""
    setup = [
        ("SET", "s", "hello"), ("SET", "n", "-2147483648"), ("SET", "big", "abc" * 500), ("SET", "e", ""),
        ("SET", "n64", "12345678901234"), ("RPUSH", "l", "a", "1", "-300", "70000", "x" * 80, "9" * 19),
        ("SADD", "is", "5", "-70000", "3"), ("HSET", "h", "f", "v", "n", "7", "long", "y" * 60),
        ("ZADD", "z", "1.5", "a", "-2", "b", "inf", "c", "3.0000000000000004", "d"),
    ]
    for cmd in setup:
        pair.check(*cmd)
    for key in ("s", "n", "big", "e", "n64", "l", "is", "h", "z"):
        pair.check("DUMP", key)
    pair.check("CONFIG", "SET", "rdbcompression", "no")
    try:
        pair.check("DUMP", "big")
    finally:
        pair.check("CONFIG", "SET", "rdbcompression", "yes")


@pytest.fixture(scope="module")
def both():
    with real_redis() as rp, vermilion() as node:
        theirs, ours = redis.Redis(port=rp.port), redis.Redis(port=node.port)
        populate(rp.port, dbs=(0,))
        populate(node.port, dbs=(0,))
        yield theirs, ours


def _check_restored(src: redis.Redis, dst: redis.Redis, key: bytes) -> None:
    dump = src.dump(key)
    assert dst.restore(b"copy:" + key, 0, dump, replace=True)
    assert value_of(dst, b"copy:" + key) == value_of(src, key)
    assert dst.object("encoding", b"copy:" + key) == src.object("encoding", key)


def test_every_redis_dump_restores_in_vermilion(both):
    theirs, ours = both
    keys = [k for k in theirs.keys() if not k.startswith(b"copy:")]
    assert len(keys) > 30
    for key in keys:
        _check_restored(theirs, ours, key)


def test_every_vermilion_dump_restores_in_redis(both):
    theirs, ours = both
    keys = [k for k in ours.keys() if not k.startswith(b"copy:")]
    assert len(keys) > 30
    for key in keys:
        _check_restored(ours, theirs, key)


def test_restore_keeps_the_ttl_relative_or_absolute(node):
    r = redis.Redis(port=node.port)
    r.set("src", "v")
    dump = r.dump("src")
    r.restore("rel", 60_000, dump)
    assert 59_000 < r.pttl("rel") <= 60_000
    when = int(time.time() * 1000) + 120_000
    r.restore("abs", when, dump, absttl=True)
    assert r.pexpiretime("abs") == when
    r.restore("none", 0, dump)
    assert r.ttl("none") == -1


def test_restore_fires_the_keyspace_events_redis_fires(pair):
    subs = []
    for client in (pair.redis, pair.ours):
        client.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        from tests.support.resp import RawClient

        for port in (pair.redis.sock.getpeername()[1], pair.ours.sock.getpeername()[1]):
            sub = RawClient(port)
            sub.call("PSUBSCRIBE", "__key*@0__:*")
            subs.append(sub)
        v = payload(b"\x00\x01v")
        for cmd in [("RESTORE", "k", "0", v), ("RESTORE", "k", "0", v, "REPLACE"),
                    ("RESTORE", "k", "1", v, "REPLACE", "ABSTTL"), ("RESTORE", "j", "5000", v)]:
            pair.check(*cmd)
        theirs, ours = (s.read_all(0.3) for s in subs)
        assert ours == theirs
        assert b"restore" in ours and b"del" in ours
    finally:
        for sub in subs:
            sub.close()
        for client in (pair.redis, pair.ours):
            client.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_restore_propagates_an_absolute_ttl(node):
    """propagated as RESTORE ... <unix ms> ... ABSTTL, or as DEL when the key is gone at once."""
    seen = []
    node.loop.call_soon_threadsafe(node.add_propagation_sink, lambda dbid, argv: seen.append((dbid, list(argv))))
    r = redis.Redis(port=node.port)
    r.ping()
    r.set("src", "v")
    dump = r.dump("src")
    before = int(time.time() * 1000)
    r.execute_command("restore", "k", 5000, dump)
    r.execute_command("RESTORE", "k2", 0, dump)
    r.execute_command("RESTORE", "k", 1, dump, "REPLACE", "ABSTTL")
    r.execute_command("RESTORE", "gone", 1, dump, "ABSTTL")
    restores = [argv for _, argv in seen if argv[0].lower() in (b"restore", b"del")]
    assert restores[0][:2] == [b"restore", b"k"] and restores[0][3:] == [dump, b"ABSTTL"]
    assert before + 5000 <= int(restores[0][2]) <= int(time.time() * 1000) + 5000
    assert restores[1] == [b"RESTORE", b"k2", b"0", dump]
    assert restores[2] == [b"DEL", b"k"]
    assert len(restores) == 3  # nothing for a key that was never there



def test_listpack_boundaries_dump_the_same_bytes_as_redis(pair):
    """Every listpack integer width and string length header, in a hash kept as a listpack."""
    ints = [0, 127, 128, -4096, 4095, 4096, -32769, 8388607, 8388608, 2**31, 2**63 - 1, -(2**63)]
    sizes = [63, 64, 4095, 4096, 16383, 16384, 70000]
    args = []
    for i, v in enumerate(ints):
        args += ["i%d" % i, str(v)]
    for n in sizes:
        args += ["s%d" % n, "".join(chr(97 + (j * 7 + n) % 26) for j in range(n))]
    pair.check("CONFIG", "SET", "hash-max-listpack-value", "100000")
    try:
        pair.check("HSET", "h", *args)
        pair.check("OBJECT", "ENCODING", "h")
        pair.check("DUMP", "h")
        pair.check("CONFIG", "SET", "rdbcompression", "no")
        pair.check("DUMP", "h")
    finally:
        pair.check("CONFIG", "SET", "rdbcompression", "yes")
        pair.check("CONFIG", "SET", "hash-max-listpack-value", "64")
