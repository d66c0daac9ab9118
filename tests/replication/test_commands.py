"""Replication settings and commands around the protocol: min-replicas-to-write (NOREPLICAS),
the backlog's time to live, SYNC on a replica without its master, CLIENT PAUSE holding the
master's stream, REPLICAOF in the configuration and on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis

from tests.support.servers import free_port, vermilion, wait_port

from .peers import FakeMaster, FakeReplica
from .support import FAST_VERMILION, KINDS, info, server, wait_for, wait_in_sync, wait_link_up

ROOT = Path(__file__).resolve().parents[2]


def both(scenario, **config):
    results = {}
    for kind in KINDS:
        with server(kind, repl_diskless_sync_delay=0, **config) as port:
            results[kind] = scenario(port)
    return results["redis"], results["vermilion"]


def _try(r, *cmd):
    try:
        return r.execute_command(*cmd)
    except redis.ResponseError as e:
        return "error: %s" % e


def test_min_replicas_to_write_refuses_writes_without_enough_good_replicas():
    def scenario(port):
        r = redis.Redis(port=port)
        out = [_try(r, "SET", "a", "1"), _try(r, "GET", "a"), r.info("replication").get("min_slaves_good_slaves")]
        p = r.pipeline(transaction=True)
        p.set("b", 1)
        try:
            p.execute()
        except redis.ResponseError as e:
            out.append(str(e))
        rep = FakeReplica(port)
        rep.handshake()
        rep.psync_reply()
        rep.payload()
        time.sleep(0.2)
        rep.ack(0)
        wait_for(lambda: r.info("replication").get("min_slaves_good_slaves") == 1, what="a good replica")
        out.append(_try(r, "SET", "a", "2"))
        r.config_set("min-replicas-to-write", 0)
        out.append(r.info("replication").get("min_slaves_good_slaves"))
        return out

    theirs, ours = both(scenario, min_replicas_to_write=1, min_replicas_max_lag=10)
    assert theirs == ours
    assert ours[0] == "error: NOREPLICAS Not enough good replicas to write."
    assert ours[2] == 0


def test_the_backlog_is_freed_after_its_ttl_without_replicas():
    def scenario(port):
        r = redis.Redis(port=port)
        rep = FakeReplica(port)
        rep.handshake()
        rep.psync_reply()
        rep.payload()
        active = r.info("replication")
        rep.close()
        wait_for(lambda: r.info("replication")["repl_backlog_active"] == 0, timeout=10, what="the backlog freed")
        freed = r.info("replication")
        return (active["repl_backlog_active"], freed["master_replid"] != active["master_replid"],
                freed["repl_backlog_first_byte_offset"], freed["repl_backlog_histlen"])

    theirs, ours = both(scenario, repl_backlog_ttl=1)
    assert theirs == ours == (1, True, 0, 0)


def test_a_replica_without_its_master_refuses_sync():
    with FakeMaster() as fm:
        def scenario(port):
            rep = FakeReplica(port)
            rep.handshake()
            return rep.psync_reply()

        results = {}
        for kind in KINDS:
            with server(kind, replicaof="127.0.0.1 %d" % fm.port) as port:
                results[kind] = scenario(port)
    assert results["redis"] == results["vermilion"] == b"-NOMASTERLINK Can't SYNC while not connected with my master"


def test_client_pause_holds_the_master_stream_on_a_replica():
    with vermilion(**FAST_VERMILION) as master, vermilion(**FAST_VERMILION) as replica:
        m, s = redis.Redis(port=master.port), redis.Redis(port=replica.port)
        s.replicaof("127.0.0.1", master.port)
        wait_link_up(replica.port)
        m.set("a", 1)
        offset = wait_in_sync(master.port, replica.port)
        s.execute_command("CLIENT", "PAUSE", "500", "WRITE")
        m.set("b", 2)
        m.incr("n")
        time.sleep(0.2)
        assert s.get("b") is None and info(replica.port)["slave_repl_offset"] == offset
        wait_in_sync(master.port, replica.port)
        assert s.get("b") == b"2" and s.get("n") == b"1"


def test_replicaof_is_in_the_configuration_and_config_rewrite(tmp_path):
    conf = tmp_path / "node.conf"
    conf.write_text("port 0\n")
    with vermilion(**FAST_VERMILION) as master, vermilion(dir=str(tmp_path)) as node:
        node.config.file = str(conf)
        r = redis.Redis(port=node.port)
        assert r.config_get("replicaof") == {"replicaof": ""}
        r.replicaof("127.0.0.1", master.port)
        assert r.config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % master.port}
        assert r.config_get("slaveof") == {"slaveof": "127.0.0.1 %d" % master.port}
        r.config_rewrite()
        assert "replicaof 127.0.0.1 %d" % master.port in conf.read_text()
        r.replicaof("no", "one")
        assert r.config_get("replicaof") == {"replicaof": ""}


def test_python_m_server_replicaof_on_the_command_line(tmp_path):
    with vermilion(**FAST_VERMILION) as master:
        redis.Redis(port=master.port).set("from-master", 1)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", str(port), "--save", "", "--dir", str(tmp_path),
             "--replicaof", "127.0.0.1", str(master.port), "--logfile", str(tmp_path / "log")],
            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            wait_link_up(port)
            assert redis.Redis(port=port).get("from-master") == b"1"
            log = (tmp_path / "log").read_text()
            assert ":S " in log and "MASTER <-> REPLICA sync: Finished with success" in log
        finally:
            proc.terminate()
            proc.wait(10)
