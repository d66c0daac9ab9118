"""Loading RDB files at startup: the encodings of older Redis versions (hand-built here,
independently of the server's code), newer format versions, and every kind of damaged
file, which must stop the server with Redis's message and never leave a partial dataset.
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from server.persistence import DataLoadError
from tests.persistence.support import (
    intset,
    key,
    rdb_file,
    redis_on,
    select,
    snapshot,
    string,
    ziplist,
    zipmap,
)
from tests.support.servers import REDIS_SERVER, free_port, vermilion

FAR = 4_000_000_000_000  # an expiry in year 2096, in ms
FAR_S = 2_000_000_000  # one in 2033 in seconds (the legacy FD record holds 32 bits)

LEGACY = rdb_file(
    select(0),
    key(10, "list:ziplist", string(ziplist([b"a", 1, 12, 13, 300, -70000, 2**40, b"x" * 70]))),
    key(14, "list:quicklist1", b"\x03" + string(ziplist([b"a", b"b"])) + string(ziplist([])) + string(ziplist([7, b"c"]))),
    key(1, "list:plain", b"\x02" + string("p") + b"\xc0\x05"),
    key(13, "hash:ziplist", string(ziplist([b"f", b"v", b"n", 5]))),
    key(9, "hash:zipmap", string(zipmap([(b"k1", b"v1"), (b"key2", b"value2")], free=2))),
    key(12, "zset:ziplist", string(ziplist([b"m", b"1.5", b"n", 2]))),
    key(3, "zset:text", b"\x03" + string("a") + b"\x031.5" + string("p") + b"\xfe" + string("n") + b"\xff"),
    key(11, "set:intset16", string(intset(2, [3, 1, -2]))),
    key(11, "set:intset32", string(intset(4, [70000, -1]))),
    key(11, "set:intset64", string(intset(8, [2**40, 5]))),
    key(2, "set:plain", b"\x02" + string("a") + string("b")),
    key(4, "hash:plain", b"\x01" + string("f") + string("v")),
    key(5, "zset:binary", b"\x01" + string("m") + struct.pack("<d", -2.5)),
    b"\xfd" + struct.pack("<i", FAR_S) + key(0, "str:expire-seconds", string("v")),
    b"\xf8\x05\xf9\x07" + key(0, "str:idle-and-freq", b"\xc2" + struct.pack("<i", -123456)),
    key(18, "list:plain-node", b"\x02\x01" + string("raw element") + b"\x02" + string(
        b"\x0a\x00\x00\x00\x01\x00\x81z\x02\xff")),
    b"\xf6" + string("mylib") + string("LUA") + b"\x00" + string("redis.register_function('f', function() return 1 end)"),
    select(3),
    key(0, "in-db3", string("x" * 30), expire_ms=FAR),
)

LEGACY_EXPECTED = {
    (0, b"list:ziplist"): ("list", [b"a", b"1", b"12", b"13", b"300", b"-70000", b"1099511627776", b"x" * 70], -1, b"quicklist"),
    (0, b"list:quicklist1"): ("list", [b"a", b"b", b"7", b"c"], -1, b"quicklist"),
    (0, b"list:plain"): ("list", [b"p", b"5"], -1, b"quicklist"),
    (0, b"hash:ziplist"): ("hash", [(b"f", b"v"), (b"n", b"5")], -1, b"listpack"),
    (0, b"hash:zipmap"): ("hash", [(b"k1", b"v1"), (b"key2", b"value2")], -1, b"listpack"),
    (0, b"zset:ziplist"): ("zset", [(b"m", 1.5), (b"n", 2.0)], -1, b"listpack"),
    (0, b"zset:text"): ("zset", [(b"n", -math.inf), (b"a", 1.5), (b"p", math.inf)], -1, b"listpack"),
    (0, b"set:intset16"): ("set", [b"-2", b"1", b"3"], -1, b"intset"),
    (0, b"set:intset32"): ("set", [b"-1", b"70000"], -1, b"intset"),
    (0, b"set:intset64"): ("set", [b"1099511627776", b"5"], -1, b"intset"),
    (0, b"set:plain"): ("set", [b"a", b"b"], -1, b"hashtable"),
    (0, b"hash:plain"): ("hash", [(b"f", b"v")], -1, b"listpack"),
    (0, b"zset:binary"): ("zset", [(b"m", -2.5)], -1, b"listpack"),
    (0, b"str:expire-seconds"): ("string", b"v", FAR_S * 1000, b"embstr"),
    (0, b"str:idle-and-freq"): ("string", b"-123456", -1, b"int"),
    (0, b"list:plain-node"): ("list", [b"raw element", b"z"], -1, b"quicklist"),
    (3, b"in-db3"): ("string", b"x" * 30, FAR, b"embstr"),
}


def write(tmp_path: Path, data: bytes, name: str = "dump.rdb") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_every_legacy_encoding_loads(tmp_path):
    write(tmp_path, LEGACY)
    with vermilion(dir=str(tmp_path)) as node:
        assert snapshot(node.port) == LEGACY_EXPECTED
        # The 7.0-rc FUNCTION record is turned into a FUNCTION2 payload for the scripting layer.
        assert node.rdb.loaded_functions == [
            b"#!LUA name=mylib\nredis.register_function('f', function() return 1 end)"]


def test_redis_reads_the_hand_made_legacy_file_the_same_way(tmp_path):
    """The hand-made file is what Redis 7.0 reads too (it would load the function, so it is
    left out here)."""
    without_function = LEGACY.replace(
        b"\xf6" + string("mylib") + string("LUA") + b"\x00" + string("redis.register_function('f', function() return 1 end)"),
        b"")
    body = without_function[:-8]
    from server.persistence.crc64 import crc64

    write(tmp_path, body + crc64(body).to_bytes(8, "little"))
    with redis_on(tmp_path) as rp:
        assert snapshot(rp.port) == LEGACY_EXPECTED


def test_loaded_collections_take_the_encoding_the_limits_give(tmp_path):
    write(tmp_path, rdb_file(
        select(0),
        key(13, "h", string(ziplist([b"a", b"1", b"b", b"2"]))),
        key(9, "hz", string(zipmap([(b"a", b"x" * 10)]))),
        key(12, "z", string(ziplist([b"a", 1, b"b", 2]))),
        key(11, "s", string(intset(2, [1, 2]))),
        key(4, "h4", b"\x01" + string("f") + string("v" * 20)),
        key(5, "z5", b"\x01" + string("m" * 20) + struct.pack("<d", 1)),
        key(2, "s2", b"\x02" + string("1") + string("2")),
    ))
    limits = dict(hash_max_listpack_entries=1, hash_max_listpack_value=5, zset_max_listpack_entries=1,
                  zset_max_listpack_value=5, set_max_intset_entries=1)
    with vermilion(dir=str(tmp_path), **limits) as node:
        r = redis.Redis(port=node.port)
        encodings = {k: r.object("encoding", k) for k in ("h", "hz", "z", "s", "h4", "z5", "s2")}
    assert encodings == {
        "h": b"hashtable", "hz": b"hashtable", "z": b"skiplist", "s": b"hashtable",
        "h4": b"hashtable", "z5": b"skiplist", "s2": b"hashtable",
    }


def test_newer_format_versions_load(tmp_path):
    """7.2's listpack sets (RDB 11) and 7.4's SLOT_INFO opcode (RDB 12)."""
    lp = b"\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff"
    write(tmp_path, rdb_file(select(0), b"\xf4\x01\x01\x00", key(20, "s", string(lp)), version=12))
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        assert r.smembers("s") == {b"a", b"b"}


def test_a_zero_checksum_is_not_checked(tmp_path):
    write(tmp_path, rdb_file(select(0), key(0, "k", string("v")), checksum=False))
    with vermilion(dir=str(tmp_path), logfile=str(tmp_path / "log")) as node:
        assert redis.Redis(port=node.port).get("k") == b"v"
    assert "RDB file was saved with checksum disabled: no check performed." in (tmp_path / "log").read_text()


def test_rdbchecksum_no_loads_a_file_with_a_wrong_checksum(tmp_path):
    data = bytearray(rdb_file(select(0), key(0, "k", string("v"))))
    data[-1] ^= 0xFF
    write(tmp_path, bytes(data))
    with vermilion(dir=str(tmp_path), rdbchecksum="no") as node:
        assert redis.Redis(port=node.port).get("k") == b"v"


def test_empty_collections_are_skipped_with_a_warning(tmp_path):
    write(tmp_path, rdb_file(select(0), key(14, "empty", b"\x01" + string(ziplist([]))), key(0, "k", string("v"))))
    with vermilion(dir=str(tmp_path), logfile=str(tmp_path / "log")) as node:
        assert redis.Redis(port=node.port).keys() == [b"k"]
    assert "rdbLoadObject skipping empty key: empty" in (tmp_path / "log").read_text()


# -- damaged files ------------------------------------------------------------------------------

GOOD = rdb_file(select(0), key(0, "a", string("v" * 40)), key(18, "l", b"\x01\x02" + string(
    b"\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff")), key(0, "b", string("w")))


def _bad_crc() -> bytes:
    data = bytearray(GOOD)
    data[-1] ^= 1
    return bytes(data)


BAD_FILES = {
    "truncated-in-header": (GOOD[:12], "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    "truncated-in-a-key": (GOOD[:60], "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    "truncated-in-the-checksum": (GOOD[:-3], "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    "no-eof": (GOOD[:-9], "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    "wrong-checksum": (_bad_crc(), "Wrong RDB checksum expected: ("),
    "wrong-signature": (b"RODIS" + GOOD[5:], "Wrong signature trying to load DB from file"),
    "version-13": (b"REDIS0013" + GOOD[9:], "Can't handle RDB format version 13"),
    "corrupt-listpack": (rdb_file(select(0), key(16, "h", string(b"\x20\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff"))),
                         "Hash listpack integrity check failed."),
    "corrupt-quicklist-node": (rdb_file(select(0), key(18, "l", b"\x01\x02" + string(b"\x0d\x00\x00\x00\x02\x00\x81a"
                                                                                      b"\x02\xf9b\x02\xff"))),
                               "Listpack integrity check failed."),
    "empty-intset": (rdb_file(select(0), key(11, "s", string(intset(2, []) ))), "Intset integrity check failed."),
    "duplicate-key": (rdb_file(select(0), key(0, "k", string("1")), key(0, "k", string("2"))),
                      "RDB has duplicated key 'k' in DB 0"),
    "duplicate-set-member": (rdb_file(select(0), key(2, "s", b"\x02" + string("a") + string("a"))),
                             "Duplicate set members detected"),
    "nan-score": (rdb_file(select(0), key(5, "z", b"\x01" + string("m") + struct.pack("<d", math.nan))),
                  "Zset with NAN score detected"),
    "bad-lzf": (rdb_file(select(0), key(0, "k", b"\xc3\x02\x0a\x20\x05")),
                "Invalid LZF compressed string"),
    "unknown-type": (rdb_file(select(0), key(30, "k", string("v"))), "Unknown RDB encoding type 30"),
    "stream": (rdb_file(select(0), key(15, "s", b"\x00\x00\x00\x00\x00\x00")),
               "RDB type 15 (stream) is not supported by this server"),
    "module-aux": (rdb_file(b"\xf7\x81" + (1234 << 10).to_bytes(8, "big") + b"\x02\x02"),
                   "The RDB file contains AUX module data I can't load"),
    "db-out-of-range": (rdb_file(select(20), key(0, "k", string("v"))),
                        "FATAL: Data file was created with a Redis server configured to handle more than 16 databases."),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_damaged_file_stops_the_server_with_nothing_loaded(tmp_path, case):
    data, message = BAD_FILES[case]
    write(tmp_path, data)
    log = tmp_path / "log"
    with pytest.raises(DataLoadError):
        with vermilion(dir=str(tmp_path), logfile=str(log)):
            pass
    text = log.read_text()
    assert message in text
    assert "Ready to accept connections" not in text


REDIS_REFUSES = ["truncated-in-a-key", "truncated-in-the-checksum", "wrong-checksum", "version-13",
                 "corrupt-listpack", "duplicate-set-member", "nan-score", "bad-lzf", "db-out-of-range"]


@pytest.mark.parametrize("case", REDIS_REFUSES)
def test_redis_refuses_the_same_damaged_files(tmp_path, case):
    write(tmp_path, BAD_FILES[case][0])
    p = subprocess.Popen([REDIS_SERVER, "--port", str(free_port()), "--save", "", "--dir", str(tmp_path),
                          "--logfile", str(tmp_path / "log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("redis-server loaded the file and kept running")
    assert status == 1


ROOT = Path(__file__).resolve().parents[2]


def test_python_m_server_exits_with_status_1_on_a_damaged_file(tmp_path):
    write(tmp_path, BAD_FILES["wrong-checksum"][0])
    p = subprocess.run([sys.executable, "-m", "server", "--port", str(free_port()), "--save", ""],
                       cwd=tmp_path, env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "Wrong RDB checksum expected" in p.stdout
    assert "Terminating server after rdb file reading failure." in p.stdout
