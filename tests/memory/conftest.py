"""Memory and eviction tests: helpers for a node that owns its process.

Process-wide figures (RSS, the allocator) only describe one node when the node is alone in
its process, so the accounting tests run ``python -m server`` as a subprocess
(``server_process``); behaviour tests use in-process nodes (``make_node``) and drive their
clocks and random sources directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.support.servers import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def vermilion_process(*args: str):
    """``python -m server`` on a free port; yields a redis-py client."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="vermilion-mem-")
    cmd = [
        sys.executable, "-m", "server", "--port", str(port), "--save", "", "--dir", workdir,
        "--logfile", os.path.join(workdir, "log"), "--enable-debug-command", "yes", *args,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=120)
    try:
        wait_port(port, timeout=30)
        client.ping()
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def server_process():
    """Start ``python -m server`` with extra arguments: ``server_process("--maxmemory", "1gb")``."""
    with contextlib.ExitStack() as stack:
        yield lambda *args: stack.enter_context(vermilion_process(*args))


def memory(client: redis.Redis) -> dict:
    return client.info("memory")


def eviction_figure(client: redis.Redis) -> int:
    """What maxmemory is compared with: used_memory - mem_not_counted_for_evict."""
    m = memory(client)
    return m["used_memory"] - m["mem_not_counted_for_evict"]
