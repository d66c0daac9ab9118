"""Servers for tests: a Vermilion node on a background thread, and Debian's redis-server.

Nodes start in-process through the same ``Node`` API users embed. Real Redis 7.0 runs as a
subprocess on a free loopback port, for interoperability and differential tests.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from bench.servers import free_port
from server import Node
from tests.support.waiting import wait_for

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def have_redis() -> bool:
    return os.path.exists(REDIS_SERVER)


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on port {port}")


@contextmanager
def vermilion(**config):
    """A Vermilion node on a background thread: ``with vermilion(port=0) as node``."""
    config.setdefault("port", 0)
    config.setdefault("save", "")
    config.setdefault("enable_debug_command", "yes")
    workdir = None
    if "dir" not in config:
        # Every node gets its own directory, so no test reads or leaves a dump.rdb in the
        # checkout (a node loads dir/dbfilename at startup, as redis-server does).
        workdir = tempfile.mkdtemp(prefix="vermilion-node-")
        config["dir"] = workdir
    try:
        with Node(**config).running() as node:
            yield node
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


class RedisProcess:
    def __init__(self, port: int, proc: subprocess.Popen, workdir: str, log: str):
        self.port = port
        self.proc = proc
        self.workdir = workdir
        self.log = log

    def stop(self) -> None:
        code = self.proc.poll()
        if code not in (None, 0):  # it died under the test: say how, in the test's captured output
            sys.stderr.write(f"redis-server on port {self.port} ended with status {code}; its log:\n"
                             f"{_read(self.log)[-3000:]}\n")
        if code is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def real_redis(*extra_args: str):
    """Debian's redis-server 7.0 on a free port, with defaults matching our test nodes."""
    if not have_redis():
        raise RuntimeError("redis-server is not installed: ./dev.sh test installs it")
    rp = _start_redis(extra_args)
    try:
        yield rp
    finally:
        rp.stop()


def _start_redis(extra_args, attempts: int = 3) -> RedisProcess:
    for attempt in itertools.count(1):
        port = free_port()
        workdir = tempfile.mkdtemp(prefix="redis-ref-")
        args = [
            REDIS_SERVER,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", workdir,
            "--enable-debug-command", "yes",
            "--logfile", os.path.join(workdir, "redis.log"),
            *extra_args,
        ]
        log = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--logfile"][-1]  # the last one counts
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rp = RedisProcess(port, proc, workdir, log)
        # Redis logs "Running mode=..." once it holds its listening sockets (and exits if it
        # cannot bind): until then, whatever answers on the port may be another process's.
        try:
            wait_for(lambda: "Running mode=" in _read(log) or proc.poll() is not None,
                     timeout=10, what=f"redis-server to listen on port {port}")
        except AssertionError as e:
            failure = str(e)
        else:
            if proc.poll() is None:
                return rp
            failure = f"redis-server exited with status {proc.returncode}"
        text = _read(log)
        rp.stop()
        if "Address already in use" in text and attempt < attempts:
            continue  # another process took the port first: try another one
        raise RuntimeError(f"{failure}; its log:\n{text[-2000:]}")


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
