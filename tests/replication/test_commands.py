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
from .support import FAST_REDIS, FAST_VERMILION, KINDS, info, server, wait_for, wait_in_sync, wait_link_up

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
        rep = FakeReplica.online(port)
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


def test_replicas_authenticate_to_their_master_in_both_directions():
    """masterauth alone (requirepass) and masteruser + masterauth (an ACL user), Vermilion as
    the replica of real Redis and real Redis as the replica of Vermilion; a wrong password
    keeps the link down."""
    from tests.support.servers import real_redis

    user = ("--user", "repl", "on", ">pw", "~*", "+@all")
    with real_redis(*FAST_REDIS, "--requirepass", "secret", *user) as rp:
        redis.Redis(port=rp.port, password="secret").set("from-redis", 1)
        with vermilion(replicaof="127.0.0.1 %d" % rp.port, masterauth="secret") as a, \
                vermilion(replicaof="127.0.0.1 %d" % rp.port, masteruser="repl", masterauth="pw") as b, \
                vermilion(replicaof="127.0.0.1 %d" % rp.port, masterauth="wrong") as bad:
            for node in (a, b):
                wait_link_up(node.port)
                wait_for(lambda: redis.Redis(port=node.port).get("from-redis") == b"1")
            time.sleep(0.3)
            assert info(bad.port)["master_link_status"] == "down"
            assert redis.Redis(port=bad.port).dbsize() == 0
    with vermilion(requirepass="secret", **FAST_VERMILION) as master:
        redis.Redis(port=master.port, password="secret").set("from-vermilion", 1)
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(master.port), "--masterauth", "secret") as rp:
            wait_link_up(rp.port)
            wait_for(lambda: redis.Redis(port=rp.port).get("from-vermilion") == b"1")


def _info_fields(port: int) -> list[bytes]:
    """The field names of INFO replication, in order, from the raw reply."""
    from tests.support.resp import RawClient

    with RawClient(port) as c:
        raw = c.call("INFO", "replication")
    return [line.split(b":")[0] for line in raw.split(b"\r\n")[1:] if line]


def test_info_replication_fields_come_in_redis_order_in_every_state():
    """Sentinel and clients parse these lines: the same names in the same order as Redis,
    as a master (with min-replicas on and a replica attached) and as a replica whose link
    is in the handshake, transferring, and down."""

    def scenario(port):
        r = redis.Redis(port=port)
        out = [_info_fields(port)]
        r.config_set("min-replicas-to-write", 1)
        rep = FakeReplica(port)
        rep.handshake()
        rep.psync_reply()
        rep.payload()
        out.append(_info_fields(port))
        with FakeMaster() as fm:
            r.replicaof("127.0.0.1", fm.port)
            p = fm.accept()
            p.request()
            time.sleep(0.1)
            out.append(_info_fields(port))  # handshake
            p.send(b"+PONG\r\n")
            p.request(), p.request()
            p.send(b"+OK\r\n+OK\r\n")
            p.request()
            p.send(b"+FULLRESYNC %s 5\r\n$100\r\nREDIS" % (b"a" * 40))
            time.sleep(0.2)
            out.append(_info_fields(port))  # transfer
            p.close()
            wait_for(lambda: b"master_link_down_since_seconds" in _info_fields(port))
            out.append(_info_fields(port))  # down
        rep.close()
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert b"min_slaves_good_slaves" in ours[1] and b"master_sync_total_bytes" in ours[3]


def test_configuring_min_replicas_counts_the_good_replicas_at_once():
    def scenario(port):
        r = redis.Redis(port=port)
        rep = FakeReplica.online(port)
        time.sleep(0.1)
        out = []
        for name, value in (("min-replicas-to-write", 1), ("min-replicas-to-write", 2), ("min-replicas-max-lag", 0)):
            r.config_set(name, value)  # no cron tick in between: the count must be current
            out += [_try(r, "SET", "k", "v"), r.info("replication").get("min_slaves_good_slaves")]
        rep.close()
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[:4] == [True, 1, "error: NOREPLICAS Not enough good replicas to write.", 1]


def test_a_replica_that_stops_acknowledging_stops_counting_after_the_max_lag():
    """Good means acknowledged within min-replicas-max-lag seconds (the count is refreshed by
    the once-a-second cron); a new ACK makes the replica good again."""

    def scenario(port):
        r = redis.Redis(port=port)
        rep = FakeReplica.online(port)
        time.sleep(0.1)
        r.config_set("min-replicas-max-lag", 1)
        r.config_set("min-replicas-to-write", 1)
        t0 = time.monotonic()

        def refusal():
            reply = _try(r, "SET", "x", "1")
            return reply if reply is not True else None

        refused = wait_for(refusal, timeout=5)
        elapsed = time.monotonic() - t0  # ACK times are whole seconds, refreshed once a second
        out = [refused, 0.5 < elapsed < 4, r.info("replication")["min_slaves_good_slaves"]]
        rep.ack(0)  # good again from the next cron tick on
        wait_for(lambda: r.info("replication")["min_slaves_good_slaves"] == 1, timeout=3)
        out.append(_try(r, "SET", "x", "1"))
        rep.close()
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours == ["error: NOREPLICAS Not enough good replicas to write.", True, 0, True]
