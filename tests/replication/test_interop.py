"""Real Redis 7.0 and Vermilion replicating from each other, in both directions and in chains:
full synchronisations in both transfer styles, partial resynchronisations after a dropped
link, and datasets compared key by key after a mixed write load with expiring keys."""

from __future__ import annotations

import time

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


def test_a_sub_replica_of_vermilion_receives_its_master_stream_byte_for_byte():
    """Real Redis -> Vermilion -> a hand-driven replica, beside a hand-driven replica of the
    real Redis: from the same offset on, both receive the very same bytes (the writes with
    their SELECTs, Redis's pings and the GETACK of a WAIT)."""
    from .peers import FakeReplica

    def attach(port):
        rep = FakeReplica(port)
        rep.handshake()
        line = rep.psync_reply()
        assert line.startswith(b"+FULLRESYNC ")
        rep.payload()
        time.sleep(0.2)  # an ACK before Redis noticed the end of the transfer is ignored
        rep.ack(0)
        return rep, int(line.split()[2])

    with real_redis(*FAST_REDIS) as top:
        with vermilion(replicaof="127.0.0.1 %d" % top.port, **FAST_VERMILION) as middle:
            wait_link_up(middle.port)
            wait_in_sync(top.port, middle.port)
            direct, start_direct = attach(top.port)
            proxied, start_proxied = attach(middle.port)
            t = redis.Redis(port=top.port)
            t.set("a", 1, ex=100)
            redis.Redis(port=top.port, db=3).rpush("l", 1, 2, 3)
            t.eval("redis.call('incr', 'n'); redis.call('incr', 'n')", 0)
            t.wait(1, 1000)
            end = wait_in_sync(top.port, middle.port)
            got_direct = direct.take(end - start_direct)
            got_proxied = proxied.take(end - start_proxied)
            assert start_proxied >= start_direct
            assert got_proxied == got_direct[start_proxied - start_direct:]
            assert b"PXAT" in got_proxied and b"MULTI" in got_proxied and b"GETACK" in got_proxied
            direct.close()  # or Redis's SHUTDOWN waits for this lagging replica
            proxied.close()


def test_redis_cli_replica_mode_logs_the_same_stream_from_vermilion_and_redis():
    """``redis-cli --replica``: capa eof, rdb-filter-only, SYNC, an EOF-marked payload, an ACK,
    then the master's commands, printed as they come."""
    import subprocess
    import threading

    from .support import KINDS, server

    tail = b'"SET","k","v"\n"SELECT","2"\n"INCRBY","n","1"\n'
    outputs = {}
    for kind in KINDS:
        with server(kind, repl_diskless_sync_delay=0) as port:
            redis.Redis(port=port).set("pre", 1)
            cli = subprocess.Popen(["redis-cli", "-p", str(port), "--replica"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
            out = bytearray()
            reader = threading.Thread(target=lambda: [out.extend(line) for line in cli.stdout], daemon=True)
            reader.start()
            try:
                wait_for(lambda: b"Logging commands from master" in out)
                redis.Redis(port=port).set("k", "v")
                redis.Redis(port=port, db=2).incr("n")
                wait_for(lambda: out.endswith(tail), what="the commands in redis-cli's output")
            finally:
                cli.terminate()
                cli.wait(10)
                reader.join(10)
            outputs[kind] = bytes(out)
    assert outputs["redis"] == outputs["vermilion"]
    assert outputs["vermilion"].endswith(b"sending REPLCONF ACK 0\n" + tail)
