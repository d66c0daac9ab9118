"""The node answers while it loads its dataset at startup, as Redis 7.0 does.

``python -m server`` listens before it reads dump.rdb (or the AOF): commands without the
``loading`` flag get ``-LOADING``, the others (SELECT, INFO...) run, INFO persistence shows
``loading:1`` and the loading_* fields; then the data is served. Every probe runs against
real redis-server 7.0.15 on the same files, and the reply bytes are compared. The probes go
in one pipelined write, so a single server turn answers them all: either every reply is from
the loading state or none is.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
import redis

from tests.persistence.aof_support import spawn, wait_ready
from tests.support.resp import RawClient, encode_command
from tests.support.servers import vermilion

#: Keys in the big dump: most of a second of loading for either server.
BIG = 600_000
#: SET commands appended to the AOF incr file.
AOF_COMMANDS = 300_000

LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"
KINDS = ("redis", "vermilion")


@pytest.fixture(scope="module")
def big_dump(tmp_path_factory):
    """A dump.rdb of BIG keys (DEBUG POPULATE) and one key with a TTL, made by a node."""
    d = tmp_path_factory.mktemp("big-dump")
    with vermilion(dir=str(d)) as node:
        r = redis.Redis(port=node.port)
        r.execute_command("DEBUG", "POPULATE", BIG)
        r.set("marked", "yes", ex=1000)
        r.save()
        r.close()
    return d / "dump.rdb"


def copy_dump(dump, tmp_path, kind: str):
    d = tmp_path / kind / "data"
    d.mkdir(parents=True)
    shutil.copy(dump, d / "dump.rdb")
    return d


def connect_early(sp, timeout: float = 20.0) -> RawClient:
    """A connection made as soon as the server listens (while it loads)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RawClient(sp.port)
        except ConnectionRefusedError:
            assert sp.proc.poll() is None, sp.log()[-3000:]
            assert time.monotonic() < deadline, "%s never listened" % sp.kind
            time.sleep(0.003)


def probe(sp, commands: list[tuple]) -> list[bytes]:
    with connect_early(sp) as c:
        return c.pipeline(commands)


def info_fields(reply: bytes) -> list[tuple[str, str]]:
    body = reply.split(b"\r\n", 1)[1].decode()
    return [tuple(line.split(":", 1)) for line in body.splitlines() if line and not line.startswith("#")]


PROBES = [("GET", "key:7"), ("SET", "a", "b"), ("PING",), ("DBSIZE",), ("SELECT", "1"), ("SELECT", "0"),
          ("CLIENT", "SETNAME", "early"), ("MULTI",), ("EXEC",), ("INFO", "persistence")]


def test_rdb_loading_answers_loading_errors_then_serves_the_data_like_redis(big_dump, tmp_path):
    size = os.path.getsize(big_dump)
    seen = {}
    for kind in KINDS:
        sp = spawn(kind, copy_dump(big_dump, tmp_path, kind))
        try:
            started = int(time.time())
            replies = probe(sp, PROBES)
            wait_ready(sp)
            with RawClient(sp.port) as c:
                after = c.pipeline([("GET", "key:7"), ("DBSIZE",), ("GET", "marked"), ("INFO", "persistence")])
        finally:
            sp.stop()
        assert replies[:4] == [LOADING] * 4, (kind, replies[:4])
        assert replies[4:9] == [b"+OK\r\n"] * 4 + [b"*0\r\n"], (kind, replies[4:9])
        fields = info_fields(replies[9])
        values = dict(fields)
        assert values["loading"] == "1" and values["async_loading"] == "0"
        assert int(values["loading_total_bytes"]) == size
        assert 0 <= int(values["loading_loaded_bytes"]) <= size
        assert abs(int(values["loading_start_time"]) - started) <= 3
        perc = float(values["loading_loaded_perc"])
        assert 0.0 <= perc <= 100.0 and values["loading_loaded_perc"] == "%.2f" % perc
        assert int(values["loading_eta_seconds"]) >= 0
        assert after[:3] == [b"$7\r\nvalue:7\r\n", b":%d\r\n" % (BIG + 1), b"$3\r\nyes\r\n"], (kind, after)
        done = dict(info_fields(after[3]))
        assert done["loading"] == "0" and "loading_total_bytes" not in done
        assert done["rdb_last_load_keys_loaded"] == str(BIG + 1)
        seen[kind] = ([name for name, _ in fields], replies[:9])
    assert seen["vermilion"] == seen["redis"]


@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_stopping_while_loading_exits_at_once_without_saving(big_dump, tmp_path, how):
    """SHUTDOWN (even SAVE) and SIGTERM during loading never write the half-loaded dataset."""
    outcome = {}
    for kind in KINDS:
        d = copy_dump(big_dump, tmp_path, kind)
        before = os.stat(d / "dump.rdb")
        sp = spawn(kind, d, "--save", "1 1")
        try:
            with connect_early(sp) as c:
                assert c.call("GET", "key:1") == LOADING
                if how == "shutdown":
                    c.send(encode_command("SHUTDOWN", "SAVE"))
                    assert c.is_closed()
                else:
                    sp.proc.send_signal(signal.SIGTERM)
            status = sp.proc.wait(10)
        finally:
            sp.stop()
        after = os.stat(d / "dump.rdb")
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns), kind
        assert sorted(os.listdir(d)) == ["dump.rdb"], kind
        assert "DB saved on disk" not in sp.log(), kind
        outcome[kind] = status
    assert outcome["vermilion"] == outcome["redis"] == 0


def aof_dir_with_commands(tmp_path, kind: str):
    """A data directory whose AOF incr file holds AOF_COMMANDS SETs (base: empty dataset)."""
    d = tmp_path / kind / "data"
    d.mkdir(parents=True)
    with vermilion(dir=str(d), appendonly="yes"):
        pass
    incr = [name for name in os.listdir(d / "appendonlydir") if name.endswith(".incr.aof")]
    with open(d / "appendonlydir" / incr[0], "ab") as f:
        f.write(encode_command("SELECT", "0"))
        f.write(b"".join(encode_command("SET", "k%d" % i, "v%d" % i) for i in range(AOF_COMMANDS)))
    return d


def test_aof_replay_answers_loading_errors_then_serves_the_data_like_redis(tmp_path):
    seen = {}
    for kind in KINDS:
        sp = spawn(kind, aof_dir_with_commands(tmp_path, kind), "--appendonly", "yes")
        try:
            replies = probe(sp, [("GET", "k1"), ("EXISTS", "k1"), ("SELECT", "0"), ("INFO", "persistence")])
            wait_ready(sp)
            with RawClient(sp.port) as c:
                after = c.pipeline([("GET", "k12345"), ("DBSIZE",)])
        finally:
            sp.stop()
        values = dict(info_fields(replies[3]))
        assert replies[:3] == [LOADING, LOADING, b"+OK\r\n"], (kind, replies[:3])
        assert values["loading"] == "1" and values["aof_enabled"] == "0", (kind, values)
        assert 0 <= int(values["loading_loaded_bytes"]) <= int(values["loading_total_bytes"])
        assert after == [b"$6\r\nv12345\r\n", b":%d\r\n" % AOF_COMMANDS], (kind, after)
        seen[kind] = [name for name, _ in info_fields(replies[3])]
    assert seen["vermilion"] == seen["redis"]


def test_an_embedded_node_starts_only_once_loaded(big_dump, tmp_path):
    d = copy_dump(big_dump, tmp_path, "embedded")
    with vermilion(dir=str(d)) as node:
        r = redis.Redis(port=node.port)
        assert r.dbsize() == BIG + 1
        assert r.info("persistence")["loading"] == 0
        r.close()


def test_shutdown_while_replaying_the_aof_exits_at_once_like_redis(tmp_path):
    outcome = {}
    for kind in KINDS:
        d = aof_dir_with_commands(tmp_path, kind)
        files = {p.name: p.stat().st_size for p in (d / "appendonlydir").iterdir()}
        sp = spawn(kind, d, "--appendonly", "yes")
        try:
            with connect_early(sp) as c:
                assert c.call("GET", "k1") == LOADING
                c.send(encode_command("SHUTDOWN"))
                assert c.is_closed()
            status = sp.proc.wait(10)
        finally:
            sp.stop()
        assert {p.name: p.stat().st_size for p in (d / "appendonlydir").iterdir()} == files, kind
        assert "Ready to accept connections" not in sp.log(), kind
        outcome[kind] = status
    assert outcome["vermilion"] == outcome["redis"] == 0
