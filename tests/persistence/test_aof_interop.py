"""AOF directories exchanged with real Redis 7.0 and checked by its ``redis-check-aof``.

Vermilion's directory (manifest, base with or without the RDB preamble, incr files, after
mixed writes and after rewrites) must pass ``redis-check-aof`` and load in ``redis-server``
with every key's type, value, expiry and encoding; a directory written by ``redis-server``
must load in Vermilion the same way; and one directory can go back and forth.
"""

from __future__ import annotations

import shutil
import time

import pytest
import redis

from tests.persistence.aof_support import check_aof, incr_files, manifest_lines, wait_rewrite_done
from tests.persistence.support import diff, populate, redis_on, snapshot
from tests.support.servers import vermilion

PREAMBLE = {"rdb-preamble": "yes", "resp-base": "no"}


def mixed_writes(port: int) -> None:
    """The standard dataset plus the writes whose logged form differs from what was sent."""
    populate(port, dbs=(0, 4))
    r = redis.Redis(port=port, db=4)
    r.set("ex", "v", ex=3600)
    r.expire("str:short", 7200)
    r.incrbyfloat("float", "2.5")
    r.getex("ttl:string", persist=True)
    p = r.pipeline(transaction=True)
    p.lpush("txn:list", "a", "b")
    p.sadd("txn:set", "m")
    p.zincrby("zset:small", 2, "a")
    p.execute()
    r.eval("redis.call('hset', KEYS[1], 'f', 'v') redis.call('hincrby', KEYS[1], 'n', 3)", 1, "script:hash")
    r.spop("set:many", 5)
    r.rpoplpush("list:many", "list:many")
    r.delete("str:binary")


def manifest_path(d):
    return d / "appendonlydir" / "appendonly.aof.manifest"


def assert_check_aof_accepts(d) -> str:
    p = check_aof(manifest_path(d))
    assert p.returncode == 0 and "All AOF files and manifest are valid" in p.stdout, p.stdout + p.stderr
    return p.stdout


@pytest.mark.parametrize("preamble", ["rdb-preamble", "resp-base"])
def test_redis_loads_what_vermilion_appends_and_rewrites(tmp_path, preamble):
    opts = {"aof_use_rdb_preamble": PREAMBLE[preamble], "aof_timestamp_enabled": "yes"}
    with vermilion(dir=str(tmp_path), appendonly="yes", **opts) as node:
        mixed_writes(node.port)
        before_rewrite = snapshot(node.port)
    assert_check_aof_accepts(tmp_path)
    args = ["--appendonly", "yes", "--aof-use-rdb-preamble", PREAMBLE[preamble]]
    saved = tmp_path.parent / (tmp_path.name + "-copy")
    shutil.copytree(tmp_path, saved)
    with redis_on(saved, *args) as rp:
        assert not diff(before_rewrite, snapshot(rp.port))
    # now a rewrite, with more writes after it
    with vermilion(dir=str(tmp_path), appendonly="yes", **opts) as node:
        r = redis.Redis(port=node.port)
        r.bgrewriteaof()
        wait_rewrite_done(r)
        r.set("after:rewrite", "1")
        r.hset("hash:small", "extra", "field")
        expected = snapshot(node.port)
    suffix = "rdb" if preamble == "rdb-preamble" else "aof"
    assert manifest_lines(tmp_path / "appendonlydir") == [
        "file appendonly.aof.2.base.%s seq 2 type b" % suffix, "file appendonly.aof.2.incr.aof seq 2 type i"]
    report = assert_check_aof_accepts(tmp_path)
    assert ("RDB format" in report) == (preamble == "rdb-preamble")
    with redis_on(tmp_path, *args) as rp:
        assert not diff(expected, snapshot(rp.port))


@pytest.mark.parametrize("preamble", ["rdb-preamble", "resp-base"])
def test_vermilion_loads_what_redis_appends_and_rewrites(tmp_path, preamble):
    args = ["--appendonly", "yes", "--aof-use-rdb-preamble", PREAMBLE[preamble]]
    with redis_on(tmp_path, *args) as rp:
        mixed_writes(rp.port)
        r = redis.Redis(port=rp.port)
        r.bgrewriteaof()
        wait_rewrite_done(r)
        r.set("after:rewrite", "1")
        r.zadd("zset:small", {"new": 9})
        expected = snapshot(rp.port)
    with vermilion(dir=str(tmp_path), appendonly="yes", aof_use_rdb_preamble=PREAMBLE[preamble]) as node:
        assert not diff(expected, snapshot(node.port))
        redis.Redis(port=node.port).set("from:vermilion", "x")
        expected = snapshot(node.port)
    assert_check_aof_accepts(tmp_path)
    with redis_on(tmp_path, *args) as rp:  # and back: Redis appends to the same incr file
        assert not diff(expected, snapshot(rp.port))


def test_incr_files_written_by_each_server_are_accepted_by_the_other(tmp_path):
    """Redis's base, then Vermilion's incr file, then Redis's again."""
    with redis_on(tmp_path, "--appendonly", "yes") as rp:
        redis.Redis(port=rp.port).set("one", "redis")
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        r.set("two", "vermilion", px=3_600_000)
        r.bgrewriteaof()  # Vermilion's own base (seq 2)
        wait_rewrite_done(r)
        r.rpush("three", *range(100))
    with redis_on(tmp_path, "--appendonly", "yes") as rp:
        rr = redis.Redis(port=rp.port)
        assert (rr.get("one"), rr.get("two"), rr.llen("three")) == (b"redis", b"vermilion", 100)
        assert 0 < rr.pttl("two") <= 3_600_000
        rr.bgrewriteaof()
        wait_rewrite_done(rr)
        rr.set("four", "redis")
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        assert sorted(r.keys()) == [b"four", b"one", b"three", b"two"]
    assert manifest_lines(tmp_path / "appendonlydir")[0] == "file appendonly.aof.3.base.rdb seq 3 type b"
    assert len(incr_files(tmp_path / "appendonlydir")) == 1


def test_redis_check_aof_fix_repairs_a_torn_tail_that_both_then_load(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        for i in range(20):
            r.set("k%d" % i, i)
    incr = incr_files(tmp_path / "appendonlydir")[0]
    with open(incr, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$3\r\nk20\r\n$2\r\n2")  # a half-written command
    assert check_aof(manifest_path(tmp_path)).returncode != 0
    p = check_aof(manifest_path(tmp_path), "--fix")
    assert "Successfully truncated AOF" in p.stdout, p.stdout
    with vermilion(dir=str(tmp_path), appendonly="yes", aof_load_truncated="no") as node:
        assert redis.Redis(port=node.port).dbsize() == 20
    time.sleep(0.01)
    with redis_on(tmp_path, "--appendonly", "yes", "--aof-load-truncated", "no") as rp:
        assert redis.Redis(port=rp.port).dbsize() == 20
