"""Crash tests: ``python -m server`` killed with SIGKILL in the middle of a write load from
several clients, then started again on the same directory.

* ``appendfsync always``: every acknowledged write is there after the restart.
* ``appendfsync everysec``: only writes acknowledged in the last ~2 s may be missing. (A
  SIGKILL keeps the page cache, and the buffer is written before the replies leave, so in
  practice nothing is lost; the gap is measured and printed.)
* RDB only: the dataset is exactly the last completed snapshot.
* A half-written command at the end of the AOF (a torn write) is cut away as Redis does,
  inside a transaction too; a crash during a rewrite, or of the rewrite child, loses nothing.
* A damaged RDB or AOF stops the server at startup with status 1 and Redis's log line, the
  same line real Redis writes for the same file.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.persistence.aof_support import (
    WriteLoad,
    failed_start,
    file_size,
    incr_files,
    log_messages,
    present_keys,
    server,
    spawn,
    wait_ready,
    wait_rewrite_done,
)
from tests.persistence.support import diff, snapshot
from tests.support.waiting import wait_for

#: How long the load runs before the kill, and the acknowledgements it must have reached.
LOAD_SECONDS = 1.5
MIN_ACKS = 300


def crash_under_load(data_dir, *args, clients: int = 4, pipeline: int = 1, before_kill=None):
    """Start Vermilion, run a write load, SIGKILL it mid-load; return (load, kill time)."""
    sp = spawn("vermilion", data_dir, *args)
    wait_ready(sp)
    load = WriteLoad(sp.port, clients=clients, pipeline=pipeline).start()
    try:
        load.wait_acked(MIN_ACKS)
        time.sleep(LOAD_SECONDS)
        if before_kill is not None:
            before_kill(sp)
        killed_at = time.monotonic()
        sp.kill9()
    finally:
        load.stop()
    return load, killed_at, sp


def restart_and_read(data_dir, load, *args) -> tuple[set, str]:
    with server("vermilion", data_dir, *args) as sp:
        present = present_keys(sp.client(), load.sent)
        extra = sp.client().dbsize() - len(present)
    return present, extra, sp.log()


@pytest.mark.parametrize("clients,pipeline", [(4, 1), (3, 16)], ids=["4-clients", "3-clients-pipelined"])
def test_always_keeps_every_acknowledged_write(tmp_path, clients, pipeline):
    data = tmp_path / "data"
    data.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "always")
    load, _, _ = crash_under_load(data, *args, clients=clients, pipeline=pipeline)
    assert len(load.acked) >= MIN_ACKS
    present, extra, log = restart_and_read(data, load, *args)
    lost = set(load.acked) - present
    assert not lost, "%d acknowledged writes lost, e.g. %r" % (len(lost), sorted(lost)[:5])
    assert extra == 0  # nothing that was not sent
    assert "DB loaded from append only file" in log


def test_everysec_loses_at_most_the_last_two_seconds(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "everysec")
    load, killed_at, _ = crash_under_load(data, *args, clients=4)
    present, extra, _ = restart_and_read(data, load, *args)
    lost = {k: load.acked[k] for k in set(load.acked) - present}
    oldest = min(lost.values(), default=killed_at)
    gap = killed_at - oldest
    with capsys.disabled():
        print("\n[everysec crash] acknowledged=%d lost=%d oldest lost ack %.3f s before the kill"
              % (len(load.acked), len(lost), gap))
    assert gap <= 2.5, "writes acknowledged %.2f s before the kill are missing" % gap
    assert extra == 0


def test_rdb_only_restores_exactly_the_last_snapshot(tmp_path):
    """SAVE, more writes, BGSAVE during writes, more writes, SIGKILL: the dataset after the
    restart is the one the last BGSAVE forked with."""
    data = tmp_path / "data"
    data.mkdir()
    sp = spawn("vermilion", data)
    wait_ready(sp)
    r = sp.client()
    try:
        load = WriteLoad(sp.port, clients=3).start()
        load.wait_acked(MIN_ACKS)
        load.stop()
        assert r.save() is True
        load = WriteLoad(sp.port, clients=3).start()  # changes the last snapshot will not hold
        load.wait_acked(MIN_ACKS)
        load.stop()
        expected = snapshot(sp.port, encodings=False)
        r.config_set("rdb-key-save-delay", 50)  # the child runs while new writes arrive
        assert r.bgsave() is True
        load = WriteLoad(sp.port, clients=3).start()
        wait_for(lambda: not r.info("persistence")["rdb_bgsave_in_progress"], 30, what="BGSAVE")
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        load.wait_acked(len(load.acked) + 100)
        sp.kill9()
        load.stop()
    finally:
        sp.kill9()
    with server("vermilion", data) as sp:
        assert not diff(expected, snapshot(sp.port, encodings=False))


def test_a_torn_write_at_the_end_of_the_aof_is_cut_away(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "always")
    load, _, _ = crash_under_load(data, *args, clients=2)
    incr = incr_files(data / "appendonlydir")[-1]
    whole = file_size(incr)
    with open(incr, "ab") as f:  # what a crash in the middle of a write(2) leaves
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$10\r\n01234")
    present, extra, log = restart_and_read(data, load, *args)
    assert not set(load.acked) - present and extra == 0
    messages = log_messages(log)
    assert "!!! Warning: short read while loading the AOF file %s!!!" % incr.name in messages
    assert "!!! Truncating the AOF %s at offset %d !!!" % (incr.name, whole) in messages
    assert "AOF %s loaded anyway because aof-load-truncated is enabled" % incr.name in messages


def test_a_torn_transaction_is_rolled_back(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    args = ("--appendonly", "yes")
    with server("vermilion", data, *args) as sp:
        r = sp.client()
        r.set("before", 1)
        p = r.pipeline(transaction=True)
        p.set("in-txn", 1).incr("counter").execute()
    sp.kill9()
    incr = incr_files(data / "appendonlydir")[-1]
    whole = file_size(incr)
    with open(incr, "ab") as f:
        f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*1\r\n$4\r\nEX")
    with server("vermilion", data, *args) as sp:
        r = sp.client()
        assert (r.get("before"), r.get("in-txn"), r.get("counter"), r.exists("x")) == (b"1", b"1", b"1", 0)
        log = log_messages(sp.log())
    assert "Revert incomplete MULTI/EXEC transaction in AOF file %s" % incr.name in log
    assert file_size(incr) >= whole  # cut back to the end of the last EXEC (then appended to)


def test_a_crash_during_a_rewrite_loses_nothing(tmp_path):
    """The manifest names the new incr file as soon as the rewrite starts; the half-written
    base of the dead child is a temp file that is never read."""
    data = tmp_path / "data"
    data.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "always")

    def start_slow_rewrite(sp):
        r = sp.client()
        r.config_set("rdb-key-save-delay", 200)
        assert r.bgrewriteaof() is True
        wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"], what="the rewrite child")
        time.sleep(0.3)

    load, _, sp = crash_under_load(data, *args, clients=3, before_kill=start_slow_rewrite)
    time.sleep(0.2)
    present, extra, _ = restart_and_read(data, load, *args)
    assert not set(load.acked) - present and extra == 0
    for leftover in data.glob("temp-rewriteaof-*"):  # the orphaned child's work, if any
        leftover.unlink()


def test_a_killed_rewrite_child_is_an_error_but_no_loss(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with server("vermilion", data, "--appendonly", "yes") as sp:
        r = sp.client()
        for i in range(200):
            r.set("k%d" % i, i)
        r.config_set("rdb-key-save-delay", 100_000)
        r.bgrewriteaof()
        pid = wait_for(lambda: _rewrite_child(sp), what="the rewrite child")
        os.kill(pid, signal.SIGKILL)
        info = wait_for(lambda: (lambda i: i if not i["aof_rewrite_in_progress"] else None)(
            r.info("persistence")), what="the child to be reaped")
        assert info["aof_last_bgrewrite_status"] == "err"
        assert info["aof_rewrites_consecutive_failures"] == 1
        r.set("after", "x")
        r.config_set("rdb-key-save-delay", 0)
        r.bgrewriteaof()
        assert wait_rewrite_done(r)["aof_last_bgrewrite_status"] == "ok"
        expected = snapshot(sp.port, encodings=False)
    assert "Background AOF rewrite terminated by signal 9" in log_messages(sp.log())
    with server("vermilion", data, "--appendonly", "yes") as sp:
        assert not diff(expected, snapshot(sp.port, encodings=False))


def _rewrite_child(sp) -> int | None:
    for line in log_messages(sp.log()):
        if line.startswith("Background append only file rewriting started by pid "):
            return int(line.rsplit(" ", 1)[1])
    return None


# -- damaged files at startup ----------------------------------------------------------------------------


def _damaged_startup(tmp_path, kind: str, damage) -> dict:
    """Write a dataset with real Redis, damage the files with ``damage(data_dir)``, then start
    each server on its own copy: {kind: (status, log messages)}."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    args = ("--appendonly", "yes") if kind == "aof" else ()
    with server("redis", src, *args) as sp:
        r = sp.client()
        for i in range(100):
            r.set("key:%d" % i, "value:%d" % i)
            r.rpush("list", i)
        if kind == "rdb":
            r.save()
    damage(src)
    out = {}
    for who in ("redis", "vermilion"):
        d = tmp_path / who
        shutil.copytree(src, d)
        status, log = failed_start(who, d, *args)
        out[who] = (status, log_messages(log))
    return out


@pytest.mark.parametrize("where", ["middle", "checksum"])
def test_a_damaged_dump_rdb_stops_the_server(tmp_path, where):
    def damage(d):
        path = d / "dump.rdb"
        data = bytearray(path.read_bytes())
        if where == "middle":
            del data[len(data) // 2 :]
        else:
            data[-1] ^= 0xFF
        path.write_bytes(bytes(data))

    got = _damaged_startup(tmp_path, "rdb", damage)
    assert got["redis"][0] == got["vermilion"][0] == 1
    key = "Short read or OOM loading DB" if where == "middle" else "Wrong RDB checksum expected"
    assert any(key in line for line in got["vermilion"][1]), got["vermilion"][1][-5:]
    assert any("Internal error in RDB reading offset" in line for line in got["redis"][1])
    assert any("Internal error in RDB reading offset" in line for line in got["vermilion"][1])


@pytest.mark.parametrize("damage_kind", ["garbage-in-the-middle", "truncated-not-last", "missing-file"])
def test_a_damaged_aof_stops_the_server_with_redis_reason(tmp_path, damage_kind):
    def damage(d):
        aof = d / "appendonlydir"
        incr = incr_files(aof)[-1]
        data = incr.read_bytes()
        if damage_kind == "garbage-in-the-middle":
            incr.write_bytes(data[: len(data) // 2] + b"\r\n!garbage!\r\n" + data[len(data) // 2 :])
        elif damage_kind == "truncated-not-last":
            incr.write_bytes(data[:-5])
            (aof / "appendonly.aof.2.incr.aof").write_bytes(b"*1\r\n$4\r\nPING\r\n")
            with open(aof / "appendonly.aof.manifest", "a") as f:
                f.write("file appendonly.aof.2.incr.aof seq 2 type i\n")
        else:
            incr.unlink()

    got = _damaged_startup(tmp_path, "aof", damage)
    assert got["redis"][0] == got["vermilion"][0] == 1
    reasons = {
        "garbage-in-the-middle": "Bad file format reading the append only file",
        "truncated-not-last": "Fatal error: the truncated file is not the last file",
        "missing-file": "Unable to obtain the AOF file",
    }
    expected = [line for line in got["redis"][1] if reasons[damage_kind] in line]
    assert expected
    assert expected[0] in got["vermilion"][1]
