"""``python -m server`` as a process: command line, config files, logging, signals.

Where redis-server can run the same way, both run and their outputs are compared: the fatal
config error report on stderr, the exit status, and the standard log lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.servers import REDIS_CLI, REDIS_SERVER, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(\d+):([MSCX]) \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} ([.\-*#]) (.*)$")
SIGNAL_LINE = re.compile(r"^(\d+):signal-handler \(\d+\) (.*)$")
#: The lines both servers log on a plain start and stop (Redis adds system checks of its own).
STANDARD = (
    "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    "Configuration loaded",
    "Running mode=",
    "Server initialized",
    "Ready to accept connections",
    "Received SIG",
    "User requested shutdown...",
    "Removing the pid file.",
    "Redis is now ready to exit, bye bye...",
)


def vermilion_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "server", *args]


def spawn(cmd: list[str], cwd: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def run(cmd: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=30)


def cli(port: int, *args: str) -> str:
    out = subprocess.run([REDIS_CLI, "-p", str(port), *args], capture_output=True, timeout=10)
    return out.stdout.decode().strip()


def wait_ready(port: int) -> None:
    """Until the server answers PING: its event loop runs, so its startup lines are logged
    (Redis listens before it logs them; a signal sent earlier would be logged first)."""
    wait_port(port, timeout=20)
    deadline = time.monotonic() + 20
    while cli(port, "PING") != "PONG":
        assert time.monotonic() < deadline, "server never answered PING"
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out.decode(), err.decode()


def standard_lines(log: str, pid: int | None = None) -> list[tuple[str, str, str]]:
    """(role, level mark, message) of the standard lines, in order."""
    found = []
    for line in log.splitlines():
        m = LINE.match(line)
        if m:
            role, mark, message = m.group(2), m.group(3), m.group(4)
        else:
            s = SIGNAL_LINE.match(line)
            if not s:
                continue
            role, mark, message = "signal-handler", "", s.group(2)
        if message.startswith(STANDARD):
            message = re.sub(r"port=\d+", "port=P", message)
            found.append((role, mark, message))
    return found


@pytest.fixture
def served(tmp_path):
    """Start ``python -m server`` with arguments; stop it at the end if still running."""
    procs = []

    def start(*args: str, port: int | None = None, cwd: Path = tmp_path) -> subprocess.Popen:
        proc = spawn(vermilion_cmd(*args), cwd)
        procs.append(proc)
        if port is not None:
            wait_ready(port)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# -- starting and stopping ---------------------------------------------------------------------


def test_starts_from_flags_and_talks_to_redis_cli(served):
    port = free_port()
    proc = served("--port", str(port), "--save", "", "--maxmemory", "10mb", port=port)
    assert cli(port, "PING") == "PONG"
    assert cli(port, "CONFIG", "GET", "maxmemory") == "maxmemory\n10485760"
    assert cli(port, "CONFIG", "SET", "maxmemory", "1x") == (
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
    status, out, err = stop(proc)
    assert status == 0 and err == ""
    for line in out.splitlines():
        assert LINE.match(line) or SIGNAL_LINE.match(line), line
    assert (out.splitlines()[0].split(":")[0]) == str(proc.pid)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shutdown_logs_like_redis_server(served, tmp_path, sig):
    port = free_port()
    proc = served("--port", str(port), "--save", "", port=port)
    status, out, _ = stop(proc, sig)
    assert status == 0
    ref_port = free_port()
    ref = spawn([REDIS_SERVER, "--port", str(ref_port), "--save", ""], tmp_path)
    wait_ready(ref_port)
    ref_status, ref_out, _ = stop(ref, sig)
    assert ref_status == 0
    assert standard_lines(out) == standard_lines(ref_out)
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert ("signal-handler", "", f"Received {name} scheduling shutdown...") in standard_lines(out)


def test_logfile_and_loglevel(served, tmp_path):
    port = free_port()
    proc = served("--port", str(port), "--logfile", "server.log", "--loglevel", "warning", port=port)
    status, out, _ = stop(proc)
    assert status == 0 and out == ""
    log = (tmp_path / "server.log").read_text()
    marks = {m.group(3) for m in map(LINE.match, log.splitlines()) if m}
    assert marks == {"#"}
    assert "Server initialized" in log and "Running mode=" not in log


def test_always_show_logo(served):
    port = free_port()
    proc = served("--port", str(port), "--always-show-logo", "yes", port=port)
    _, out, _ = stop(proc)
    assert "Running in standalone mode" in out and f"Port: {port}" in out and f"PID: {proc.pid}" in out
    assert "Running mode=" not in out


def test_daemonize_with_a_pid_file(tmp_path):
    port = free_port()
    result = run(vermilion_cmd("--port", str(port), "--daemonize", "yes", "--pidfile", str(tmp_path / "v.pid"),
                               "--logfile", "d.log"), tmp_path)
    assert result.returncode == 0 and result.stdout == b""
    wait_port(port, timeout=20)
    pid = int((tmp_path / "v.pid").read_text())
    assert cli(port, "CONFIG", "GET", "daemonize") == "daemonize\nyes"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while (tmp_path / "v.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (tmp_path / "v.pid").exists()
    log = (tmp_path / "d.log").read_text()
    assert "Removing the pid file." in log


# -- config files and command lines ---------------------------------------------------------------


def test_config_file_with_include_and_flags_after_it(served, tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "extra.conf").write_text("hz 25\nmaxmemory 1mb\n")
    conf = tmp_path / "redis.conf"
    conf.write_text("# main file\nport 1\nsave ''\ninclude conf.d/extra.conf\nmaxmemory-policy allkeys-lru\n")
    port = free_port()
    proc = served("redis.conf", "--port", str(port), "--maxmemory", "2mb", port=port)
    assert cli(port, "CONFIG", "GET", "hz") == "hz\n25"
    assert cli(port, "CONFIG", "GET", "maxmemory") == "maxmemory\n2097152"
    assert cli(port, "CONFIG", "GET", "maxmemory-policy") == "maxmemory-policy\nallkeys-lru"
    assert cli(port, "CONFIG", "GET", "dir") == f"dir\n{tmp_path.resolve()}"
    assert stop(proc)[0] == 0


def test_multi_word_values_and_bare_save(served):
    port = free_port()
    proc = served("--port", str(port), "--replicaof", "127.0.0.1", "6380", "--bind", "127.0.0.1", "-::1",
                  "--save", port=port)
    assert cli(port, "CONFIG", "GET", "replicaof") == "replicaof\n127.0.0.1 6380"
    assert cli(port, "CONFIG", "GET", "slaveof") == "slaveof\n127.0.0.1 6380"
    assert cli(port, "CONFIG", "GET", "bind") == "bind\n127.0.0.1 -::1"
    assert cli(port, "CONFIG", "GET", "save") == "save"
    assert stop(proc)[0] == 0


def test_config_from_stdin(tmp_path):
    port = free_port()
    (tmp_path / "input.conf").write_bytes(b"maxmemory 5mb\ntimeout 17\n")
    with open(tmp_path / "input.conf", "rb") as stdin:
        proc = spawn(vermilion_cmd("--port", str(port), "-"), tmp_path, stdin=stdin)
    try:
        wait_port(port, timeout=20)
        assert cli(port, "CONFIG", "GET", "timeout") == "timeout\n17"
        assert cli(port, "CONFIG", "GET", "maxmemory") == "maxmemory\n5242880"
    finally:
        status, out, _ = stop(proc)
    assert status == 0 and "Reading config from stdin" in out


def test_config_rewrite_survives_a_restart(served, tmp_path):
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f"# kept\nport {port}\nsave ''\n")
    proc = served("redis.conf", port=port)
    assert cli(port, "CONFIG", "SET", "maxmemory", "7mb") == "OK"
    assert cli(port, "CONFIG", "REWRITE") == "OK"
    assert stop(proc)[0] == 0
    text = conf.read_text()
    assert text.startswith("# kept\n") and "maxmemory 7mb\n" in text
    proc = served("redis.conf", port=port)
    assert cli(port, "CONFIG", "GET", "maxmemory") == "maxmemory\n7340032"
    assert stop(proc)[0] == 0


# -- errors, compared with redis-server ---------------------------------------------------------------

BAD_FILES = {
    "bad-value": "port 1\nmaxmemory abc\n",
    "quotes": 'port "1\n',
    "directive": "# c\nfoo bar\n",
    "arguments": "hz 1 2\n",
    "include": "include bad-inner.conf\n",
    "logfile": "logfile /nonexistent-dir/x.log\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_config_file_exits_1_with_redis_report(tmp_path, name):
    (tmp_path / "bad-inner.conf").write_text("\nmaxmemory-policy sometimes\n")
    (tmp_path / "bad.conf").write_text(BAD_FILES[name])
    ours = run(vermilion_cmd("bad.conf"), tmp_path)
    theirs = run([REDIS_SERVER, "bad.conf"], tmp_path)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (1, theirs.stderr)
    assert b"*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in ours.stderr


@pytest.mark.parametrize("argv", [["--port", "1", "2"], ["--nosuch", "x"], ["--save", "10"], ["-x"]])
def test_bad_command_line_exits_1_with_redis_report(tmp_path, argv):
    ours = run(vermilion_cmd(*argv), tmp_path)
    theirs = run([REDIS_SERVER, *argv], tmp_path)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert ours.returncode == 1


def test_missing_config_file(tmp_path):
    ours = run(vermilion_cmd("missing.conf"), tmp_path)
    theirs = run([REDIS_SERVER, "missing.conf"], tmp_path)
    assert ours.returncode == theirs.returncode == 1
    ours_line, theirs_line = ours.stdout.decode().strip(), theirs.stdout.decode().strip()
    assert LINE.match(ours_line).group(2, 3, 4) == LINE.match(theirs_line).group(2, 3, 4)
    assert ours_line.endswith(f"Fatal error, can't open config file '{tmp_path}/missing.conf': No such file or directory")


def test_version_and_help(tmp_path):
    version = run(vermilion_cmd("-v"), tmp_path)
    assert version.returncode == 0
    assert version.stdout.decode().startswith("Redis server v=7.0.15 sha=00000000:0 ")
    assert run(vermilion_cmd("--version"), tmp_path).stdout == version.stdout
    for flag in ("-h", "--help"):
        helped = run(vermilion_cmd(flag), tmp_path)
        assert helped.returncode == 1 and helped.stdout == b""
        assert helped.stderr.decode().startswith("Usage: python -m server [/path/to/redis.conf] [options] [-]\n")


def test_port_in_use_exits_1(served, tmp_path):
    port = free_port()
    first = served("--port", str(port), "--bind", "127.0.0.1", port=port)
    second = run(vermilion_cmd("--port", str(port), "--bind", "127.0.0.1"), tmp_path)
    assert second.returncode == 1
    out = second.stdout.decode()
    assert f"# Warning: Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use" in out
    assert f"# Failed listening on port {port} (TCP), aborting." in out
    assert stop(first)[0] == 0
