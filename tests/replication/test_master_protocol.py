"""The master side on the wire, byte for byte, against real Redis 7.0: a hand-driven replica
(tests/replication/peers.py) talks to each server and the transcripts are compared after
blanking what is random (replication IDs, EOF marks, RDB bytes, absolute times)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import redis

from tests.support.resp import RawClient

from .peers import FakeReplica
from .support import KINDS, server, wait_for

FAST = dict(repl_diskless_sync_delay=0)
_ID = re.compile(rb"[0-9a-f]{40}")
_MS = re.compile(rb"\$13\r\n1[0-9]{12}\r\n")


def norm(data: bytes) -> bytes:
    return _MS.sub(b"$13\r\n<ms>\r\n", _ID.sub(b"<id>", data))


def synced(port: int, **handshake) -> FakeReplica:
    """A replica that went through a full sync and ACKed: the stream flows."""
    rep = FakeReplica(port)
    rep.handshake(**handshake)
    line = rep.psync_reply()
    assert line.startswith(b"+FULLRESYNC ")
    rep.payload()
    # Redis ignores an ACK that beats its noticing the end of the transfer (a real replica
    # ACKs again a second later): give it that moment.
    time.sleep(0.2)
    rep.ack(0)
    return rep


def both(scenario, **config):
    """Run ``scenario(port)`` against real Redis and Vermilion; return both results."""
    results = {}
    for kind in KINDS:
        with server(kind, **{**FAST, **config}) as port:
            results[kind] = scenario(port)
    return results["redis"], results["vermilion"]


def test_full_sync_handshake_diskless_payload_and_the_stream_after_the_ack():
    def scenario(port):
        r = redis.Redis(port=port)
        r.set("a", "1")
        rep = FakeReplica(port)
        out = []
        rep.command("PING")
        out.append(rep.line())
        rep.send(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n7777\r\n"
                 b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n")
        out += [rep.line(), rep.line()]
        out.append(rep.psync_reply())
        rdb, kind = rep.payload()
        out.append(kind.encode())
        assert rdb.startswith(b"REDIS0010") and b"repl-id" in rdb and b"repl-offset" in rdb
        r.set("b", "2")
        out.append(rep.idle(0.3))  # nothing before our first ACK
        rep.ack(0)
        out.append(rep.idle(0.3))
        slave0 = r.info("replication")["slave0"]
        out.append(repr({k: v for k, v in slave0.items() if k != "lag"}).encode())  # lag: whole seconds
        return norm(b"|".join(out))

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours.startswith(b"+PONG|+OK|+OK|+FULLRESYNC <id> 0|eof||*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET")


def test_sync_without_capa_gets_a_disk_payload_without_fullresync():
    def scenario(port):
        redis.Redis(port=port).set("a", "1")
        rep = FakeReplica(port)
        rep.command("SYNC")
        rdb, kind = rep.payload()
        redis.Redis(port=port).set("b", "2")
        return kind, rep.keepalives, norm(rep.idle(0.5))

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[0] == "disk"


def test_partial_resync_answers_and_backlog_bytes():
    def scenario(port):
        r = redis.Redis(port=port)
        rep = synced(port)
        r.set("x", "1")
        r.incr("n")
        rep.idle(0.3)
        i = r.info("replication")
        replid, end = i["master_replid"], i["master_repl_offset"]
        rep.close()
        out = []
        for offset, capa in ((1, (b"eof", b"psync2")), (end + 1, (b"eof", b"psync2")), (20, (b"eof",))):
            rep = FakeReplica(port)
            rep.handshake(capa=capa)
            out.append(rep.psync_reply(replid, offset))
            out.append(rep.idle(0.3))
            rep.close()
        rep = FakeReplica(port)
        rep.handshake()
        out.append(rep.psync_reply(replid, end + 2))
        rep.close()
        time.sleep(0.2)
        stats = r.info("stats")
        out.append(b"%d %d %d" % (stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"]))
        return norm(b"|".join(out))

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours.startswith(b"+CONTINUE <id>|*2\r\n$6\r\nSELECT")


def test_refusals_on_the_replication_commands():
    def scenario(port):
        out = []
        with RawClient(port) as c:
            for cmd in (("PSYNC", "?", "abc"), ("PSYNC", "x", "1", "failover"), ("PSYNC",), ("SYNC", "x"),
                        ("WAIT", "x", "0"),
                        ("WAIT", "1", "x"), ("WAIT", "1", "-1"), ("WAIT", "1", "1.5"), ("WAIT", "0", "0"),
                        ("REPLICAOF", "a", "x"), ("REPLICAOF", "a", "70000"), ("REPLICAOF", "no", "two"),
                        ("REPLICAOF", "NO", "ONE"), ("SLAVEOF", "no", "one"), ("ROLE",), ("ROLE", "x")):
                out.append(c.call(*cmd))
        with RawClient(port) as c:
            c.send(b"*1\r\n$4\r\nPING\r\n*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
            out.append(c.read_reply() + c.read_reply())
        with RawClient(port) as c:  # ACK and GETACK from a client that is no replica: no reply
            c.send(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nack\r\n$2\r\n10\r\n"
                   b"*3\r\n$8\r\nREPLCONF\r\n$6\r\ngetack\r\n$1\r\n*\r\n*1\r\n$4\r\nPING\r\n")
            out.append(c.read_reply())
        return norm(b"|".join(out))

    theirs, ours = both(scenario)
    assert theirs == ours


def test_a_replica_that_sends_a_command_with_a_reply_is_disconnected():
    def scenario(port):
        rep = synced(port)
        rep.command("PING")
        return rep.is_closed(2.0), rep.buf

    assert both(scenario) == ((True, b""), (True, b""))


def test_the_stream_of_rewritten_writes():
    """What replicas receive for writes that Redis propagates differently than they ran."""

    def scenario(port):
        r = redis.Redis(port=port)
        r1 = redis.Redis(port=port, db=1)
        rep = synced(port)
        r.set("k", "v", ex=100)
        r.expire("k", 200)
        r.set("k2", "v", px=5000, get=True)
        r.getex("k2", persist=True)
        r.incrbyfloat("f", "1.5")
        r.sadd("s", "a")
        r.spop("s")
        r1.set("in1", "x")
        p = r.pipeline(transaction=True)
        p.set("t", 1)
        p.incr("t")
        p.execute()
        r.eval("redis.call('set', 'e', 1); redis.call('incr', 'e')", 0)
        r.set("gone", 1, px=1)
        time.sleep(0.05)
        r.get("gone")  # lazy expiry: DEL
        r.expire("k", -1)  # a TTL in the past: DEL
        r.flushall()
        return norm(rep.idle(0.5) + rep.idle(0.3))

    theirs, ours = both(scenario)
    assert theirs == ours
    assert b"PXAT" in ours and b"PEXPIREAT" in ours and b"MULTI" in ours


def test_wait_feeds_getack_and_counts_acknowledged_replicas():
    def scenario(port):
        r = redis.Redis(port=port)
        rep = synced(port)
        r.set("a", 1)
        off = r.info("replication")["master_repl_offset"]
        out = []
        with RawClient(port) as c:
            out.append(c.call("WAIT", "1", "0"))  # this client wrote nothing: acked already
            c.call("SET", "b", "2")
            c.send_command("WAIT", "1", "0")
            out.append(norm(rep.idle(0.3)))
            rep.ack(off)  # not far enough for the SET b
            out.append(rep.idle(0.2))
            rep.ack(10_000)
            out.append(c.read_reply())
            c.send_command("WAIT", "1", "200")  # WAIT itself counts as this client's last command
            out.append(c.read_reply())
            out.append(c.call("WAIT", "2", "100"))
            out.append(c.call("MULTI") + c.call("WAIT", "5", "0") + c.call("EXEC"))
        out.append(norm(redis.Redis(port=port).execute_command("ROLE").__repr__().encode()))
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[2] == b"" and ours[3] == b":1\r\n"


def test_keepalives_while_the_diskless_delay_runs_and_pings_in_the_stream():
    def scenario(port):
        rep = FakeReplica(port)
        rep.handshake()
        line = rep.psync_reply()
        keepalives = rep.keepalives
        rep.payload()
        time.sleep(0.2)
        rep.ack(0)
        ping = rep.request()
        return line[:12], keepalives >= 1, ping

    theirs, ours = both(scenario, repl_diskless_sync_delay=2, repl_ping_replica_period=1)
    assert theirs == ours == (b"+FULLRESYNC ", True, [b"ping"])


def test_info_and_role_while_replicas_sync():
    def scenario(port):
        r = redis.Redis(port=port)
        rep = FakeReplica(port)
        rep.handshake(listening_port=4444, ip=b"10.1.2.3")
        rep.command("PSYNC", "?", "-1")
        time.sleep(0.3)
        waiting = r.info("replication")["slave0"]
        rep.reply_line()
        rep.payload()
        # Redis notices the end of the child in its cron, a moment after the last byte.
        wait_for(lambda: r.info("replication")["slave0"]["state"] == "online")
        online = r.info("replication")
        role = r.execute_command("ROLE")
        rep.ack(0)
        wait_for(lambda: r.execute_command("ROLE")[2])
        online["slave0"].pop("lag")  # whole seconds: either side of a tick
        return waiting, {k: v for k, v in online.items() if "replid" not in k}, role, r.execute_command("ROLE")[2]

    theirs, ours = both(scenario, repl_diskless_sync_delay=1)
    assert theirs == ours
    assert ours[0]["state"] == "wait_bgsave" and ours[0]["ip"] == "10.1.2.3"


def test_lazy_expiry_deletes_go_out_with_the_command_that_met_them():
    """Everything one command propagates is one unit: the DELs of the expired keys it met
    and its own effect, wrapped in MULTI/EXEC when there is more than one (a read meeting
    two expired keys, a write meeting one, a transaction or script meeting one)."""

    def expired(r, *keys):
        for k in keys:
            r.set(k, 1, px=1)
        time.sleep(0.01)

    def scenario(port):
        r = redis.Redis(port=port)
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # only lazy expiry, deterministic
        rep = synced(port)
        out = []
        for step in (
            lambda: r.get("a"),
            lambda: r.mget("a", "b"),
            lambda: r.incr("a"),
            lambda: r.set("a", 5),
            lambda: r.delete("a", "b", "c"),
            lambda: r.pipeline(transaction=True).incr("a").incr("z").execute(),
            lambda: r.eval("return redis.call('incr', KEYS[1])", 1, "a"),
        ):
            expired(r, "a", "b")
            rep.idle(0.05)
            step()
            out.append(norm(rep.idle(0.2)))
        r.config_set("lazyfree-lazy-expire", "yes")
        expired(r, "a")
        rep.idle(0.1)
        r.get("a")
        out.append(norm(rep.idle(0.2)))
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[0] == b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"
    assert ours[2].startswith(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n*3\r\n$6\r\nINCRBY\r\n")
    assert ours[-1] == b"*2\r\n$6\r\nUNLINK\r\n$1\r\na\r\n"


def test_a_diskless_sync_starts_before_the_delay_once_max_replicas_wait():
    def scenario(port):
        r = redis.Redis(port=port)
        forks = r.info("stats")["total_forks"]
        t0 = time.monotonic()
        reps = [FakeReplica(port) for _ in range(2)]
        for rep in reps:
            rep.handshake()
            rep.command("PSYNC", "?", "-1")
        lines = [rep.reply_line()[:12] for rep in reps]
        kinds = [rep.payload()[1] for rep in reps]
        early = time.monotonic() - t0 < 5
        stats = r.info("stats")
        for rep in reps:
            rep.close()
        return lines, kinds, early, stats["total_forks"] - forks, stats["sync_full"]

    theirs, ours = both(scenario, repl_diskless_sync_delay=30, repl_diskless_sync_max_replicas=2)
    assert theirs == ours == ([b"+FULLRESYNC "] * 2, ["eof", "eof"], True, 1, 2)


def test_acks_in_the_7_2_form_and_malformed_acks_are_taken_silently():
    """A 7.2 replica with AOF sends ``REPLCONF ACK <off> FACK <off>``: the master takes the
    offset and answers nothing (an answer would cost the replica its link); a non-numeric
    offset is ignored, and an older offset never moves the acknowledged one back."""

    def scenario(port):
        r = redis.Redis(port=port)
        rep = synced(port)
        r.set("a", 1)
        rep.idle(0.2)
        off = r.info("replication")["master_repl_offset"]
        rep.command("REPLCONF", "ACK", str(off), "FACK", "3")
        wait_for(lambda: r.info("replication")["slave0"]["offset"] == off)
        rep.command("REPLCONF", "ACK", "abc")
        rep.command("REPLCONF", "ACK", "5")
        rep.command("REPLCONF", "GETACK", "*")  # only a master may ask: no reply either
        still_open = not rep.is_closed(0.3)
        return still_open, r.info("replication")["slave0"]["offset"] == off, rep.buf

    theirs, ours = both(scenario)
    assert theirs == ours == (True, True, b"")
