"""The replica side on the wire, against real Redis 7.0: a hand-driven master
(tests/replication/peers.py) serves a Redis replica and a Vermilion replica the same bytes,
and what each sends back (handshake, ACKs and their offsets, PSYNC after a reconnect) and
shows (INFO, ROLE, data, errors) is compared."""

from __future__ import annotations

import time

import pytest
import redis

from server import Node
from tests.support.resp import encode_command

from .peers import FakeMaster
from .support import KINDS, server, wait_for

RID = "a" * 40
NEW_RID = "b" * 40


def make_rdb(**keys) -> bytes:
    """An RDB file holding ``keys`` (written by our own writer, which Redis loads)."""
    node = Node(port=0)
    for k, v in keys.items():
        node.dbs[0].data[k.encode()] = v.encode()
    return node.rdb.snapshot_bytes()


RDB = make_rdb(pre="loaded")


def handshake(master) -> tuple:
    """Accept the replica and answer its handshake; returns (peer, what it sent)."""
    p = master.accept()
    sent = [p.request()]
    p.send(b"+PONG\r\n")
    sent += [p.request(), p.request()]
    p.send(b"+OK\r\n+OK\r\n")
    sent.append(p.request())
    return p, sent


def norm_port(sent: list, port: int) -> list:
    return [[b"<port>" if a == str(port).encode() else a for a in args] for args in sent]


def full_sync(p, style: str, offset: int = 100) -> list:
    """+FULLRESYNC (after keepalives) and the payload in ``style``; returns what the replica
    answered right after loading."""
    p.send(b"\n\n+FULLRESYNC %s %d\r\n" % (RID.encode(), offset))
    if style == "disk":
        p.send(b"\n$%d\r\n" % len(RDB) + RDB)
        return []
    mark = b"m" * 40
    p.send(b"$EOF:" + mark + b"\r\n" + RDB + mark)
    return [p.request()]


def replica_of(kind: str, master_port: int, **config):
    return server(kind, replicaof="127.0.0.1 %d" % master_port, repl_timeout=5, **config)


def both(scenario, **config):
    results = {}
    for kind in KINDS:
        with FakeMaster() as fm, replica_of(kind, fm.port, **config) as port:
            results[kind] = scenario(fm, port)
    return results["redis"], results["vermilion"]


@pytest.mark.parametrize("style", ["disk", "eof"])
def test_sync_acks_offsets_and_partial_resync_after_reconnect(style):
    def scenario(fm, port):
        r = redis.Redis(port=port)
        p, sent = handshake(fm)
        out = norm_port(sent, port)
        out.append(full_sync(p, style))
        p.send(encode_command("SELECT", "0") + encode_command("SET", "a", "1") + encode_command("REPLCONF", "GETACK", "*"))
        out.append(p.request())  # the offset before the GETACK
        p.send(encode_command("ping"))
        out.append(p.request())  # the next periodic ACK counts both
        p.send(encode_command("MULTI") + encode_command("SET", "b", "1"))
        time.sleep(0.3)
        i = r.info("replication")
        out.append((i["slave_repl_offset"], i["slave_read_repl_offset"], i["master_repl_offset"]))
        p.send(encode_command("EXEC"))
        wait_for(lambda: r.get("b"))
        i = r.info("replication")
        out.append((i["slave_repl_offset"], i["master_link_status"], r.get("pre"), r.dbsize()))
        out.append(r.execute_command("ROLE")[3:])
        p.close()
        p2, sent = handshake(fm)  # reconnects at once, asking to continue
        out += norm_port(sent, port)
        p2.send(b"+CONTINUE %s\r\n" % NEW_RID.encode() + encode_command("SET", "c", "1"))
        wait_for(lambda: r.get("c"))
        i = r.info("replication")
        out.append((i["master_replid"], i["master_replid2"], i["second_repl_offset"], i["master_repl_offset"]))
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[3] == [b"PSYNC", b"?", b"-1"]
    assert ours[5] == [b"REPLCONF", b"ACK", b"150"]  # 100 + SELECT (23) + SET (27)


def test_replica_refuses_writes_and_serves_or_refuses_stale_reads():
    def scenario(fm, port):
        r = redis.Redis(port=port)
        out = []
        with redis.Redis(port=port) as c:
            for cmd in (("SET", "x", "1"), ("GET", "x"), ("INFO", "server"), ("WAIT", "0", "0")):
                try:
                    reply = c.execute_command(*cmd)
                    out.append(b"ok" if cmd[0] == "INFO" else reply)
                except redis.ResponseError as e:
                    out.append(str(e))
            c.config_set("replica-serve-stale-data", "no")
            for cmd in (("GET", "x"), ("SET", "x", "1"), ("PING",), ("ROLE",), ("CONFIG", "GET", "port")):
                try:
                    c.execute_command(*cmd)
                    out.append("ok")
                except redis.ResponseError as e:
                    out.append(str(e))
            c.config_set("replica-serve-stale-data", "yes")
            c.config_set("replica-read-only", "no")
            out.append(c.set("local", "1"))  # a writable replica's writes stay local
            i = c.info("replication")
            out.append({k: v for k, v in i.items() if k in ("role", "master_link_status", "master_last_io_seconds_ago",
                                                            "master_sync_in_progress", "slave_repl_offset",
                                                            "master_link_down_since_seconds", "slave_read_only")})
            out.append(c.execute_command("ROLE")[3:])
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[0] == "You can't write against a read only replica."
    assert ours[4] == "Link with MASTER is down and replica-serve-stale-data is set to 'no'."


def test_replica_never_expires_keys_itself_but_obeys_the_master_del():
    def scenario(fm, port):
        r = redis.Redis(port=port)
        p, _ = handshake(fm)
        full_sync(p, "disk")
        soon = int(time.time() * 1000) + 300
        p.send(encode_command("SELECT", "0") + encode_command("SET", "e", "5", "PXAT", str(soon))
               + encode_command("SET", "keep", "1"))
        wait_for(lambda: r.get("keep"))
        time.sleep(0.5)
        out = [r.get("e"), r.exists("e"), r.dbsize(), r.ttl("e")]
        p.send(encode_command("INCR", "e"))  # the master's commands see the key
        p.send(encode_command("REPLCONF", "GETACK", "*"))
        out.append(p.request())
        p.send(encode_command("DEL", "e"))
        wait_for(lambda: r.dbsize() == 2)
        out.append(r.dbsize())
        return out

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[:3] == [None, 0, 3]


def test_masterauth_and_announced_address_in_the_handshake():
    def scenario(fm, port):
        p = fm.accept()
        sent = [p.request()]
        p.send(b"-NOAUTH Authentication required.\r\n")
        sent += [p.request(), p.request(), p.request(), p.request()]
        return norm_port(sent, port)

    theirs, ours = both(scenario, masteruser="repl", masterauth="secret", replica_announce_ip="10.9.8.7")
    assert theirs == ours
    assert ours[1] == [b"AUTH", b"repl", b"secret"]
    assert ours[3] == [b"REPLCONF", b"ip-address", b"10.9.8.7"]


def test_a_master_closing_mid_payload_makes_the_replica_start_over():
    def scenario(fm, port):
        r = redis.Redis(port=port)
        p, _ = handshake(fm)
        p.send(b"+FULLRESYNC %s 7\r\n$%d\r\n" % (RID.encode(), len(RDB)) + RDB[:20])
        time.sleep(0.3)
        during = {k: v for k, v in r.info("replication").items()
                  if k.startswith("master_sync") and k != "master_sync_last_io_seconds_ago"}
        role = r.execute_command("ROLE")[3]
        p.close()
        p2, sent = handshake(fm)  # a new attempt, from scratch
        full_sync(p2, "disk", offset=7)
        wait_for(lambda: r.get("pre"))
        return during, role, sent[-1], r.info("replication")["slave_repl_offset"]

    theirs, ours = both(scenario)
    assert theirs == ours
    assert ours[0]["master_sync_in_progress"] == 1 and ours[1] == b"sync"
