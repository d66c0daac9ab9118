"""FAILOVER: a master hands its role to a replica (pause writes, wait for the replica's ACK,
then ``PSYNC <replid> <offset> FAILOVER`` to it and become its replica).

The protocol-level tests run the same script against real Redis 7.0 and Vermilion masters,
with a hand-driven replica (``FakeReplica``) whose announced listening port is a
``FakeMaster``: the master's demotion connects there, so the exact bytes it sends and what
it does with each answer are observable; the error replies are compared byte for byte.
The end-to-end tests use real pairs: Vermilion with Vermilion, and with real Redis on
either side.
"""

from __future__ import annotations

import threading

import pytest
import redis

from tests.support.resp import RawClient
from tests.support.servers import real_redis, vermilion

from .peers import FakeMaster, FakeReplica
from .support import FAST_REDIS, FAST_VERMILION, KINDS, info, server, wait_for, wait_in_sync, wait_link_up

FAST = dict(repl_diskless_sync_delay=0, repl_diskless_sync="no")


def _state(port: int) -> str:
    return info(port)["master_failover_state"]


def _attach_fake_replica(master_port: int, listening_port: int) -> FakeReplica:
    """A replica that syncs and then never acknowledges anything by itself."""
    rep = FakeReplica(master_port)
    rep.handshake(listening_port=listening_port)
    assert rep.psync_reply().startswith(b"+FULLRESYNC")
    rep.payload()
    wait_for(lambda: info(master_port).get("slave0", {}).get("state") == "online", what="fake replica online")
    return rep


def _write_in_background(port: int, key: str) -> tuple[threading.Thread, dict]:
    """SET from another client (it waits while writes are paused); the reply lands in the dict."""
    out: dict = {}

    def run():
        with RawClient(port) as c:
            out["reply"] = c.call("SET", key, "v")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# -- errors and states, byte for byte against real Redis ---------------------------------------------


def _error_script(port: int, fake_port: int) -> list[bytes]:
    replies = []
    with RawClient(port) as c:
        for args in (
            ("FAILOVER", "ABORT"),
            ("FAILOVER", "ABORT", "x"),
            ("FAILOVER", "TIMEOUT"),
            ("FAILOVER", "TIMEOUT", "0"),
            ("FAILOVER", "TIMEOUT", "-5"),
            ("FAILOVER", "TIMEOUT", "abc"),
            ("FAILOVER", "TIMEOUT", "10", "TIMEOUT", "20"),
            ("FAILOVER", "TO", "h"),
            ("FAILOVER", "TO", "h", "p"),
            ("FAILOVER", "force", "FORCE"),
            ("FAILOVER", "bogus"),
            ("FAILOVER",),  # no replica yet
            ("FAILOVER", "TO", "127.0.0.1", str(fake_port), "FORCE"),
            ("FAILOVER", "FORCE", "TIMEOUT", "100"),
        ):
            replies.append(c.call(*args))
        with FakeMaster() as fm:
            rep = _attach_fake_replica(port, fm.port)
            with rep:
                c.call("SET", "moves-the-offset", "1")  # the replica never acknowledges it
                for args in (
                    ("FAILOVER", "TO", "127.0.0.1", "1"),
                    ("FAILOVER", "TO", "localhost", str(fm.port)),
                    ("FAILOVER", "TO", "127.0.0.1", str(fm.port), "FORCE"),
                    ("FAILOVER", "TIMEOUT", "100", "FORCE"),
                    ("FAILOVER", "TO", "127.0.0.1", str(fm.port)),
                    ("FAILOVER",),
                    ("FAILOVER", "TO", "127.0.0.1", str(fm.port)),
                    ("REPLICAOF", "127.0.0.1", "1"),
                    ("REPLICAOF", "NO", "ONE"),
                ):
                    replies.append(c.call(*args))
                replies.append(_state(port).encode())
                other = FakeReplica(port)
                other.handshake(listening_port=1)
                replies.append(other.psync_reply())
                other.close()
                replies.append(c.call("FAILOVER", "ABORT"))
                replies.append(c.call("FAILOVER", "ABORT"))
                replies.append(_state(port).encode())
                replies.append(c.call("SET", "writes", "again"))
    with redis.Redis(port=port) as r:
        r.replicaof("127.0.0.1", 1)
        with RawClient(port) as c:
            replies.append(c.call("FAILOVER"))
        r.replicaof("no", "one")
    return replies


def test_failover_errors_and_states_match_real_redis():
    with real_redis(*FAST_REDIS) as ref, vermilion(**FAST) as ours:
        expected = _error_script(ref.port, 4)
        got = _error_script(ours.port, 4)
    assert got == expected
    assert b"-ERR FAILOVER target HOST and PORT is not a replica.\r\n" in got
    assert b"-ERR FAILOVER already in progress.\r\n" in got
    assert b"-NOMASTERLINK Can't SYNC while failing over" in got
    assert b"waiting-for-sync" in got


# -- the demotion, as the target sees it ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("answer", ["continue", "reject"])
def test_a_synced_master_demotes_itself_with_psync_failover(kind, answer):
    """After the replica ACKs the whole stream, the master connects to it as a replica and
    asks ``PSYNC <its replid> <offset+1> FAILOVER``. A +CONTINUE ends the failover (the
    paused write then gets READONLY); an error aborts it (the master is a master again and
    the paused write goes through)."""
    with server(kind, **FAST) as port, FakeMaster() as fm:
        rep = _attach_fake_replica(port, fm.port)
        with rep:
            redis.Redis(port=port).set("before", 1)
            assert RawClient(port).call("FAILOVER") == b"+OK\r\n"
            assert _state(port) == "waiting-for-sync"
            t, out = _write_in_background(port, "during")
            t.join(0.3)
            assert "reply" not in out  # writes are paused
            i = info(port)
            replid, offset = i["master_replid"], i["master_repl_offset"]
            rep.ack(offset)
            link = fm.accept(5)
            with link:
                assert link.request() == [b"PING"]
                link.send(b"+PONG\r\n")
                assert link.request()[:2] == [b"REPLCONF", b"listening-port"]
                assert link.request() == [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]
                link.send(b"+OK\r\n+OK\r\n")
                assert link.request() == [b"PSYNC", replid.encode(), b"%d" % (offset + 1), b"FAILOVER"]
                assert info(port)["role"] == "slave"
                assert _state(port) == "failover-in-progress"
                if answer == "continue":
                    link.send(b"+CONTINUE %s\r\n" % (b"f" * 40))
                    t.join(5)
                    assert out["reply"] == b"-READONLY You can't write against a read only replica.\r\n"
                    i = info(port)
                    assert (i["role"], i["master_failover_state"], i["master_link_status"]) == (
                        "slave", "no-failover", "up")
                    assert i["master_port"] == fm.port
                else:
                    link.send(b"-ERR no thanks\r\n")
                    t.join(5)
                    assert out["reply"] == b"+OK\r\n"
                    i = info(port)
                    assert (i["role"], i["master_failover_state"]) == ("master", "no-failover")
                    assert i["master_replid2"] == replid  # back to master: a new history


@pytest.mark.parametrize("kind", KINDS)
def test_failover_timeout_aborts_and_force_goes_on_anyway(kind):
    with server(kind, **FAST) as port, FakeMaster() as fm:
        rep = _attach_fake_replica(port, fm.port)
        with rep:
            c = RawClient(port)
            c.call("SET", "unacked", "1")  # (closed with the test's sockets)
            assert c.call("FAILOVER", "TIMEOUT", "150") == b"+OK\r\n"
            assert _state(port) == "waiting-for-sync"
            wait_for(lambda: _state(port) == "no-failover", timeout=3, what="the timeout")
            assert info(port)["role"] == "master"
            assert c.call("SET", "writable", "again") == b"+OK\r\n"
            assert c.call("FAILOVER", "TO", "127.0.0.1", str(fm.port), "TIMEOUT", "150", "FORCE") == b"+OK\r\n"
            link = fm.accept(5)  # the replica never caught up, and we fail over to it anyway
            with link:
                assert link.request() == [b"PING"]
                assert info(port)["role"] == "slave"
                assert _state(port) == "failover-in-progress"
                assert c.call("FAILOVER", "ABORT") == b"+OK\r\n"
                i = info(port)
                assert (i["role"], i["master_failover_state"]) == ("master", "no-failover")
                assert link.is_closed()


# -- end to end -------------------------------------------------------------------------------------------


def _roles_swapped(old_port: int, new_port: int) -> bool:
    old, new = info(old_port), info(new_port)
    return (old["role"] == "slave" and old["master_port"] == new_port and old["master_link_status"] == "up"
            and new["role"] == "master" and old["master_failover_state"] == "no-failover")


def _failover_and_check(master_port: int, replica_port: int, *args) -> None:
    m = redis.Redis(port=master_port)
    for i in range(50):
        m.set("k%d" % i, i)
    m.rpush("list", *range(20))
    offset = wait_in_sync(master_port, replica_port)
    assert m.execute_command("FAILOVER", *args) == b"OK"
    wait_for(lambda: _roles_swapped(master_port, replica_port), timeout=10, what="roles swapped")
    new = redis.Redis(port=replica_port)
    assert new.get("k49") == b"49" and new.llen("list") == 20  # nothing lost
    assert new.execute_command("ROLE")[0] == b"master"
    assert m.execute_command("ROLE")[0] == b"slave"
    with pytest.raises(redis.exceptions.ReadOnlyError):
        m.set("old-master", 1)
    new.set("after", 1)
    wait_for(lambda: m.get("after") == b"1", what="the new master's write on the old one")
    assert new.info("stats")["sync_full"] == 0  # the old master continued partially
    assert info(master_port)["master_replid2"] == info(replica_port)["master_replid2"]
    assert info(replica_port)["second_repl_offset"] > offset  # (pings may follow the sync)


def test_failover_between_two_vermilion_nodes_swaps_roles_without_losing_writes():
    with vermilion(**FAST_VERMILION) as master:
        with vermilion(replicaof="127.0.0.1 %d" % master.port, **FAST_VERMILION) as replica:
            wait_link_up(replica.port)
            _failover_and_check(master.port, replica.port)


def test_failover_to_a_named_vermilion_replica_among_two():
    with vermilion(**FAST_VERMILION) as master:
        with vermilion(replicaof="127.0.0.1 %d" % master.port, **FAST_VERMILION) as a, \
                vermilion(replicaof="127.0.0.1 %d" % master.port, **FAST_VERMILION) as b:
            wait_link_up(a.port)
            wait_link_up(b.port)
            _failover_and_check(master.port, b.port, "TO", "127.0.0.1", b.port, "TIMEOUT", 5000)
            assert info(a.port)["role"] == "slave"  # untouched: still follows the old master


def test_a_real_redis_replica_takes_over_from_a_vermilion_master():
    with vermilion(**FAST_VERMILION) as master:
        with real_redis(*FAST_REDIS, "--replicaof", "127.0.0.1", str(master.port)) as replica:
            wait_link_up(replica.port)
            _failover_and_check(master.port, replica.port)


def test_a_vermilion_replica_takes_over_from_a_real_redis_master():
    with real_redis(*FAST_REDIS) as master:
        with vermilion(replicaof="127.0.0.1 %d" % master.port, **FAST_VERMILION) as replica:
            wait_link_up(replica.port)
            _failover_and_check(master.port, replica.port)
