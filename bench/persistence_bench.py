"""``python -m bench.persistence_bench``: RDB snapshot times, Vermilion beside real Redis.

Design note
-----------
For each server (``redis-server`` 7.0 and ``python -m server``), in a fresh directory:

1. start it (``--save ""``, DEBUG enabled) and fill it with ``DEBUG POPULATE <keys>``
   (``key:<n>`` -> ``value:<n>``: the usual "small keys" dataset, identical on both);
2. time ``SAVE`` (wall clock at the client, median of ``--repeats``) and ``BGSAVE`` (from
   the command to ``rdb_bgsave_in_progress:0``, polled every 5 ms), and note the file
   size and ``latest_fork_usec``;
3. stop it, start it again on its own file and time the load: the server's own figure
   (the ``DB loaded from disk: <s> seconds`` log line, the same line in both) and the wall
   time from spawn to the first PING answered;
4. cross-load: Vermilion started on Redis's file (and Redis on Vermilion's), checking that
   every key arrived.

It needs only the standard library, redis-py and the port and shutdown helpers of
``bench/servers.py``, not the ``python -m bench`` harness. Numbers go to stdout as a table and,
with ``--json PATH``, as a JSON document. Nothing is pinned to a core; run it on a quiet
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from .servers import free_port, shutdown_nosave

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
LOADED = re.compile(r"DB loaded from disk: ([\d.]+) seconds")


class Server:
    """One server process in ``directory``, logging to ``directory/log``."""

    def __init__(self, kind: str, directory: Path, dbfilename: str = "dump.rdb"):
        self.kind = kind
        self.dir = directory
        self.port = free_port()
        self.log = directory / ("%s.log" % kind)
        args = ["--port", str(self.port), "--save", "", "--enable-debug-command", "yes", "--dir", str(directory),
                "--dbfilename", dbfilename, "--logfile", str(self.log)]
        if kind == "redis":
            cmd = [REDIS_SERVER, *args]
        else:
            cmd = [sys.executable, "-m", "server", *args]
        self.log.write_text("")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=directory, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ready_after = self._wait_ready()
        self.client = redis.Redis(port=self.port, socket_timeout=600)

    def _wait_ready(self, timeout: float = 600.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %d; see %s" % (self.kind, self.proc.returncode, self.log))
            try:
                with redis.Redis(port=self.port, socket_timeout=5) as r:
                    if r.ping():
                        return time.perf_counter() - self.started
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.005)
        raise RuntimeError("%s did not answer PING within %ds" % (self.kind, timeout))

    def loaded_seconds(self) -> float | None:
        m = LOADED.search(self.log.read_text(errors="replace"))
        return float(m.group(1)) if m else None

    def stop(self) -> None:
        self.client.close()
        shutdown_nosave(self.port, self.proc)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bgsave_seconds(r: redis.Redis) -> float:
    t = time.perf_counter()
    r.bgsave()
    while r.info("persistence")["rdb_bgsave_in_progress"]:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t
    if r.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("BGSAVE failed")
    return elapsed


def measure(kind: str, directory: Path, keys: int, repeats: int) -> dict:
    server = Server(kind, directory)
    try:
        server.client.execute_command("DEBUG", "POPULATE", keys)
        assert server.client.dbsize() == keys
        save = [timed(server.client.save) for _ in range(repeats)]
        bgsave = [bgsave_seconds(server.client) for _ in range(repeats)]
        fork_usec = server.client.info("stats")["latest_fork_usec"]
    finally:
        server.stop()
    size = (directory / "dump.rdb").stat().st_size
    loads, walls = [], []
    for _ in range(repeats):
        again = Server(kind, directory)
        try:
            assert again.client.dbsize() == keys, "%s lost keys on reload" % kind
            loads.append(again.loaded_seconds())
            walls.append(again.ready_after)
        finally:
            again.stop()
    return {
        "save_s": statistics.median(save),
        "bgsave_s": statistics.median(bgsave),
        "latest_fork_usec": fork_usec,
        "file_bytes": size,
        "load_s": statistics.median(loads),
        "start_to_ping_s": statistics.median(walls),
    }


def cross_load(kind: str, file_dir: Path, keys: int) -> dict:
    """``kind`` started on the other server's file: its load time and key count."""
    work = Path(tempfile.mkdtemp(prefix="pbench-cross-"))
    try:
        shutil.copy(file_dir / "dump.rdb", work / "dump.rdb")
        server = Server(kind, work)
        try:
            found = server.client.dbsize()
            return {"load_s": server.loaded_seconds(), "keys": found, "ok": found == keys}
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(keys: int, repeats: int) -> dict:
    results = {"keys": keys, "repeats": repeats, "servers": {}, "cross": {}}
    dirs = {}
    try:
        for kind in ("redis", "vermilion"):
            dirs[kind] = Path(tempfile.mkdtemp(prefix="pbench-%s-" % kind))
            results["servers"][kind] = measure(kind, dirs[kind], keys, repeats)
        results["cross"]["vermilion loads redis's file"] = cross_load("vermilion", dirs["redis"], keys)
        results["cross"]["redis loads vermilion's file"] = cross_load("redis", dirs["vermilion"], keys)
    finally:
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)
    return results


def table(results: dict) -> str:
    r, v = results["servers"]["redis"], results["servers"]["vermilion"]
    rows = [
        ("SAVE (s)", "save_s", "%.3f"), ("BGSAVE, until done (s)", "bgsave_s", "%.3f"),
        ("fork (us)", "latest_fork_usec", "%d"), ("file size (bytes)", "file_bytes", "%d"),
        ("load, server's figure (s)", "load_s", "%.3f"), ("start to first PING (s)", "start_to_ping_s", "%.3f"),
    ]
    lines = ["RDB snapshots of %d small keys (DEBUG POPULATE), median of %d"
             % (results["keys"], results["repeats"]),
             "%-28s %12s %12s %8s" % ("", "redis 7.0", "vermilion", "ratio")]
    for label, key, fmt in rows:
        ratio = v[key] / r[key] if r[key] else float("nan")
        lines.append("%-28s %12s %12s %7.1fx" % (label, fmt % r[key], fmt % v[key], ratio))
    for label, entry in results["cross"].items():
        lines.append("%-28s load %.3f s, %d keys (%s)" % (label, entry["load_s"] or -1, entry["keys"],
                                                         "ok" if entry["ok"] else "MISMATCH"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results = run(args.keys, args.repeats)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(e["ok"] for e in results["cross"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
