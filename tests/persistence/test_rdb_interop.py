"""RDB files between Vermilion and real Redis 7.0, both ways.

Vermilion's dump.rdb must pass redis-check-rdb and load in redis-server with every key's
type, value, absolute expiry and encoding intact; a dump.rdb written by redis-server, in
every encoding it writes (listpack, quicklist with plain and LZF-compressed nodes, intset,
hash tables, skiplists, LZF and integer strings), must load in Vermilion the same way. The
same configuration is given to both servers, since the encodings a loader picks depend on
the ``*-max-*`` limits.
"""

from __future__ import annotations

import pytest
import redis

from tests.persistence.support import check_rdb, diff, populate, redis_on, snapshot
from tests.support.servers import vermilion

#: (redis-server arguments, the same settings for a Vermilion node)
CONFIGS = {
    "defaults": ([], {}),
    "no-listpacks": (
        ["--hash-max-listpack-entries", "0", "--zset-max-listpack-entries", "0", "--set-max-intset-entries", "0",
         "--list-max-listpack-size", "4", "--list-compress-depth", "1"],
        {"hash_max_listpack_entries": 0, "zset_max_listpack_entries": 0, "set_max_intset_entries": 0,
         "list_max_listpack_size": 4, "list_compress_depth": 1},
    ),
    "uncompressed": (
        ["--rdbcompression", "no", "--rdbchecksum", "no", "--list-max-listpack-size", "-5",
         "--hash-max-listpack-value", "8", "--zset-max-listpack-value", "8"],
        {"rdbcompression": "no", "rdbchecksum": "no", "list_max_listpack_size": -5,
         "hash_max_listpack_value": 8, "zset_max_listpack_value": 8},
    ),
}


def _redis_args(ours: dict) -> list[str]:
    return [a for name, v in ours.items() for a in ("--" + name.replace("_", "-"), str(v))]


@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
def test_redis_loads_what_vermilion_saves(tmp_path, config):
    redis_args, ours = CONFIGS[config]
    with vermilion(dir=str(tmp_path), **ours) as node:
        populate(node.port)
        expected = snapshot(node.port)
        assert redis.Redis(port=node.port).save() is True
    report = check_rdb(tmp_path / "dump.rdb")
    assert "%d keys read" % len(expected) in report
    with redis_on(tmp_path, *redis_args) as rp:
        got = snapshot(rp.port)
    assert not diff(expected, got)


@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
def test_vermilion_loads_what_redis_saves(tmp_path, config):
    redis_args, ours = CONFIGS[config]
    with redis_on(tmp_path, *redis_args) as rp:
        populate(rp.port)
        expected = snapshot(rp.port)
        assert redis.Redis(port=rp.port).save() is True
    with vermilion(dir=str(tmp_path), **ours) as node:
        got = snapshot(node.port)
        info = redis.Redis(port=node.port).info("persistence")
    assert not diff(expected, got)
    assert info["rdb_last_load_keys_loaded"] == len(expected)


def test_a_file_makes_the_round_trip_unchanged(tmp_path):
    """Redis -> Vermilion -> Redis: the dataset Redis sees at the end is the one it saved."""
    with redis_on(tmp_path) as rp:
        populate(rp.port, dbs=(0, 1))
        expected = snapshot(rp.port)
        redis.Redis(port=rp.port).save()
    with vermilion(dir=str(tmp_path)) as node:
        redis.Redis(port=node.port).save()
    check_rdb(tmp_path / "dump.rdb")
    with redis_on(tmp_path) as rp:
        assert not diff(expected, snapshot(rp.port))


def test_keys_that_expired_on_disk_are_dropped_by_a_master(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r.set("gone", "v", px=1)
        r.set("kept", "v", px=3_600_000)
        r.set("plain", "v")
        r.execute_command("DEBUG", "SLEEP", "0.01")
        r.save()  # "gone" is saved with its past expiry: nothing touched it
    assert "1 already expired" in check_rdb(tmp_path / "dump.rdb")
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        assert sorted(r.keys()) == [b"kept", b"plain"]
        info = r.info("persistence")
        assert (info["rdb_last_load_keys_loaded"], info["rdb_last_load_keys_expired"]) == (2, 1)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu"])
def test_lru_and_lfu_records_survive_in_both_servers(tmp_path, policy):
    """F8 (idle seconds) under an LRU policy, F9 (LFU counter) under an LFU one."""
    idle_or_freq = ("IDLETIME", 5000) if policy.endswith("lru") else ("FREQ", 77)
    with vermilion(dir=str(tmp_path), maxmemory_policy=policy) as node:
        r = redis.Redis(port=node.port)
        r.set("src", "value")
        payload = r.dump("src")
        r.execute_command("RESTORE", "k", 0, payload, "REPLACE", *idle_or_freq)
        r.save()
        r.execute_command("DEBUG", "RELOAD")
        ours = r.object(idle_or_freq[0].lower(), "k")
    check_rdb(tmp_path / "dump.rdb")
    with redis_on(tmp_path, "--maxmemory-policy", policy) as rp:
        theirs = redis.Redis(port=rp.port).object(idle_or_freq[0].lower(), "k")
    if policy.endswith("lru"):
        assert 5000 <= ours <= 5010 and 5000 <= theirs <= 5010
    else:
        assert ours == theirs == 77
