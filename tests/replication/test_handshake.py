"""The replica's handshake machine, stepped reply by reply (and byte by byte)."""

from __future__ import annotations

import pytest

from replication import handshake as hs
from replication.handshake import Handshake, command

RID = "f" * 40


def sends(events) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, hs.Send))


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def feed_all(machine: Handshake, data: bytes, bytewise: bool) -> list:
    if not bytewise:
        return machine.receive(data)
    events = []
    for i in range(len(data)):
        events += machine.receive(data[i : i + 1])
    return events


def to_psync(machine: Handshake) -> list:
    machine.start()
    events = machine.receive(b"+PONG\r\n")
    events += machine.receive(b"+OK\r\n+OK\r\n")
    return events


def test_the_bytes_a_replica_sends_are_redis_own():
    m = Handshake(listening_port=6380)
    assert sends(m.start()) == b"*1\r\n$4\r\nPING\r\n"
    ev = m.receive(b"+PONG\r\n")
    assert sends(ev) == (
        b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n"
        b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
    )
    assert m.in_handshake
    ev = m.receive(b"+OK\r\n")
    assert not sends(ev)
    ev = m.receive(b"+OK\r\n")
    assert sends(ev) == b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"
    assert of(ev, hs.Log)[-1].text == "Partial resynchronization not possible (no cached master)"


def test_auth_and_announced_ip_are_pipelined_before_the_replconfs():
    m = Handshake(listening_port=1, announce_ip="10.0.0.1", masteruser="u", masterauth=b"pw")
    m.start()
    out = sends(m.receive(b"-NOAUTH Authentication required.\r\n"))
    assert out == (command("AUTH", "u", b"pw") + command("REPLCONF", "listening-port", "1")
                   + command("REPLCONF", "ip-address", "10.0.0.1") + command("REPLCONF", "capa", "eof", "capa", "psync2"))
    assert not sends(m.receive(b"+OK\r\n+OK\r\n+OK\r\n"))
    assert sends(m.receive(b"+OK\r\n")).startswith(b"*3\r\n$5\r\nPSYNC")


def test_an_auth_error_ends_the_attempt():
    m = Handshake(listening_port=1, masterauth=b"bad")
    m.start()
    m.receive(b"+PONG\r\n")
    ev = m.receive(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    assert of(ev, hs.Failed) and m.state == hs.FAILED
    assert of(ev, hs.Log)[0].text.startswith("Unable to AUTH to MASTER: -WRONGPASS")


def test_replconf_errors_are_only_logged():
    m = Handshake(listening_port=1)
    m.start()
    m.receive(b"+PONG\r\n")
    ev = m.receive(b"-ERR unknown command 'REPLCONF'\r\n-ERR unknown command 'REPLCONF'\r\n")
    assert not of(ev, hs.Failed)
    assert sends(ev).startswith(b"*3\r\n$5\r\nPSYNC")


def test_a_wrong_ping_reply_fails():
    m = Handshake(listening_port=1)
    m.start()
    ev = m.receive(b"-ERR something\r\n")
    assert of(ev, hs.Failed)
    assert of(ev, hs.Log)[0].text == "Error reply to PING from master: '-ERR something'"


@pytest.mark.parametrize("bytewise", [False, True])
def test_a_disk_payload_is_exactly_len_bytes_then_the_stream(bytewise):
    m = Handshake(listening_port=1)
    to_psync(m)
    rdb = b"REDIS0010" + bytes(range(256)) * 3
    stream = command("SELECT", "0") + command("SET", "a", "b")
    ev = feed_all(m, b"\n\n+FULLRESYNC %s 77\r\n\n$%d\r\n" % (RID.encode(), len(rdb)) + rdb + stream, bytewise)
    assert of(ev, hs.FullResync) == [hs.FullResync(RID, 77)]
    assert len(of(ev, hs.Keepalive)) == 3
    assert of(ev, hs.TransferStarted) == [hs.TransferStarted(len(rdb))]
    assert of(ev, hs.Payload) == [hs.Payload(rdb, False)]
    assert b"".join(e.data for e in of(ev, hs.Stream)) == stream
    assert m.state == hs.DONE


@pytest.mark.parametrize("bytewise", [False, True])
def test_an_eof_marked_payload_ends_at_the_mark(bytewise):
    m = Handshake(listening_port=1)
    to_psync(m)
    mark = b"0123456789" * 4
    rdb = b"REDIS0010" + b"x" * 100 + mark[:39]  # almost the mark, inside the data
    ev = feed_all(m, b"\n+FULLRESYNC %s 5\r\n\n\n$EOF:%s\r\n" % (RID.encode(), mark) + rdb + mark, bytewise)
    assert len(of(ev, hs.Keepalive)) == 3  # before +FULLRESYNC and before the payload
    assert of(ev, hs.Payload) == [hs.Payload(rdb, True)]
    assert of(ev, hs.TransferStarted) == [hs.TransferStarted(None)]
    assert not of(ev, hs.Stream)
    assert m.state == hs.DONE


def test_bytes_after_the_mark_are_the_stream():
    m = Handshake(listening_port=1)
    to_psync(m)
    mark = b"m" * 40
    ev = m.receive(b"+FULLRESYNC %s 5\r\n$EOF:%s\r\nREDIS%s*1\r\n$4\r\nping\r\n" % (RID.encode(), mark, mark))
    assert of(ev, hs.Payload) == [hs.Payload(b"REDIS", True)]
    assert of(ev, hs.Stream) == [hs.Stream(b"*1\r\n$4\r\nping\r\n")]


def test_continue_with_and_without_a_new_id():
    m = Handshake(listening_port=1, psync_replid=RID, psync_offset=51)
    ev = to_psync(m)
    assert sends(ev).endswith(command("PSYNC", RID, "51"))
    assert of(ev, hs.Log)[-1].text == "Trying a partial resynchronization (request %s:51)." % RID
    ev = m.receive(b"+CONTINUE " + b"e" * 40 + b"\r\n*1\r\n$4\r\nping\r\n")
    assert of(ev, hs.Continue) == [hs.Continue("e" * 40)]
    assert of(ev, hs.Stream) == [hs.Stream(b"*1\r\n$4\r\nping\r\n")]
    m = Handshake(listening_port=1, psync_replid=RID, psync_offset=51)
    to_psync(m)
    assert of(m.receive(b"+CONTINUE\r\n"), hs.Continue) == [hs.Continue(None)]


def test_a_malformed_fullresync_blanks_the_id():
    m = Handshake(listening_port=1)
    to_psync(m)
    ev = m.receive(b"+FULLRESYNC abc 10\r\n")
    assert of(ev, hs.FullResync) == [hs.FullResync("", -1)]
    assert of(ev, hs.Log)[0].text == "Master replied with wrong +FULLRESYNC syntax."


def test_try_later_errors_and_the_legacy_sync_fallback():
    m = Handshake(listening_port=1)
    to_psync(m)
    ev = m.receive(b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n")
    assert of(ev, hs.Failed)
    m = Handshake(listening_port=1)
    to_psync(m)
    ev = m.receive(b"-ERR unknown command 'PSYNC'\r\n")
    assert sends(ev) == b"SYNC\r\n"
    assert of(ev, hs.FullResync) == [hs.FullResync("", -1)]
    ev = m.receive(b"$3\r\nabc")
    assert of(ev, hs.Payload) == [hs.Payload(b"abc", False)]
    assert m.legacy


def test_an_error_instead_of_the_payload_aborts():
    m = Handshake(listening_port=1)
    to_psync(m)
    ev = m.receive(b"+FULLRESYNC %s 1\r\n-ERR BGSAVE failed, replication can't continue\r\n" % RID.encode())
    assert of(ev, hs.Failed)
    assert of(ev, hs.Log)[-1].text == "MASTER aborted replication with an error: ERR BGSAVE failed, replication can't continue"


def test_a_payload_transfer_reports_its_progress():
    m = Handshake(listening_port=1)
    to_psync(m)
    m.receive(b"+FULLRESYNC %s 1\r\n$100\r\n" % RID.encode())
    m.receive(b"x" * 40)
    assert (m.transfer_size, m.transfer_read) == (100, 40)
