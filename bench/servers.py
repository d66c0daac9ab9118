"""The two servers under test, as pinned subprocesses on free loopback ports.

Design note
-----------
Both servers run with the same persistence-free settings (``save ""``, ``appendonly no``),
bound to 127.0.0.1 only, with their files (log, any dump) in a private temporary directory.
``taskset`` execs the server, so the pid we hold is the server's own and its
``/proc/<pid>/stat`` is the CPU time we charge to it. Readiness is a real ``PING`` answered
with ``+PONG``, not a sleep. A server that dies during a run is an error the caller sees
(``check_alive``), with the tail of its log.

Vermilion runs from a snapshot (``snapshot_source``): a copy of the repository's Python
packages taken when the benchmark starts, put first on its ``PYTHONPATH``. Every pass of a
run then measures the same code, even while the working tree is being edited.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .machine import Pinning, process_cpu_seconds

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = {"redis": "Redis", "vermilion": "Vermilion"}
START_TIMEOUT = 20.0


class BenchError(RuntimeError):
    """Anything that makes a benchmark run invalid; the CLI exits non-zero with its text."""


SKIP_PACKAGES = {"tests", "bench", "build", "dist"}


def snapshot_source(root: Path = REPO_ROOT) -> str:
    """Copy the top-level Python packages of ``root`` (protocol, server, ...) to a new
    temporary directory and return it; the caller removes it."""
    dest = tempfile.mkdtemp(prefix="bench-source-")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for entry in sorted(root.iterdir()):
        if entry.name in SKIP_PACKAGES or entry.name.startswith(".") or not (entry / "__init__.py").is_file():
            continue
        shutil.copytree(entry, os.path.join(dest, entry.name), ignore=ignore)
    return dest


def source_revision(root: Path = REPO_ROOT) -> str:
    """The git commit of ``root`` and whether the working tree differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head or "unknown") + (" + uncommitted changes" if dirty else "")


# Ports for servers started as other processes come from below the kernel's ephemeral range
# (32768-60999 on Linux), where no connection's source port and no port-0 listener is ever
# placed, so nothing else can take one between free_port() and the server's own bind. The
# stretch also leaves room for a cluster bus port (port + 10000) below that range.
_PORTS = range(12000, 22000)


@functools.cache
def _port_walk():
    """This process's endless walk over its share of _PORTS: parallel pytest-xdist workers
    each get a disjoint share; any other process starts at a pid-seeded place."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and workers > 1:
        share = len(_PORTS) // workers
        ports = _PORTS[int(worker[2:]) % workers * share:][:share]
        start = 0
    else:
        ports = _PORTS
        start = os.getpid() * 7919 % len(ports)
    return itertools.cycle(itertools.chain(ports[start:], ports[:start]))


def free_port() -> int:
    """A loopback port nothing listens on, for a server about to be started in another process."""
    walk = _port_walk()
    for port in itertools.islice(walk, len(_PORTS)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port in %d-%d" % (_PORTS.start, _PORTS.stop - 1))


def shutdown_nosave(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Stop a server with a raw SHUTDOWN NOSAVE (redis-py would retry against the server
    that just went away), killing it if it has not exited within ``timeout`` seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            s.recv(64)
    except OSError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _common_args(port: int, workdir: str) -> list[str]:
    return [
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir,
        "--logfile", os.path.join(workdir, "server.log"),
    ]


def server_command(kind: str, port: int, workdir: str) -> list[str]:
    if kind == "redis":
        return ["redis-server", *_common_args(port, workdir)]
    if kind == "vermilion":
        return [sys.executable, "-m", "server", *_common_args(port, workdir)]
    raise ValueError(kind)


class Server:
    """A running server: ``kind``, ``port``, ``pid``, CPU time, log."""

    def __init__(self, kind: str, port: int, proc: subprocess.Popen, workdir: str):
        self.kind = kind
        self.name = NAMES[kind]
        self.port = port
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir

    def cpu_seconds(self) -> float:
        self.check_alive()
        return process_cpu_seconds(self.pid)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited with status {self.proc.returncode}\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log and of its console (tracebacks land there)."""
        parts = []
        for name in ("server.log", "console.log"):
            try:
                with open(os.path.join(self.workdir, name), errors="replace") as f:
                    tail = "".join(f.readlines()[-lines:])
            except OSError:
                continue
            if tail.strip():
                parts.append(f"--- {name} ---\n{tail}")
        return "".join(parts) or "(no log)"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if s.recv(64) == b"+PONG\r\n":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"{self.name} did not answer PING on port {self.port} within {timeout:.0f} s\n"
                         f"{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running(kind: str, pinning: Pinning, source: str | Path = REPO_ROOT):
    """Start a pinned ``kind`` server, yield it ready, stop it and remove its files.
    Vermilion's packages are imported from ``source``."""
    workdir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    command = pinning.prefix(kind) + server_command(kind, port, workdir)
    try:
        with open(os.path.join(workdir, "console.log"), "wb") as console:
            proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=console, stderr=subprocess.STDOUT)
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise BenchError(f"cannot start {' '.join(command)}: {exc}") from exc
    server = Server(kind, port, proc, workdir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
