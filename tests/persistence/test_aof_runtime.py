"""The AOF while the server runs, step by step beside real Redis 7.0 on the same script: the
files and manifest *during* a BGREWRITEAOF (the new incr file is opened and recorded before
the child forks) and after it; ``CONFIG SET appendonly yes`` (a rewrite first, commands
meanwhile kept in ``temp-appendonly.aof.incr``; scheduled behind a running BGSAVE); and a
SHUTDOWN or SIGTERM while that first rewrite runs, which Redis refuses unless forced;
``CONFIG SET appendonly no`` during a rewrite (two live incr files, loadable by both servers);
``aof-disable-auto-gc``. And the event loop serving while the child writes.

Each server is a subprocess on its own directory; the children are slowed down with
``rdb-key-save-delay`` so the "during" state can be looked at.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
import redis

from tests.persistence.aof_support import check_aof, log_messages, manifest_lines, server, wait_rewrite_done
from tests.persistence.support import diff, snapshot
from tests.support.waiting import wait_for

#: rdb-key-save-delay (µs per key) for a child that must still be running when looked at:
#: with KEYS keys it works for about KEYS * DELAY.
DELAY = 50_000
KEYS = 10


def files(directory: Path) -> list[str]:
    """The names in ``directory`` (temp names with a pid made comparable)."""
    if not directory.exists():
        return []
    return sorted(re.sub(r"-\d+\.", "-<pid>.", p.name) for p in directory.iterdir()
                  if not p.name.endswith((".log", ".stderr")))


def fill(r: redis.Redis) -> None:
    for i in range(KEYS):
        r.set("k%d" % i, i)


def in_progress(r: redis.Redis) -> dict:
    return wait_for(lambda: (lambda i: i if i["aof_rewrite_in_progress"] else None)(r.info("persistence")),
                      what="the rewrite child")


def both(tmp_path, script, *args) -> dict:
    """Run ``script(sp, data_dir)`` against each server on its own directory: {kind: result}."""
    out = {}
    for kind in ("redis", "vermilion"):
        data = tmp_path / kind
        data.mkdir()
        with server(kind, data, *args) as sp:
            out[kind] = script(sp, data)
    return out


def test_bgrewriteaof_records_the_new_incr_file_at_once_and_drops_the_old_ones_after(tmp_path):
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.config_set("rdb-key-save-delay", DELAY)
        r.bgrewriteaof()
        in_progress(r)
        r.set("during", "1")  # goes to the new incr file
        # the child's work in progress is a temp file in dir (its name changes when it is done)
        wait_for(lambda: list(data.glob("temp-rewriteaof-*")), what="the child's temp file")
        during = (manifest_lines(data / "appendonlydir"), files(data / "appendonlydir"))
        wait_rewrite_done(r)
        r.set("after", "1")
        after = (manifest_lines(data / "appendonlydir"), files(data / "appendonlydir"), files(data))
        incr = data / "appendonlydir" / "appendonly.aof.2.incr.aof"
        # (under everysec a write may wait up to 2 s behind a background fsync)
        logged = wait_for(lambda: b"after" in incr.read_bytes(), what="the last write in the new incr file")
        return during, after, logged and b"during" in incr.read_bytes()

    got = both(tmp_path, script, "--appendonly", "yes")
    assert got["vermilion"] == got["redis"]
    during, after, logged = got["redis"]
    assert during[0] == ["file appendonly.aof.1.base.rdb seq 1 type b", "file appendonly.aof.1.incr.aof seq 1 type i",
                         "file appendonly.aof.2.incr.aof seq 2 type i"]
    assert after[0] == ["file appendonly.aof.2.base.rdb seq 2 type b", "file appendonly.aof.2.incr.aof seq 2 type i"]
    assert after[1] == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert after[2] == ["appendonlydir"]  # no temp file left
    assert logged


def test_turning_the_aof_on_keeps_the_writes_made_during_the_first_rewrite(tmp_path):
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.config_set("rdb-key-save-delay", DELAY)
        assert r.config_set("appendonly", "yes") is True
        info = r.info("persistence")
        state = (info["aof_enabled"], info["aof_rewrite_in_progress"])
        r.set("during", "1")
        r.incr("counter")
        during = files(data / "appendonlydir")
        wait_rewrite_done(r)
        r.incr("counter")
        after = (manifest_lines(data / "appendonlydir"), files(data / "appendonlydir"))
        return state, during, after, snapshot(sp.port, encodings=False)

    got = both(tmp_path, script)
    theirs, ours = got["redis"], got["vermilion"]
    assert ours[:3] == theirs[:3]
    assert not diff(theirs[3], ours[3])
    manifest = ["file appendonly.aof.1.base.rdb seq 1 type b", "file appendonly.aof.1.incr.aof seq 1 type i"]
    names = ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    assert theirs[:3] == ((1, 1), ["temp-appendonly.aof.incr"], (manifest, names))
    # what the files hold after a restart: the base, the writes made during the rewrite, the later ones
    for kind in ("redis", "vermilion"):
        with server(kind, tmp_path / kind, "--appendonly", "yes") as sp:
            assert not diff(got[kind][3], snapshot(sp.port, encodings=False))
            assert sp.client().get("counter") == b"2"


def test_turning_the_aof_on_during_a_bgsave_schedules_the_rewrite(tmp_path):
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.config_set("rdb-key-save-delay", DELAY)
        r.bgsave()
        assert r.config_set("appendonly", "yes") is True
        r.config_set("rdb-key-save-delay", 0)  # for the rewrite that forks later
        info = r.info("persistence")
        state = [info[f] for f in ("aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                                   "rdb_bgsave_in_progress")]
        r.set("meanwhile", "1")  # not kept: no child is writing the AOF yet (Redis drops it too)
        info = wait_rewrite_done(r)
        after = [info[f] for f in ("aof_enabled", "aof_rewrites", "aof_last_bgrewrite_status")]
        messages = [m for m in log_messages(sp.log()) if "AOF was enabled" in m]
        return state, after, manifest_lines(data / "appendonlydir"), messages

    got = both(tmp_path, script)
    assert got["vermilion"] == got["redis"]
    state, after, manifest, messages = got["redis"]
    assert state == [1, 0, 1, 1] and after == [1, 1, "ok"]
    assert manifest == ["file appendonly.aof.1.base.rdb seq 1 type b", "file appendonly.aof.1.incr.aof seq 1 type i"]
    assert messages == ["AOF was enabled but there is already another background operation. An AOF background "
                        "was scheduled to start when possible."]


_SHUTDOWN_LINES = re.compile(r"initial AOF|shut down|rewriting the AOF|Killing running AOF")


@pytest.mark.parametrize("how", ["command", "sigterm"])
def test_no_shutdown_while_the_first_aof_is_written_unless_forced(tmp_path, how):
    """Exiting then would leave no AOF with the dataset: SHUTDOWN fails, SIGTERM is ignored
    (with Redis's log lines), SHUTDOWN FORCE exits anyway."""
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.config_set("rdb-key-save-delay", DELAY * 10)  # the child lingers for seconds
        r.config_set("appendonly", "yes")
        in_progress(r)
        out = []
        if how == "command":
            try:
                out.append(r.shutdown())
            except redis.ResponseError as exc:
                out.append(str(exc))
        else:
            sp.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: any("can't exit" in m for m in log_messages(sp.log())), what="the refusal")
            out.append(None)
        out.append(r.ping())
        try:
            r.execute_command("SHUTDOWN", "FORCE")
        except redis.ConnectionError:
            pass
        out.append(sp.proc.wait(10))
        out.append(files(data / "appendonlydir"))
        messages = [m.split("\n")[0] for m in log_messages(sp.log())]  # (not the child's own lines)
        out.append([m for m in messages if _SHUTDOWN_LINES.search(m)])
        return out

    got = both(tmp_path, script)
    theirs = got["redis"]
    assert got["vermilion"][:-1] == theirs[:-1]
    lines = theirs[-1]
    assert lines[:2] == ["Writing initial AOF, can't exit.",
                         "Errors trying to shut down the server. Check the logs for more information."]
    assert "Writing initial AOF. Exit anyway." in lines
    # Vermilion writes the same lines (its "Killing running AOF rewrite child" names another pid)
    strip = [re.sub(r"\d+$", "<pid>", m) for m in got["vermilion"][-1]]
    assert strip == [re.sub(r"\d+$", "<pid>", m) for m in lines]
    if how == "command":
        assert theirs[0] == "Errors trying to SHUTDOWN. Check logs."
    assert theirs[1:3] == [True, 0]


def test_the_event_loop_keeps_serving_while_the_child_rewrites(tmp_path):
    """BGREWRITEAOF answers at once (fork only) and the dataset is written by another
    process: PINGs and writes sent meanwhile are answered promptly, and the server's own
    CPU time over the rewrite is a fraction of it."""
    data = tmp_path / "data"
    data.mkdir()
    with server("vermilion", data, "--appendonly", "yes") as sp:
        r = sp.client()
        r.execute_command("DEBUG", "POPULATE", 8_000)
        r.config_set("rdb-key-save-delay", 20)  # ~1 s of child work or more
        cpu_before = _cpu_seconds(sp.proc.pid)
        started = time.monotonic()
        assert r.bgrewriteaof() is True
        forked_in = time.monotonic() - started
        latencies = []
        while r.info("persistence")["aof_rewrite_in_progress"]:
            t = time.monotonic()
            r.ping()
            r.incr("during")
            latencies.append(time.monotonic() - t)
        elapsed = time.monotonic() - started
        cpu = _cpu_seconds(sp.proc.pid) - cpu_before
        assert wait_rewrite_done(r)["aof_last_bgrewrite_status"] == "ok"
        count = int(r.get("during"))
    print("fork %.3f s, rewrite %.2f s, %d round trips, slowest %.3f s, server CPU %.2f s"
          % (forked_in, elapsed, len(latencies), max(latencies), cpu))
    assert forked_in < 0.5 and elapsed > 0.5
    assert len(latencies) >= 20 and max(latencies) < 0.25, (len(latencies), max(latencies))
    assert cpu < 0.6 * elapsed, "the server used %.2f s of CPU over a %.2f s rewrite" % (cpu, elapsed)
    with server("vermilion", data, "--appendonly", "yes") as sp:
        assert int(sp.client().get("during")) == count and sp.client().dbsize() == 8_001


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (not its children), from /proc."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_turning_the_aof_off_during_a_rewrite_kills_the_child_and_keeps_the_files(tmp_path):
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.config_set("rdb-key-save-delay", DELAY * 10)
        r.bgrewriteaof()
        in_progress(r)
        wait_for(lambda: list(data.glob("temp-rewriteaof-*")), what="the child's temp file")
        assert r.config_set("appendonly", "no") is True
        info = r.info("persistence")
        state = [info[f] for f in ("aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled")]
        r.set("not-logged", "1")
        wait_for(lambda: not list(data.glob("temp-rewriteaof-*")), what="the temp file to go")
        return (state, manifest_lines(data / "appendonlydir"), files(data / "appendonlydir"), files(data),
                b"not-logged" in (data / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes())

    got = both(tmp_path, script, "--appendonly", "yes")
    assert got["vermilion"] == got["redis"]
    state, manifest, _, _, logged = got["redis"]
    assert state == [0, 0, 0] and not logged
    assert manifest == ["file appendonly.aof.1.base.rdb seq 1 type b", "file appendonly.aof.1.incr.aof seq 1 type i",
                        "file appendonly.aof.2.incr.aof seq 2 type i"]
    # two live incr files: redis-check-aof accepts each directory, and each server loads the other's
    for writer, reader in (("vermilion", "redis"), ("redis", "vermilion")):
        manifest_file = tmp_path / writer / "appendonlydir" / "appendonly.aof.manifest"
        assert check_aof(manifest_file).returncode == 0
        with server(reader, tmp_path / writer, "--appendonly", "yes") as sp:
            assert sorted(sp.client().keys()) == sorted(b"k%d" % i for i in range(KEYS))


def test_with_auto_gc_off_the_replaced_files_stay_as_history(tmp_path):
    """In Redis's order: the covered incr files at the head of the history, then the old base."""
    def script(sp, data):
        r = sp.client()
        fill(r)
        r.bgrewriteaof()
        wait_rewrite_done(r)
        r.set("after", "1")
        return manifest_lines(data / "appendonlydir"), files(data / "appendonlydir")

    got = both(tmp_path, script, "--appendonly", "yes", "--aof-disable-auto-gc", "yes")
    assert got["vermilion"] == got["redis"]
    assert got["redis"] == (
        ["file appendonly.aof.2.base.rdb seq 2 type b", "file appendonly.aof.1.incr.aof seq 1 type h",
         "file appendonly.aof.1.base.rdb seq 1 type h", "file appendonly.aof.2.incr.aof seq 2 type i"],
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.2.base.rdb",
         "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"])
