"""Faults: links cut during the payload and during the stream, stalled links and timeouts,
a backlog too small to bridge an outage, a replica that stops reading, and WAIT's count
through all of it. The faults come from a loopback proxy (peers.Proxy)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.support.servers import real_redis, vermilion

from .peers import FakeReplica, Proxy
from .support import FAST_REDIS, FAST_VERMILION, info, same_data, server, wait_for, wait_in_sync, wait_link_up


def _stats(port: int) -> dict:
    return redis.Redis(port=port).info("stats")


def _fill(port: int, n: int, size: int = 100) -> None:
    r = redis.Redis(port=port)
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("key:%d" % i, b"v" * size)
        if i % 1000 == 999:
            p.execute()
    p.execute()
    r.sadd("set", *range(100))


@pytest.mark.parametrize("direction", ["vermilion-master", "redis-master"])
def test_a_link_cut_mid_payload_is_retried_with_a_new_full_sync(direction):
    master_cm = vermilion(**FAST_VERMILION) if direction == "vermilion-master" else real_redis(*FAST_REDIS)
    with master_cm as master:
        _fill(master.port, 20_000)
        with Proxy(master.port) as proxy:
            proxy.cut_after = 200_000  # inside the RDB (about 2.2 MB)
            if direction == "vermilion-master":
                replica_cm = real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(proxy.port))
            else:
                replica_cm = vermilion(replicaof="127.0.0.1 %d" % proxy.port)
            with replica_cm as replica:
                wait_link_up(replica.port, timeout=30)
                assert proxy.connections >= 2
                assert _stats(master.port)["sync_full"] >= 2
                redis.Redis(port=master.port).set("after", 1)
                wait_in_sync(master.port, replica.port)
                assert same_data(master.port, replica.port, dbs=(0,)) == []


@pytest.mark.parametrize("direction", ["vermilion-master", "redis-master"])
def test_a_link_cut_mid_stream_continues_partially(direction):
    master_cm = vermilion(**FAST_VERMILION) if direction == "vermilion-master" else real_redis(*FAST_REDIS)
    with master_cm as master:
        m = redis.Redis(port=master.port)
        _fill(master.port, 500)
        with Proxy(master.port) as proxy:
            if direction == "vermilion-master":
                replica_cm = real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(proxy.port))
            else:
                replica_cm = vermilion(replicaof="127.0.0.1 %d" % proxy.port)
            with replica_cm as replica:
                wait_link_up(replica.port)
                for round_ in range(3):
                    m.incr("counter")
                    m.rpush("list", round_)
                    proxy.drop()
                    m.set("during-%d" % round_, round_)
                    wait_for(lambda: _stats(master.port)["sync_partial_ok"] == round_ + 1, what="partial resync")
                wait_in_sync(master.port, replica.port)
                assert _stats(master.port)["sync_full"] == 1
                assert same_data(master.port, replica.port, dbs=(0,)) == []


def test_a_stalled_link_times_out_on_both_sides_then_resumes_partially():
    with vermilion(repl_timeout=2, **FAST_VERMILION) as master:
        m = redis.Redis(port=master.port)
        m.set("a", 1)
        with Proxy(master.port) as proxy:
            with vermilion(replicaof="127.0.0.1 %d" % proxy.port, repl_timeout=2) as replica:
                wait_link_up(replica.port)
                wait_in_sync(master.port, replica.port)
                proxy.stall()
                m.set("b", 2)
                wait_for(lambda: info(replica.port)["master_link_status"] == "down", timeout=10,
                         what="the replica to notice the silent master")
                wait_for(lambda: info(master.port)["connected_slaves"] == 0, timeout=10,
                         what="the master to drop the silent replica")
                proxy.resume()
                proxy.drop()  # the stalled connections are dead anyway
                wait_in_sync(master.port, replica.port)
                assert redis.Redis(port=replica.port).get("b") == b"2"
                assert _stats(master.port)["sync_partial_ok"] >= 1
                assert _stats(master.port)["sync_full"] == 1


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_a_backlog_overrun_forces_a_full_resync(kind):
    with server(kind, repl_backlog_size="16kb", **{"repl_diskless_sync_delay": 0}) as port:
        m = redis.Redis(port=port)
        m.set("a", 1)
        with Proxy(port) as proxy:
            with vermilion(replicaof="127.0.0.1 %d" % proxy.port) as replica:
                wait_link_up(replica.port)
                wait_in_sync(port, replica.port)
                proxy.refuse = True
                proxy.drop()
                wait_for(lambda: info(port)["connected_slaves"] == 0)
                m.set("big", b"x" * 100_000)  # far more than the backlog holds
                proxy.refuse = False
                wait_for(lambda: _stats(port)["sync_full"] == 2, what="a second full sync")
                wait_in_sync(port, replica.port)
                assert _stats(port)["sync_partial_err"] == 1
                assert redis.Redis(port=replica.port).strlen("big") == 100_000


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_a_replica_that_stops_reading_is_cut_off_by_its_output_limit(kind):
    with server(kind, client_output_buffer_limit="replica 2mb 1mb 1", repl_diskless_sync_delay=0) as port:
        m = redis.Redis(port=port)
        rep = FakeReplica.online(port)
        rep.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        value = b"x" * 100_000
        for _ in range(100):  # 10 MB, much more than the socket buffers hold
            m.set("k", value)
        wait_for(lambda: info(port)["connected_slaves"] == 0, what="the replica to be disconnected")
        assert m.ping()  # the master carries on
        assert m.get("k") == value
        rep.close()


def test_wait_counts_only_replicas_that_acknowledged_through_faults():
    with vermilion(repl_timeout=60, **FAST_VERMILION) as master:
        m = redis.Redis(port=master.port)
        with Proxy(master.port) as proxy:
            with vermilion(replicaof="127.0.0.1 %d" % master.port) as good, \
                    vermilion(replicaof="127.0.0.1 %d" % proxy.port) as bad:
                wait_link_up(good.port)
                wait_link_up(bad.port)
                m.set("a", 1)
                assert m.wait(2, 5000) == 2
                proxy.stall()  # the bad replica hears nothing and says nothing
                m.set("b", 2)
                t0 = time.monotonic()
                assert m.wait(2, 500) == 1  # times out with the count reached
                assert time.monotonic() - t0 >= 0.45
                assert m.wait(1, 5000) == 1
                proxy.resume()
                assert m.wait(2, 5000) == 2  # the stream and its GETACK got through at last
                proxy.refuse = True
                proxy.drop()
                wait_for(lambda: info(master.port)["connected_slaves"] == 1)
                m.set("c", 3)
                assert m.wait(2, 300) == 1
                box = {}
                t = threading.Thread(target=lambda: box.setdefault("n", redis.Redis(port=master.port).wait(2, 0)))
                t.start()
                time.sleep(0.2)
                proxy.refuse = False  # the bad replica comes back, continues and acknowledges
                t.join(10)
                assert box["n"] == 2


def test_a_killed_replica_restarts_from_its_last_snapshot_and_continues_partially(tmp_path):
    """kill -9: the replica comes back with the history of its last RDB (repl-id and
    repl-offset) and asks to continue from there; the master resends what it lacks."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.servers import free_port, wait_port

    root = Path(__file__).resolve().parents[2]
    with vermilion(**FAST_VERMILION) as master:
        m = redis.Redis(port=master.port)
        _fill(master.port, 300)
        port = free_port()
        cmd = [sys.executable, "-m", "server", "--port", str(port), "--save", "", "--dir", str(tmp_path),
               "--replicaof", "127.0.0.1", str(master.port), "--logfile", str(tmp_path / "log")]

        def start():
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(root)),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(port)
            return proc

        proc = start()
        try:
            wait_link_up(port)
            m.set("before-save", 1)
            wait_in_sync(master.port, port)
            assert redis.Redis(port=port).save()
            m.incr("after-save")  # applied, but not in the snapshot
            wait_in_sync(master.port, port)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            m.incr("after-save")
            m.set("while-dead", 1)
            proc = start()
            wait_in_sync(master.port, port)
            assert _stats(master.port)["sync_partial_ok"] == 1
            assert _stats(master.port)["sync_full"] == 1
            assert redis.Redis(port=port).get("after-save") == b"2"
            assert same_data(master.port, port, dbs=(0,)) == []
        finally:
            proc.kill()
            proc.wait(10)


def test_evicted_keys_reach_replicas_as_deletes_and_replicas_do_not_evict():
    with vermilion(maxmemory_policy="allkeys-random", **FAST_VERMILION) as master:
        m = redis.Redis(port=master.port)
        _fill(master.port, 200)
        limit = m.info("memory")["used_memory"] + 300_000
        m.config_set("maxmemory", limit)
        with vermilion(replicaof="127.0.0.1 %d" % master.port, maxmemory=limit // 2, maxmemory_policy="allkeys-random") as ours, \
                real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(master.port)) as theirs:
            wait_link_up(ours.port)
            wait_link_up(theirs.port)
            for i in range(3000):
                m.set("new:%d" % i, b"n" * 1000)
            assert _stats(master.port)["evicted_keys"] > 0
            wait_in_sync(master.port, ours.port, theirs.port)
            assert _stats(ours.port)["evicted_keys"] == 0  # over its own maxmemory, yet nothing evicted
            assert redis.Redis(port=ours.port).info("memory")["used_memory"] > limit // 2
            assert same_data(master.port, ours.port, dbs=(0,)) == []
            assert same_data(master.port, theirs.port, dbs=(0,)) == []


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_a_replica_that_stops_reading_a_diskless_payload_times_out(kind):
    """It would hold the payload's child up for ever (and every replica sharing it): after
    repl-timeout without progress it is dropped, and the next replica gets a full sync."""
    import os
    import socket

    with server(kind, repl_timeout=1, repl_diskless_sync_delay=0) as port:
        m = redis.Redis(port=port)
        p = m.pipeline(transaction=False)
        for i in range(200):  # 20 MB that does not compress: more than every buffer holds
            p.set("key:%d" % i, os.urandom(100_000))
        p.execute()
        rep = FakeReplica(port)
        rep.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rep.handshake()
        assert rep.psync_reply().startswith(b"+FULLRESYNC")  # and no more reading
        wait_for(lambda: info(port)["connected_slaves"] == 0, timeout=10, what="the stalled replica dropped")
        with vermilion(replicaof="127.0.0.1 %d" % port) as replica:
            wait_link_up(replica.port)
            assert redis.Redis(port=replica.port).dbsize() == 200
        rep.close()
