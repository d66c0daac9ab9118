"""SAVE, BGSAVE, save points, MISCONF, DEBUG RELOAD, SHUTDOWN and loading at startup,
each against a node writing into its own directory (and, for replies, beside a real Redis
doing the same)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.persistence.aof_support import log_messages, server
from tests.persistence.support import check_rdb, diff, populate, snapshot
from tests.support.differential import Pair
from tests.support.resp import RawClient
from tests.support.servers import free_port, real_redis, vermilion, wait_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def persistence(r: redis.Redis) -> dict:
    return r.info("persistence")


def bgsave_done(r: redis.Redis) -> bool:
    return persistence(r)["rdb_bgsave_in_progress"] == 0


@pytest.fixture
def twins(tmp_path):
    """A real Redis and a Vermilion node, each saving into a directory of its own."""
    (tmp_path / "redis").mkdir()
    (tmp_path / "ours").mkdir()
    with real_redis("--dir", str(tmp_path / "redis"), "--enable-protected-configs", "yes") as rp, \
            vermilion(dir=str(tmp_path / "ours"), logfile=str(tmp_path / "ours.log"),
                      enable_protected_configs="yes") as node:
        pair = Pair(rp.port, node.port)
        yield pair, redis.Redis(port=rp.port), redis.Redis(port=node.port), tmp_path
        pair.close()


# -- SAVE ---------------------------------------------------------------------------------------


def test_save_writes_the_file_and_resets_the_change_count(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        _save_and_check(redis.Redis(port=node.port), tmp_path)


def _save_and_check(r: redis.Redis, tmp_path: Path) -> None:
    started = r.lastsave()
    r.set("a", "1")
    r.set("b", "2")
    info = persistence(r)
    assert info["rdb_changes_since_last_save"] == 2 and info["rdb_saves"] == 0
    time.sleep(1.01)
    assert r.save() is True
    info = persistence(r)
    assert info["rdb_changes_since_last_save"] == 0 and info["rdb_saves"] == 1
    assert info["rdb_last_save_time"] == int(r.lastsave().timestamp()) > int(started.timestamp())
    assert "2 keys read" in check_rdb(tmp_path / "dump.rdb")
    assert not list(tmp_path.glob("temp-*.rdb"))


def test_dbfilename_and_dir_choose_where_snapshots_go(tmp_path):
    with vermilion(dir=str(tmp_path), dbfilename="other.rdb") as node:
        r = redis.Redis(port=node.port)
        r.set("k", "v")
        r.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.rdb"]
    check_rdb(tmp_path / "other.rdb")


def test_save_replies_like_redis(twins):
    pair, *_ = twins
    pair.check("SET", "k", "v")
    pair.check("SAVE")
    pair.check("BGSAVE", "FOO")
    pair.check("BGSAVE", "SCHEDULE", "NOW")
    pair.check("LASTSAVE", normalize=lambda b: b[:1])
    pair.check("MULTI")
    pair.check("SAVE")
    pair.check("EXEC")


# -- BGSAVE -------------------------------------------------------------------------------------


def test_bgsave_forks_a_child_while_the_server_keeps_serving(twins):
    pair, theirs, ours, tmp_path = twins
    for r in (theirs, ours):
        r.mset({"k%d" % i: i for i in range(40)})
        r.config_set("rdb-key-save-delay", 25_000)  # 40 keys x 25 ms: a 1 s snapshot
    pair.check("BGSAVE")
    for r in (theirs, ours):
        info = persistence(r)
        assert info["rdb_bgsave_in_progress"] == 1 and info["current_save_keys_total"] == 40
    t = time.monotonic()
    assert ours.ping() and time.monotonic() - t < 0.2
    for cmd in (("BGSAVE",), ("BGSAVE", "SCHEDULE"), ("SAVE",), ("SET", "during", "1")):
        pair.check(*cmd)
    for r in (theirs, ours):
        wait_for(lambda: bgsave_done(r))
        info = persistence(r)
        assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_last_bgsave_time_sec"] >= 0
        assert info["rdb_changes_since_last_save"] == 1  # the write made while the child ran
        stats = r.info("stats")
        assert stats["total_forks"] == 1 and stats["latest_fork_usec"] > 0
    assert "40 keys read" in check_rdb(tmp_path / "ours" / "dump.rdb")
    log = (tmp_path / "ours.log").read_text()
    assert re.search(r"\* Background saving started by pid (\d+)", log)
    assert re.search(r"\d+:C .* \* DB saved on disk", log)
    assert "Background saving terminated with success" in log


def test_bgsave_inside_a_transaction_is_scheduled(twins):
    pair, theirs, ours, tmp_path = twins
    pair.check("SET", "k", "v")
    pair.check("MULTI")
    pair.check("BGSAVE")
    pair.check("EXEC")
    for r in (theirs, ours):
        wait_for(lambda: persistence(r)["rdb_saves"] == 1 and bgsave_done(r), timeout=5)
    check_rdb(tmp_path / "ours" / "dump.rdb")


def test_save_points_start_a_bgsave_from_the_cron(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        _check_save_points(redis.Redis(port=node.port), tmp_path)


def _check_save_points(r: redis.Redis, tmp_path: Path) -> None:
    r.config_set("save", "1 2")
    r.set("a", "1")
    time.sleep(1.3)
    assert not (tmp_path / "dump.rdb").exists()  # one change: below the save point
    r.set("b", "2")
    wait_for(lambda: (tmp_path / "dump.rdb").exists() and bgsave_done(r), timeout=5)
    assert persistence(r)["rdb_changes_since_last_save"] == 0
    assert "2 keys read" in check_rdb(tmp_path / "dump.rdb")


# -- MISCONF ------------------------------------------------------------------------------------


def test_a_failed_bgsave_stops_writes_until_a_save_succeeds(twins):
    pair, theirs, ours, tmp_path = twins
    for name, r in (("redis", theirs), ("ours", ours)):
        gone = tmp_path / name / "gone"
        gone.mkdir()
        r.config_set("dir", str(gone))
        r.config_set("save", "3600 1")
        gone.rmdir()
    pair.check("SET", "k", "v")
    pair.check("BGSAVE")
    for r in (theirs, ours):
        wait_for(lambda: bgsave_done(r) and persistence(r)["rdb_last_bgsave_status"] == "err")
    for cmd in (("SET", "k", "w"), ("PING",), ("GET", "k"), ("MULTI",), ("SET", "k", "x"), ("EXEC",),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"), ("SET", "k", "y"),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"), ("SET", "k", "z"),
                ("CONFIG", "SET", "save", ""), ("SET", "k", "z"), ("CONFIG", "SET", "save", "3600 1"),
                ("SAVE",), ("DEL", "k")):
        pair.check(*cmd)
    for name, r in (("redis", theirs), ("ours", ours)):
        r.config_set("dir", str(tmp_path / name))
    pair.check("SAVE")
    pair.check("SET", "k", "back")
    assert persistence(ours)["rdb_last_bgsave_status"] == "ok"
    log = (tmp_path / "ours.log").read_text()
    assert "Failed opening the temp RDB file temp-" in log and "# Background saving error" in log


# -- DEBUG RELOAD -------------------------------------------------------------------------------


def test_debug_reload_keeps_every_key_as_it_was(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        populate(node.port)
        before = snapshot(node.port)
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert not diff(before, snapshot(node.port))
        assert persistence(r)["rdb_last_load_keys_loaded"] == len(before)


def test_debug_reload_options(twins):
    pair, theirs, ours, _ = twins
    for cmd in (("DEBUG", "RELOAD", "NOSAVE"), ("DEBUG", "RELOAD", "FOO"), ("SET", "a", "1"), ("DEBUG", "RELOAD"),
                ("SET", "b", "2"), ("DEBUG", "RELOAD", "NOSAVE"), ("KEYS", "*"), ("SET", "c", "3"),
                ("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"), ("DBSIZE",), ("SET", "a", "changed"),
                ("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"), ("GET", "a"), ("GET", "c")):
        pair.check(*cmd)


# -- SHUTDOWN and startup -----------------------------------------------------------------------


def _shutdown(r: redis.Redis, *flags: str) -> None:
    """SHUTDOWN over a raw connection (redis-py would retry the vanished server)."""
    port = r.connection_pool.connection_kwargs["port"]
    with RawClient(port) as c:
        c.send_command("SHUTDOWN", *flags)
        assert c.is_closed(5)


@pytest.mark.parametrize(
    "save_points, flags, saved",
    [("3600 1", (), True), ("3600 1", ("NOSAVE",), False), ("", (), False), ("", ("SAVE",), True)],
)
def test_shutdown_saves_when_save_points_exist_or_when_asked(tmp_path, save_points, flags, saved):
    with vermilion(dir=str(tmp_path), save=save_points) as node:
        r = redis.Redis(port=node.port)
        r.set("k", "v")
        _shutdown(r, *flags)
        wait_for(lambda: node._stopped is not None and node._stopped.is_set())
    assert (tmp_path / "dump.rdb").exists() == saved
    with vermilion(dir=str(tmp_path)) as node:
        assert redis.Redis(port=node.port).get("k") == (b"v" if saved else None)


def test_shutdown_stops_a_running_bgsave_before_the_final_save(tmp_path):
    log = tmp_path / "log"
    with vermilion(dir=str(tmp_path), logfile=str(log)) as node:
        r = redis.Redis(port=node.port)
        r.mset({"k%d" % i: i for i in range(50)})
        r.config_set("rdb-key-save-delay", 100_000)
        r.bgsave()
        r.config_set("rdb-key-save-delay", 0)
        _shutdown(r, "SAVE")
        wait_for(lambda: node._stopped is not None and node._stopped.is_set())
    text = log.read_text()
    assert "There is a child saving an .rdb. Killing it!" in text
    assert "Saving the final RDB snapshot before exiting." in text
    assert "50 keys read" in check_rdb(tmp_path / "dump.rdb")
    assert not list(tmp_path.glob("temp-*.rdb"))


def _log_messages(text: str) -> list[str]:
    """The message part of the log lines about loading the file."""
    keep = ("Loading RDB", "RDB age", "RDB memory usage", "Done loading RDB", "DB loaded from disk")
    out = []
    for line in text.splitlines():
        message = line.split(" ", 6)[-1] if line[:1].isdigit() else line
        if message.startswith(keep):
            out.append(re.sub(r"[\d.]+ (seconds|Mb)", r"N \1", message))
    return out


def test_startup_loading_logs_what_redis_logs(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        r.set("a", "1")
        r.set("b", "2", px=1)
        time.sleep(0.01)
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r.save()
    with real_redis("--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")) as rp:
        redis.Redis(port=rp.port).ping()
    with vermilion(dir=str(tmp_path), logfile=str(tmp_path / "ours.log")):
        pass
    theirs = _log_messages((tmp_path / "redis.log").read_text())
    assert theirs and _log_messages((tmp_path / "ours.log").read_text()) == theirs


def test_sigterm_saves_when_save_points_exist(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "--port", str(port)], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True)
    try:
        wait_port(port, timeout=20)
        r = redis.Redis(port=port)
        wait_for(lambda: r.ping())
        populate(port, dbs=(0, 2))
        expected = snapshot(port)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Saving the final RDB snapshot before exiting." in out and "DB saved on disk" in out
    check_rdb(tmp_path / "dump.rdb")
    with vermilion(dir=str(tmp_path)) as node:
        assert not diff(expected, snapshot(node.port))


def test_bgsave_waits_behind_another_child_only_when_scheduled(tmp_path):
    """Another subsystem's child (an AOF rewrite) makes BGSAVE refuse, or with SCHEDULE,
    wait for the cron to find no child running."""
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        r.set("k", "v")
        busy = [True]
        node.active_child = lambda: busy[0]
        with pytest.raises(redis.ResponseError, match="^Another child process is active"):
            r.execute_command("BGSAVE")  # redis-py's bgsave() would add SCHEDULE
        with RawClient(node.port) as c:
            assert c.call("BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
        time.sleep(0.3)
        assert persistence(r)["rdb_saves"] == 0
        busy[0] = False
        wait_for(lambda: persistence(r)["rdb_saves"] == 1 and bgsave_done(r), timeout=5)
        check_rdb(tmp_path / "dump.rdb")


def test_sigterm_keeps_serving_when_the_final_save_fails(tmp_path):
    """dump.rdb is a directory, so the final save's rename fails: each server logs Redis 7.0's
    lines, keeps serving, and a second SIGTERM with the save off (CONFIG SET save "") exits."""
    lines = {}
    for kind in ("redis", "vermilion"):
        data = tmp_path / kind
        data.mkdir()
        with server(kind, data, "--save", "3600 1") as sp:
            r = sp.client()
            r.set("k", "v")
            (data / "dump.rdb").mkdir()
            sp.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: any("can't exit" in m for m in log_messages(sp.log())), what="the refusal")
            assert r.get("k") == b"v"
            r.config_set("save", "")
            sp.proc.send_signal(signal.SIGTERM)
            assert sp.proc.wait(10) == 0
            messages = [re.sub(r"temp-\d+", "temp-<pid>", m.split("\n")[0]).replace(str(data), "<dir>")
                        for m in log_messages(sp.log())]
        start = messages.index("Saving the final RDB snapshot before exiting.")
        lines[kind] = messages[start:start + 4]
    assert lines["vermilion"] == lines["redis"]
    assert lines["redis"][2:] == ["Error trying to save the DB, can't exit.",
                                  "Errors trying to shut down the server. Check the logs for more information."]
