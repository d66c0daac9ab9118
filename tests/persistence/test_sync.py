"""The master side of SYNC that redis-cli --rdb uses: REPLCONF replies as Redis gives them,
and an RDB sent as ``$<len>\\r\\n<bytes>`` from a fresh BGSAVE."""

from __future__ import annotations

import subprocess

import pytest
import redis

from server.persistence.rdb import AccessClock, LoadLimits, load
from tests.persistence.support import check_rdb, diff, populate, redis_on, snapshot
from tests.support.resp import RawClient
from tests.support.servers import REDIS_CLI, vermilion


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([REDIS_CLI, *args], capture_output=True, text=True, timeout=60)


def test_redis_cli_rdb_downloads_a_snapshot_redis_can_load(tmp_path):
    (tmp_path / "node").mkdir()
    with vermilion(dir=str(tmp_path / "node")) as node:
        populate(node.port, dbs=(0, 9))
        expected = snapshot(node.port)
        p = cli("-p", str(node.port), "--rdb", str(tmp_path / "out.rdb"))
        assert p.returncode == 0, p.stderr
        assert "SYNC sent to master, writing" in p.stderr and "Transfer finished with success." in p.stderr
        assert redis.Redis(port=node.port).ping()  # the server carries on
    check_rdb(tmp_path / "out.rdb")
    (tmp_path / "out.rdb").rename(tmp_path / "dump.rdb")
    with redis_on(tmp_path) as rp:
        assert not diff(expected, snapshot(rp.port))


def test_redis_cli_functions_rdb_gets_a_snapshot_without_keys(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        redis.Redis(port=node.port).set("k", "v")
        p = cli("-p", str(node.port), "--functions-rdb", str(tmp_path / "fn.rdb"))
        assert p.returncode == 0, p.stderr
    assert "0 keys read" in check_rdb(tmp_path / "fn.rdb")


REPLCONF = [
    ("REPLCONF",), ("REPLCONF", "foo"), ("REPLCONF", "foo", "bar"), ("REPLCONF", "FOO", "bar"),
    ("REPLCONF", "listening-port", "x"), ("REPLCONF", "listening-port", "6380", "capa", "eof", "capa", "psync2"),
    ("REPLCONF", "capa", "zzz", "CAPA", "EOF"), ("REPLCONF", "ip-address", "x" * 300),
    ("REPLCONF", "rdb-only", "2"), ("REPLCONF", "rdb-only", "x"), ("REPLCONF", "rdb-only", "0"),
    ("REPLCONF", "rdb-filter-only", "funcs"), ("REPLCONF", "rdb-filter-only", "'a"),
    ("REPLCONF", "rdb-filter-only", "functions"), ("REPLCONF", "rdb-filter-only", ""),
    ("SYNC", "x"),
]


@pytest.mark.parametrize("cmd", REPLCONF, ids=[" ".join(c)[:40] for c in REPLCONF])
def test_replconf_replies_like_redis(pair, cmd):
    pair.check(*cmd)


def test_replconf_ack_from_a_client_gets_no_reply(pair):
    theirs, ours = pair.raw(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nack\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")
    assert ours == theirs == b"+PONG\r\n"


def _read_transfer(client: RawClient) -> bytes:
    """``$<len>\\r\\n`` then exactly that many bytes."""
    while b"\r\n" not in client.buf:
        client._fill()
    header, _, rest = client.buf.partition(b"\r\n")
    assert header[:1] == b"$"
    n = int(header[1:])
    client.buf = rest
    while len(client.buf) < n:
        client._fill()
    data, client.buf = client.buf[:n], client.buf[n:]
    return data


def _keys_in(rdb: bytes) -> set:
    result = load(rdb, LoadLimits(), dbnum=16, now_ms=0, clock=AccessClock(False, 0, 0))
    return {k for db in result.dbs.values() for k in db.data}


def test_sync_sends_a_snapshot_taken_after_the_request(tmp_path):
    """A BGSAVE already running when SYNC arrives does not serve it: the next one does."""
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        r.mset({"k%d" % i: i for i in range(20)})
        r.config_set("rdb-key-save-delay", 20_000)
        r.bgsave()
        with RawClient(node.port) as c:
            assert c.call("REPLCONF", "rdb-only", "1") == b"+OK\r\n"
            c.send_command("SYNC")
            r.set("written-after-sync", "1")
            r.config_set("rdb-key-save-delay", 0)
            rdb = _read_transfer(c)
            assert c.buf == b"" and c.is_closed()  # no CRLF after the payload; rdb-only: closed
        assert "written-after-sync".encode() in _keys_in(rdb)
        assert r.info("stats")["total_forks"] == 2
