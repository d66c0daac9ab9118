"""Real Redis 7.0 and Vermilion replicating from each other, in both directions and in chains:
full synchronisations in both transfer styles, partial resynchronisations after a dropped
link, and datasets compared key by key after a mixed write load with expiring keys."""

from __future__ import annotations

import redis

from tests.persistence.support import populate
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

DBS = (0, 1, 2, 3, 5, 15)


def _stats(port: int) -> dict:
    r = redis.Redis(port=port)
    try:
        return r.info("stats")
    finally:
        r.close()


def _load_and_compare(master: int, *replicas: int) -> None:
    short = mixed_load(master)
    expire_short_keys(master, short)
    wait_in_sync(master, *replicas)
    for port in replicas:
        assert same_data(master, port, DBS) == []


def test_real_redis_replicates_from_vermilion_diskless_then_streams(tmp_path):
    with vermilion(**FAST_VERMILION) as node:
        populate(node.port, dbs=(0, 5, 15))
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(node.port)) as rp:
            wait_link_up(rp.port)
            _load_and_compare(node.port, rp.port)
            master = info(node.port)
            assert master["connected_slaves"] == 1
            assert master["slave0"]["state"] == "online"
            assert info(rp.port)["master_replid"] == master["master_replid"]
            assert _stats(node.port)["sync_full"] == 1


def test_real_redis_replicates_from_vermilion_with_a_disk_payload():
    with vermilion(repl_diskless_sync="no", repl_ping_replica_period=1) as node:
        populate(node.port, dbs=(0,))
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(node.port)) as rp:
            wait_link_up(rp.port)
            _load_and_compare(node.port, rp.port)


def test_real_replica_continues_partially_after_its_link_is_cut():
    with vermilion(**FAST_VERMILION) as node:
        m = redis.Redis(port=node.port)
        m.set("before", 1)
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(node.port)) as rp:
            wait_link_up(rp.port)
            wait_in_sync(node.port, rp.port)
            assert m.client_kill_filter(_type="replica") == 1
            m.set("while-down", 2)  # in the backlog when the replica comes back
            wait_for(lambda: _stats(node.port)["sync_partial_ok"] == 1, what="a partial resync")
            _load_and_compare(node.port, rp.port)
            assert _stats(node.port)["sync_full"] == 1


def test_vermilion_replicates_from_real_redis_in_both_transfer_styles():
    for diskless in ("yes", "no"):
        with real_redis(*FAST_REDIS, "--repl-diskless-sync", diskless) as rp:
            populate(rp.port, dbs=(0, 5))
            with vermilion(replicaof="127.0.0.1 %d" % rp.port) as node:
                wait_link_up(node.port)
                _load_and_compare(rp.port, node.port)
                assert info(node.port)["master_replid"] == info(rp.port)["master_replid"]


def test_vermilion_continues_partially_from_real_redis_after_its_link_is_cut():
    with real_redis(*FAST_REDIS) as rp:
        m = redis.Redis(port=rp.port)
        m.set("before", 1)
        with vermilion(replicaof="127.0.0.1 %d" % rp.port) as node:
            wait_link_up(node.port)
            wait_in_sync(rp.port, node.port)
            assert redis.Redis(port=node.port).client_kill_filter(_type="master") == 1
            m.set("while-down", 2)
            wait_for(lambda: _stats(rp.port)["sync_partial_ok"] == 1, what="a partial resync")
            _load_and_compare(rp.port, node.port)
            assert _stats(rp.port)["sync_full"] == 1


def test_a_chain_through_vermilion_carries_the_exact_stream():
    """Redis -> Vermilion -> Redis and Vermilion -> Vermilion -> Redis: one replid, one offset,
    the same data all down the chain."""
    with real_redis(*FAST_REDIS) as top:
        with vermilion(replicaof="127.0.0.1 %d" % top.port, **FAST_VERMILION) as middle:
            wait_link_up(middle.port)
            with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(middle.port)) as leaf:
                wait_link_up(leaf.port)
                _load_and_compare(top.port, middle.port, leaf.port)
                ids = {info(p)["master_replid"] for p in (top.port, middle.port, leaf.port)}
                assert len(ids) == 1
    with vermilion(**FAST_VERMILION) as top:
        with vermilion(replicaof="127.0.0.1 %d" % top.port, **FAST_VERMILION) as middle:
            wait_link_up(middle.port)
            with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(middle.port)) as leaf:
                wait_link_up(leaf.port)
                _load_and_compare(top.port, middle.port, leaf.port)
                offsets = {info(p)["master_repl_offset"] for p in (top.port, middle.port, leaf.port)}
                assert len(offsets) == 1
