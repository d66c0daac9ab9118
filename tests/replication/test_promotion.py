"""Failover by hand: REPLICAOF NO ONE keeps the data and the history (replid -> replid2), so
the other replicas of the old master continue with the promoted one partially; a master
turned replica releases its blocked clients and synchronises with its new master."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.support.servers import real_redis, vermilion

from .support import (
    FAST_REDIS,
    FAST_VERMILION,
    expire_short_keys,
    info,
    mixed_load,
    same_data,
    wait_for,
    wait_in_sync,
    wait_link_up,
)


def _stats(port: int) -> dict:
    return redis.Redis(port=port).info("stats")


@pytest.mark.parametrize("other", ["redis", "vermilion"])
def test_a_promoted_vermilion_replica_serves_its_peers_a_partial_resync(other):
    with vermilion(**FAST_VERMILION) as old:
        om = redis.Redis(port=old.port)
        om.set("base", 1)
        with vermilion(replicaof="127.0.0.1 %d" % old.port, **FAST_VERMILION) as b:
            if other == "redis":
                peer_cm = real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(old.port))
            else:
                peer_cm = vermilion(replicaof="127.0.0.1 %d" % old.port, **FAST_VERMILION)
            with peer_cm as peer:
                wait_link_up(b.port)
                wait_link_up(peer.port)
                expire_short_keys(old.port, mixed_load(old.port, ops=200, short_ttl_ms=50), 50)
                offset = wait_in_sync(old.port, b.port, peer.port)
                old_id = info(old.port)["master_replid"]
                rb = redis.Redis(port=b.port)
                assert rb.replicaof("no", "one") == b"OK"
                promoted = info(b.port)
                assert promoted["role"] == "master"
                assert promoted["master_replid2"] == old_id
                assert promoted["second_repl_offset"] == offset + 1
                assert promoted["master_replid"] != old_id
                assert rb.dbsize() == om.dbsize()  # the data is kept
                rb.set("after-promotion", 1)
                redis.Redis(port=peer.port).replicaof("127.0.0.1", b.port)
                wait_for(lambda: _stats(b.port)["sync_partial_ok"] == 1, what="a partial resync with the promoted node")
                assert _stats(b.port)["sync_full"] == 0
                wait_in_sync(b.port, peer.port)
                assert info(peer.port)["master_replid"] == info(b.port)["master_replid"]
                assert same_data(b.port, peer.port) == []


def test_vermilion_moves_to_a_promoted_real_redis_partially():
    with real_redis(*FAST_REDIS) as old:
        om = redis.Redis(port=old.port)
        om.set("base", 1)
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(old.port)) as b:
            with vermilion(replicaof="127.0.0.1 %d" % old.port) as ours:
                wait_link_up(b.port)
                wait_link_up(ours.port)
                expire_short_keys(old.port, mixed_load(old.port, ops=200, short_ttl_ms=50), 50)
                wait_in_sync(old.port, b.port, ours.port)
                redis.Redis(port=b.port).replicaof("no", "one")
                redis.Redis(port=ours.port).replicaof("127.0.0.1", b.port)
                wait_for(lambda: _stats(b.port)["sync_partial_ok"] == 1, what="a partial resync")
                redis.Redis(port=b.port).set("new", 1)
                wait_in_sync(b.port, ours.port)
                assert _stats(b.port)["sync_full"] == 0
                i = info(ours.port)
                assert i["master_replid"] == info(b.port)["master_replid"]
                assert i["master_replid2"] == info(b.port)["master_replid2"]
                assert same_data(b.port, ours.port) == []


def test_a_master_turned_replica_unblocks_its_clients_and_takes_the_new_dataset():
    with vermilion(**FAST_VERMILION) as new_master, vermilion(**FAST_VERMILION) as old:
        redis.Redis(port=new_master.port).set("theirs", 1)
        ro = redis.Redis(port=old.port)
        ro.set("mine", 1)
        result = {}

        def blocked():
            try:
                redis.Redis(port=old.port).blpop("nothing", 0)
            except redis.ResponseError as e:
                result["error"] = str(e)

        t = threading.Thread(target=blocked)
        t.start()
        wait_for(lambda: ro.info("clients")["blocked_clients"] == 1)
        ro.replicaof("127.0.0.1", new_master.port)
        t.join(5)
        assert result["error"] == "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
        wait_link_up(old.port)
        wait_for(lambda: ro.get("theirs") == b"1")
        assert ro.get("mine") is None
        assert ro.replicaof("127.0.0.1", new_master.port) == b"OK Already connected to specified master"
