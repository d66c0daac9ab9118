"""Restarts keep the history: the RDB's repl-stream-db / repl-id / repl-offset AUX fields let a
restarted replica continue partially, and a restarted master serve partial resyncs."""

from __future__ import annotations

import redis

from replication.rdbinfo import read_aux
from tests.support.servers import real_redis, vermilion

from .support import FAST_REDIS, FAST_VERMILION, info, same_data, wait_for, wait_in_sync, wait_link_up


def _stats(port: int) -> dict:
    return redis.Redis(port=port).info("stats")


def test_a_restarted_vermilion_replica_continues_partially(tmp_path):
    with real_redis(*FAST_REDIS) as master:
        m = redis.Redis(port=master.port)
        for i in range(100):
            m.set("k%d" % i, i)
        config = dict(dir=str(tmp_path), replicaof="127.0.0.1 %d" % master.port)
        with vermilion(**config) as replica:
            wait_link_up(replica.port)
            m.execute_command("SELECT", "0")
            redis.Redis(port=master.port, db=2).set("in-db-2", 1)
            offset = wait_in_sync(master.port, replica.port)
            assert redis.Redis(port=replica.port).save()
        aux = read_aux(str(tmp_path / "dump.rdb"))
        assert aux[b"repl-offset"] == b"%d" % offset
        assert aux[b"repl-id"] == info(master.port)["master_replid"].encode()
        assert aux[b"repl-stream-db"] == b"2"
        redis.Redis(port=master.port, db=2).set("while-down", 1)
        with vermilion(**config) as replica:
            wait_link_up(replica.port)
            wait_in_sync(master.port, replica.port)
            assert _stats(master.port)["sync_partial_ok"] == 1
            assert _stats(master.port)["sync_full"] == 1
            assert same_data(master.port, replica.port, dbs=(0, 2)) == []


def test_a_restarted_vermilion_master_lets_its_replica_continue(tmp_path):
    config = dict(dir=str(tmp_path), port=0, **FAST_VERMILION)
    with vermilion(**config) as master:
        port = master.port
        m = redis.Redis(port=port)
        for i in range(100):
            m.set("k%d" % i, i)
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(port)) as replica:
            wait_link_up(replica.port)
            offset = wait_in_sync(port, replica.port)
            old_id = info(port)["master_replid"]
            assert m.save()
            with vermilion(**{**config, "port": 0}) as restarted:
                i = info(restarted.port)
                assert i["master_replid2"] == old_id
                assert i["second_repl_offset"] == offset + 1
                assert i["master_repl_offset"] == offset
                assert i["repl_backlog_active"] == 1
                r = redis.Redis(port=restarted.port)
                assert r.dbsize() == 100
                redis.Redis(port=replica.port).replicaof("127.0.0.1", restarted.port)
                wait_for(lambda: _stats(restarted.port)["sync_partial_ok"] == 1, what="a partial resync")
                r.set("new", 1)
                wait_in_sync(restarted.port, replica.port)
                assert _stats(restarted.port)["sync_full"] == 0
                assert same_data(restarted.port, replica.port, dbs=(0,)) == []
