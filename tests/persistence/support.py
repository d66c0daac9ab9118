"""Helpers for the persistence tests: a dataset that exercises every type and encoding, a
snapshot of a server's whole keyspace (type, value, absolute expiry, encoding of each key),
a builder for hand-made RDB files (including the legacy ziplist / zipmap encodings, written
independently of the server's own code), and real Redis's tools.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import time
from contextlib import contextmanager

import redis

from server.persistence.crc64 import crc64_pure
from tests.support.servers import real_redis

REDIS_CHECK_RDB = shutil.which("redis-check-rdb") or "/usr/bin/redis-check-rdb"

#: The databases the standard dataset writes to.
DATASET_DBS = (0, 5, 15)


def _rand(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def populate(port: int, dbs=DATASET_DBS) -> int:
    """Write the standard dataset through redis-py: every value type in each of its
    encodings, boundary integers, compressible and random strings, 14- and 32-bit lengths,
    binary keys, expiries; a little different in each database. Returns the key count."""
    total = 0
    for n, db in enumerate(dbs):
        r = redis.Redis(port=port, db=db)
        p = r.pipeline(transaction=False)
        strings = {
            "str:short": "hello", "str:empty": "", "str:int8": "-128", "str:int16": "32767",
            "str:int32": "-2147483648", "str:int32over": "2147483648", "str:int64": "9223372036854775807",
            "str:lead0": "007", "str:plus": "+5", "str:neg0": "-0", "str:float": "1.5",
            "str:compressible": "abc" * 1000, "str:binary": bytes(range(256)),
            "str:random": _rand(n, 300), "str:len16384": _rand(n + 10, 16384), "str:len70000": _rand(n + 20, 70000),
            "str:twenty": "a" * 20, "str:twentyone": "a" * 21,
            b"\x00\xffbinary key": "v", "a long key that LZF can compress " * 3: "v%d" % n,
        }
        for k, v in strings.items():
            p.set(k, v)
        p.set("ttl:string", "v", px=3_600_000 + n)
        p.rpush("list:small", "a", "b", 1, 2, -300, 70000, 2**40, -(2**63), "x" * 100)
        p.rpush("list:many", *range(3000 + n))
        p.rpush("list:bigitems", *("y" * 5000 + str(i) for i in range(5)))
        p.rpush("list:hugeelem", _rand(n + 30, 70000), "tail")
        p.rpush("ttl:list", "a")
        p.pexpire("ttl:list", 7_200_000)
        p.sadd("set:intset16", 1, 2, 3, -5)
        p.sadd("set:intset32", 70000, -70000, 5)
        p.sadd("set:intset64", 2**40, -(2**63), 2**63 - 1)
        p.sadd("set:strings", "a", "b", "c")
        p.sadd("set:mixed", 1, "x")
        p.sadd("set:bigints", *range(600))
        p.sadd("set:many", *("m%d" % i for i in range(700)))
        p.hset("hash:small", mapping={"f": "v", "n": 5, "neg": -100000, "big": 2**50})
        p.hset("hash:longvalue", mapping={"f": "v" * 100})
        p.hset("hash:many", mapping={"f%d" % i: i for i in range(600)})
        p.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3, "d": 0.1, "e": 1e300, "f": 3.0000000000000004})
        p.zadd("zset:inf", {"p": float("inf"), "n": float("-inf"), "z": 0})
        p.zadd("zset:longmember", {"m" * 100: 1, "x": 2})
        p.zadd("zset:many", {"m%d" % i: i / 7 for i in range(200)})
        p.zadd("ttl:zset", {"a": 1})
        p.pexpireat("ttl:zset", int(time.time() * 1000) + 9_000_000)
        p.execute()
        total += r.dbsize()
    return total


def value_of(r: redis.Redis, key: bytes):
    """(type, value) with collections in a canonical order."""
    t = r.type(key).decode()
    if t == "string":
        return t, r.get(key)
    if t == "list":
        return t, r.lrange(key, 0, -1)
    if t == "set":
        return t, sorted(r.smembers(key))
    if t == "hash":
        return t, sorted(r.hgetall(key).items())
    if t == "zset":
        return t, r.zrange(key, 0, -1, withscores=True)
    return t, None


def snapshot(port: int, dbs=range(16), encodings: bool = True) -> dict:
    """(db, key) -> (type, value, absolute expiry ms or -1, OBJECT ENCODING) for every key."""
    out = {}
    for db in dbs:
        r = redis.Redis(port=port, db=db)
        for key in r.scan_iter(count=1000):
            t, v = value_of(r, key)
            enc = r.object("encoding", key) if encodings else None
            out[(db, key)] = (t, v, r.pexpiretime(key), enc)
        r.close()
    return out


def diff(expected: dict, got: dict) -> list[str]:
    """Readable differences between two snapshots (empty when equal)."""
    lines = []
    for k in sorted(set(expected) | set(got), key=repr):
        a, b = expected.get(k), got.get(k)
        if a != b:
            lines.append(f"{k!r}: expected {str(a)[:150]} got {str(b)[:150]}")
    return lines


def check_rdb(path) -> str:
    """redis-check-rdb's report; asserts that it accepts the file."""
    p = subprocess.run([REDIS_CHECK_RDB, str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "RDB looks OK" in p.stdout, p.stdout + p.stderr
    return p.stdout


def wait_loaded(port: int, timeout: float = 20.0) -> None:
    """Until the server answers PING (not -LOADING)."""
    deadline = time.monotonic() + timeout
    r = redis.Redis(port=port)
    while True:
        try:
            r.ping()
            return
        except (redis.BusyLoadingError, redis.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            r.close()


@contextmanager
def redis_on(directory, *args: str, dbfilename: str = "dump.rdb"):
    """Real Redis 7.0 with its data files in ``directory`` (it loads what is there)."""
    with real_redis("--dir", str(directory), "--dbfilename", dbfilename, *args) as rp:
        wait_loaded(rp.port)
        yield rp


# -- hand-made RDB files -------------------------------------------------------------------------


def length(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    return b"\x80" + n.to_bytes(4, "big")


def string(s) -> bytes:
    if isinstance(s, str):
        s = s.encode()
    return length(len(s)) + s


def ziplist(items) -> bytes:
    """A ziplist (Redis 2.6-6.2) of ``items``: ints in their smallest encoding (immediates
    0..12, int8/16/24/32/64), bytes as strings with 6-, 14- or 32-bit lengths."""
    entries = []
    prevlen = 0
    offset = 10
    tail = 10
    for item in items:
        if isinstance(item, int):
            if 0 <= item <= 12:
                enc = bytes((0xF1 + item,))
            elif -128 <= item <= 127:
                enc = b"\xfe" + struct.pack("<b", item)
            elif -(2**15) <= item < 2**15:
                enc = b"\xc0" + struct.pack("<h", item)
            elif -(2**23) <= item < 2**23:
                enc = b"\xf0" + item.to_bytes(3, "little", signed=True)
            elif -(2**31) <= item < 2**31:
                enc = b"\xd0" + struct.pack("<i", item)
            else:
                enc = b"\xe0" + struct.pack("<q", item)
        else:
            n = len(item)
            if n < 64:
                enc = bytes((n,)) + item
            elif n < 16384:
                enc = bytes((0x40 | (n >> 8), n & 0xFF)) + item
            else:
                enc = b"\x80" + n.to_bytes(4, "big") + item
        prev = bytes((prevlen,)) if prevlen < 254 else b"\xfe" + struct.pack("<I", prevlen)
        entry = prev + enc
        tail = offset
        offset += len(entry)
        prevlen = len(entry)
        entries.append(entry)
    body = b"".join(entries)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(entries)) + body + b"\xff"


def zipmap(pairs, free: int = 0) -> bytes:
    """A zipmap (Redis <= 2.4 hashes), each value followed by ``free`` unused bytes."""
    def zlen(n: int) -> bytes:
        return bytes((n,)) if n < 254 else b"\xfe" + struct.pack("<I", n)

    out = bytes((min(len(pairs), 254),))
    for k, v in pairs:
        out += zlen(len(k)) + k + zlen(len(v)) + bytes((free,)) + v + b"\x00" * free
    return out + b"\xff"


def intset(width: int, values) -> bytes:
    fmt = {2: "<h", 4: "<i", 8: "<q"}[width]
    return struct.pack("<II", width, len(values)) + b"".join(struct.pack(fmt, v) for v in sorted(values))


def rdb_file(*records: bytes, version: int = 10, checksum: bool = True, aux: bool = True) -> bytes:
    """``REDIS<version>``, a few AUX fields, the records, EOF and the CRC-64."""
    out = b"REDIS%04d" % version
    if aux:
        out += b"\xfa" + string("redis-ver") + string("6.2.14") + b"\xfa" + string("%note") + string("hand made")
    out += b"".join(records) + b"\xff"
    return out + (crc64_pure(out).to_bytes(8, "little") if checksum else bytes(8))


def key(rdbtype: int, name, payload: bytes, expire_ms: int | None = None) -> bytes:
    prefix = b"\xfc" + struct.pack("<q", expire_ms) if expire_ms is not None else b""
    return prefix + bytes((rdbtype,)) + string(name) + payload


def select(db: int, size: int = 0, expires: int = 0) -> bytes:
    return b"\xfe" + length(db) + b"\xfb" + length(size) + length(expires)
