"""SHUTDOWN's sequence against real Redis 7.0: log order, a failed final save, the wait for
lagging replicas (shutdown-timeout) and SHUTDOWN ABORT.

Each test runs the same steps on Debian's redis-server and on a Vermilion node and compares
the replies and the log lines from "User requested shutdown..." on (pids and paths masked).
A lagging replica is a real redis-server stopped with SIGSTOP.
"""

from __future__ import annotations

import re
import signal
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.persistence.aof_support import server
from tests.support.resp import RawClient
from tests.support.servers import real_redis, vermilion

BYE = "# Redis is now ready to exit, bye bye..."
SHUTDOWN_FAILED = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"


def shutdown_messages(text: str, workdir, start: str = "# User requested shutdown...") -> list[str]:
    """Level mark and message of each log line from the last ``start`` line to "bye bye"
    (Redis exits there; our node may still log closing its links), pids and paths masked."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 5)
        if parts[0].endswith(":signal-handler"):  # "<pid>:signal-handler (<time>) <message>"
            out.append("# " + line.split(" ", 2)[2])
        elif len(parts) == 6 and parts[0][:1].isdigit():
            out.append(parts[5])
    starts = [i for i, m in enumerate(out) if m == start]
    masked = out[starts[-1]:] if starts else []
    if BYE in masked:
        masked = masked[:masked.index(BYE) + 1]
    return [re.sub(r"temp-\d+\.rdb", "temp-<pid>.rdb", m).replace(str(workdir), "<dir>") for m in masked]


def wait_exit(port: int, timeout: float = 10.0) -> None:
    """Until nothing listens on ``port`` any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError("the server is still running")


class Server:
    """A master under test: its port, log file and data directory."""

    def __init__(self, port: int, log: Path, workdir: Path):
        self.port = port
        self.log = log
        self.workdir = workdir

    def messages(self, start: str = "# User requested shutdown...") -> list[str]:
        return shutdown_messages(self.log.read_text(), self.workdir, start)

    def wait_exit(self) -> None:
        wait_exit(self.port)


@contextmanager
def redis_master(**config):
    args = []
    for name, value in config.items():
        args += ["--" + name.replace("_", "-"), str(value)]
    with real_redis(*args) as rp:
        yield Server(rp.port, Path(rp.workdir) / "redis.log", Path(rp.workdir))


@contextmanager
def vermilion_master(tmp_path: Path, **config):
    workdir = tmp_path / "vermilion"
    workdir.mkdir()
    log = workdir / "vermilion.log"
    with vermilion(dir=str(workdir), logfile=str(log), **config) as node:
        yield Server(node.port, log, workdir)


def both(tmp_path, **config):
    """The same master, real and ours: (name, context manager) pairs."""
    return [("redis", redis_master(**config)), ("vermilion", vermilion_master(tmp_path, **config))]


def _flush_log(server: Server) -> None:
    time.sleep(0.05)  # our logger writes on the node's thread


# -- log order and the final save ----------------------------------------------------------------


def test_shutdown_logs_the_user_request_before_the_final_save(tmp_path):
    logs = {}
    for name, master in both(tmp_path, save="3600 1"):
        with master as m:
            redis.Redis(port=m.port).set("k", "v")
            with RawClient(m.port) as c:
                c.send_command("SHUTDOWN")
                assert c.is_closed(5)
            m.wait_exit()
            _flush_log(m)
            logs[name] = m.messages()
    assert logs["redis"] == [
        "# User requested shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "* DB saved on disk",
        "# Redis is now ready to exit, bye bye...",
    ]
    assert logs["vermilion"] == logs["redis"]


def test_a_failed_final_save_keeps_the_server_running_unless_forced(tmp_path):
    logs = {}
    for name, master in both(tmp_path, save="3600 1"):
        with master as m:
            (m.workdir / "dump.rdb").mkdir()  # the rename over dump.rdb fails
            r = redis.Redis(port=m.port)
            r.set("k", "v")
            with RawClient(m.port) as c:
                c.send_command("SHUTDOWN")
                assert c.read_reply() == SHUTDOWN_FAILED
                assert r.ping()
                _flush_log(m)
                refused = m.messages()
                c.send_command("SHUTDOWN", "FORCE")
                assert c.is_closed(5)
            m.wait_exit()
            _flush_log(m)
            logs[name] = (refused, m.messages())
    refused, forced = logs["redis"]
    assert refused[-2:] == [
        "# Error trying to save the DB, can't exit.",
        "# Errors trying to shut down the server. Check the logs for more information.",
    ]
    assert forced[-2:] == ["# Error trying to save the DB. Exit anyway.", "# Redis is now ready to exit, bye bye..."]
    assert logs["vermilion"] == logs["redis"]


# -- waiting for lagging replicas -------------------------------------------------------------------


@contextmanager
def lagging_replica(master: Server):
    """A real redis-server replicating ``master``, in sync, then stopped (SIGSTOP) after one
    more write, so it lags behind the master's offset."""
    with real_redis("--replicaof", "127.0.0.1", str(master.port)) as rp:
        r = redis.Redis(port=master.port)
        r.set("synced", "1")
        deadline = time.monotonic() + 10
        while r.wait(1, 100) < 1:
            assert time.monotonic() < deadline, "the replica never synchronised"
        rp.proc.send_signal(signal.SIGSTOP)
        try:
            r.set("lagging", "1")
            yield rp
        finally:
            if rp.proc.poll() is None:
                rp.proc.send_signal(signal.SIGCONT)


def _blocked(c: RawClient, seconds: float = 0.3) -> bool:
    c.sock.settimeout(seconds)
    try:
        return not c.sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    finally:
        c.sock.settimeout(10)


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_shutdown_waits_for_a_lagging_replica_and_abort_cancels_it(tmp_path, kind):
    config = dict(repl_diskless_sync_delay=0, shutdown_timeout=1)
    master = redis_master(**config) if kind == "redis" else vermilion_master(tmp_path, **config)
    with master as m, lagging_replica(m) as replica:
        with RawClient(m.port) as waiting, RawClient(m.port) as writer, RawClient(m.port) as other:
            waiting.send_command("SHUTDOWN")
            assert _blocked(waiting)
            writer.send_command("SET", "during", "shutdown")
            assert _blocked(writer, 0.1)  # writes are paused
            other.send_command("GET", "synced")
            assert other.read_reply() == b"$1\r\n1\r\n"  # reads are not
            other.send_command("SHUTDOWN", "ABORT")
            assert other.read_reply() == b"+OK\r\n"
            assert waiting.read_reply() == SHUTDOWN_FAILED
            assert writer.read_reply() == b"+OK\r\n"
            other.send_command("SHUTDOWN", "ABORT")
            assert other.read_reply() == b"-ERR No shutdown in progress.\r\n"
            _flush_log(m)
            assert m.messages() == [
                "# User requested shutdown...",
                "* Waiting for replicas before shutting down.",
                "* Shutdown manually aborted.",
            ]
        # Again, until shutdown-timeout (1 s) runs out: the replica is reported lagging. (A new
        # connection: Redis 7.0.15 fails an assertion when the aborted one sends a command.)
        with RawClient(m.port) as waiting:
            started = time.monotonic()
            waiting.send_command("SHUTDOWN")
            assert waiting.is_closed(5)
            m.wait_exit()
            assert time.monotonic() - started >= 0.9
        _flush_log(m)
        lines = m.messages()
        assert lines[:2] == ["# User requested shutdown...", "* Waiting for replicas before shutting down."]
        name = r"127\.0\.0\.1:%d" % replica.port
        assert re.fullmatch(r"# Lagging replica %s reported offset \d+ behind master, lag=\d+, state=online\." % name,
                            lines[2]), lines
        assert lines[3:] == ["* 0 of 1 replicas are in sync when shutting down.",
                             "# Redis is now ready to exit, bye bye..."]


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_shutdown_exits_once_the_replica_catches_up_and_now_does_not_wait(tmp_path, kind):
    config = dict(repl_diskless_sync_delay=0, shutdown_timeout=30)
    master = redis_master(**config) if kind == "redis" else vermilion_master(tmp_path, **config)
    with master as m, lagging_replica(m) as replica:
        with RawClient(m.port) as c:
            c.send_command("SHUTDOWN")
            assert _blocked(c)
            replica.proc.send_signal(signal.SIGCONT)
            assert c.is_closed(5)  # well before shutdown-timeout
        m.wait_exit()
        _flush_log(m)
        assert m.messages() == [
            "# User requested shutdown...",
            "* Waiting for replicas before shutting down.",
            "* 1 of 1 replicas are in sync when shutting down.",
            "# Redis is now ready to exit, bye bye...",
        ]
    (tmp_path / "now").mkdir()
    master = redis_master(**config) if kind == "redis" else vermilion_master(tmp_path / "now", **config)
    with master as m, lagging_replica(m):
        with RawClient(m.port) as c:
            c.send_command("SHUTDOWN", "NOW")
            assert c.is_closed(5)
        m.wait_exit()
        _flush_log(m)
        lines = m.messages()
        assert lines[0] == "# User requested shutdown..."
        assert "* Waiting for replicas before shutting down." not in lines
        assert "* 0 of 1 replicas are in sync when shutting down." in lines


def test_sigterm_waits_for_a_lagging_replica_then_saves_and_removes_the_pid_file(tmp_path):
    """python -m server and redis-server, SIGTERM with a stopped replica: the same lines."""
    logs = {}
    for kind in ("redis", "vermilion"):
        data = tmp_path / kind
        data.mkdir()
        pidfile = data / "server.pid"
        with server(kind, data, "--save", "3600 1", "--shutdown-timeout", "1", "--repl-diskless-sync-delay", "0",
                    "--pidfile", pidfile) as sp:
            with lagging_replica(Server(sp.port, sp.logfile, data)):
                sp.proc.send_signal(signal.SIGTERM)
                assert sp.proc.wait(10) == 0
            assert not pidfile.exists()
            logs[kind] = shutdown_messages(sp.log(), data, "# Received SIGTERM scheduling shutdown...")
    lagging = r"# Lagging replica 127\.0\.0\.1:\d+ reported offset \d+ behind master, lag=\d+, state=online\."
    for kind, lines in logs.items():
        assert re.fullmatch(lagging, lines[3]), (kind, lines)
        lines[3] = "<lagging>"
    assert logs["redis"] == [
        "# Received SIGTERM scheduling shutdown...",
        "# User requested shutdown...",
        "* Waiting for replicas before shutting down.",
        "<lagging>",
        "* 0 of 1 replicas are in sync when shutting down.",
        "* Saving the final RDB snapshot before exiting.",
        "* DB saved on disk",
        "* Removing the pid file.",
        BYE,
    ]
    assert logs["vermilion"] == logs["redis"]
