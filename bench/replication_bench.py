"""``python -m bench.replication_bench``: full-sync time and replication lag, Vermilion beside Redis.

Design note
-----------
Two measurements, each for a pair of ``redis-server`` 7.0 processes (master and replica) and
for a pair of ``python -m server`` processes, every process started fresh in its own
directory (``--save "" --repl-diskless-sync-delay 0``, DEBUG enabled):

1. **Full sync.** The master is filled with ``DEBUG POPULATE <keys>`` (``key:<n>`` ->
   ``value:<n>``, 1,000,000 by default); the replica gets ``REPLICAOF`` and the clock runs
   until it reports ``master_link_status:up`` with every key (INFO polled every 10 ms). Both
   payload styles: diskless (``$EOF:`` from a forked child through a pipe, Redis 7.0's
   default) and disk (``repl-diskless-sync no``: BGSAVE, then the file as ``$<len>``).
2. **Lag under load.** With the replica online, ``redis-benchmark -t set -P 16 -c 50 -r
   100000 -n <requests>`` writes to the master; every 50 ms the master's
   ``master_repl_offset`` and the replica's ``slave_repl_offset`` are read, and their
   difference is the lag in bytes (how much of the stream the replica has not applied).
   Reported: the benchmark's ops/s, the median and maximum lag, and how long the replica
   takes to catch up once the load stops.

It needs the standard library, redis-py, the Redis binaries and ``bench/servers.py``'s port
and shutdown helpers. Results go to stdout as a table and, with ``--json PATH``, as JSON.
Nothing is pinned; run it on a quiet machine.
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
import threading
import time
from pathlib import Path

import redis

from .servers import free_port, shutdown_nosave

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
_RPS = re.compile(r'"SET","([\d.]+)"')


class Server:
    """One server process in its own directory."""

    def __init__(self, kind: str, *extra: str):
        self.kind = kind
        self.dir = Path(tempfile.mkdtemp(prefix="rbench-%s-" % kind))
        self.port = free_port()
        self.log = self.dir / "server.log"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--enable-debug-command", "yes", "--dir", str(self.dir), "--logfile", str(self.log),
                "--repl-diskless-sync-delay", "0", *extra]
        cmd = [REDIS_SERVER, *args] if kind == "redis" else [sys.executable, "-m", "server", *args]
        self.proc = subprocess.Popen(cmd, cwd=self.dir, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        self.client = redis.Redis(port=self.port, socket_timeout=600)

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %d; see %s" % (self.kind, self.proc.returncode, self.log))
            try:
                with redis.Redis(port=self.port, socket_timeout=5) as r:
                    if r.ping():
                        return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.01)
        raise RuntimeError("%s did not answer PING within %ds" % (self.kind, timeout))

    def info(self) -> dict:
        return self.client.info("replication")

    def stop(self) -> None:
        self.client.close()
        shutdown_nosave(self.port, self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def full_sync_seconds(kind: str, keys: int, diskless: bool) -> float:
    master = Server(kind, "--repl-diskless-sync", "yes" if diskless else "no")
    replica = Server(kind)
    try:
        master.client.execute_command("DEBUG", "POPULATE", keys)
        assert master.client.dbsize() == keys
        start = time.perf_counter()
        replica.client.replicaof("127.0.0.1", master.port)
        while True:
            try:
                if replica.info().get("master_link_status") == "up" and replica.client.dbsize() == keys:
                    return time.perf_counter() - start
            except redis.BusyLoadingError:
                pass
            if time.perf_counter() - start > 600:
                raise RuntimeError("%s replica did not sync within 600 s" % kind)
            time.sleep(0.01)
    finally:
        replica.stop()
        master.stop()


def lag_under_load(kind: str, requests: int) -> dict:
    master = Server(kind)
    replica = Server(kind)
    try:
        replica.client.replicaof("127.0.0.1", master.port)
        while replica.info().get("master_link_status") != "up":
            time.sleep(0.01)
        # The stream flows once the master saw the replica's first ACK after the payload.
        master.client.set("probe", 1)
        while replica.client.get("probe") is None:
            time.sleep(0.01)
        samples: list[int] = []
        done = threading.Event()
        probe_m = redis.Redis(port=master.port, socket_timeout=60)
        probe_r = redis.Redis(port=replica.port, socket_timeout=60)

        def sample() -> None:
            while not done.is_set():
                m = probe_m.info("replication")["master_repl_offset"]
                r = probe_r.info("replication")["slave_repl_offset"]
                samples.append(max(m - r, 0))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        bench = subprocess.run(
            [REDIS_BENCHMARK, "-p", str(master.port), "-t", "set", "-P", "16", "-c", "50", "-r", "100000",
             "-n", str(requests), "--csv"],
            capture_output=True, text=True, timeout=1800,
        )
        load_end = time.perf_counter()
        done.set()
        sampler.join()
        target = probe_m.info("replication")["master_repl_offset"]
        while probe_r.info("replication")["slave_repl_offset"] < target:
            if time.perf_counter() - load_end > 600:
                raise RuntimeError("%s replica did not catch up" % kind)
            time.sleep(0.005)
        catch_up = time.perf_counter() - load_end
        m = _RPS.search(bench.stdout)
        return {
            "ops_per_sec": float(m.group(1)) if m else None,
            "lag_median_bytes": int(statistics.median(samples)) if samples else 0,
            "lag_max_bytes": max(samples) if samples else 0,
            "catch_up_s": catch_up,
            "stream_bytes": target,
            "same_keys": probe_m.dbsize() == probe_r.dbsize(),
        }
    finally:
        replica.stop()
        master.stop()


def run(keys: int, requests: int, repeats: int) -> dict:
    results: dict = {"keys": keys, "requests": requests, "repeats": repeats, "full_sync": {}, "lag": {}}
    for kind in ("redis", "vermilion"):
        for style, diskless in (("diskless", True), ("disk", False)):
            times = [full_sync_seconds(kind, keys, diskless) for _ in range(repeats)]
            results["full_sync"]["%s/%s" % (kind, style)] = statistics.median(times)
        results["lag"][kind] = lag_under_load(kind, requests)
    return results


def table(results: dict) -> str:
    fs = results["full_sync"]
    lines = ["Full sync of %d small keys (DEBUG POPULATE), median of %d; replica up with every key"
             % (results["keys"], results["repeats"]),
             "%-10s %12s %12s %8s" % ("payload", "redis 7.0", "vermilion", "ratio")]
    for style in ("diskless", "disk"):
        r, v = fs["redis/" + style], fs["vermilion/" + style]
        lines.append("%-10s %11.2fs %11.2fs %7.1fx" % (style, r, v, v / r))
    lines.append("")
    lines.append("Replication lag under redis-benchmark -t set -P 16 -c 50 -n %d" % results["requests"])
    lines.append("%-26s %14s %14s" % ("", "redis 7.0", "vermilion"))
    lag = results["lag"]
    for label, key, fmt in (("master ops/s", "ops_per_sec", "%.0f"), ("lag median (bytes)", "lag_median_bytes", "%d"),
                            ("lag max (bytes)", "lag_max_bytes", "%d"), ("catch-up after load (s)", "catch_up_s", "%.3f"),
                            ("stream bytes", "stream_bytes", "%d"), ("same key count", "same_keys", "%s")):
        lines.append("%-26s %14s %14s" % (label, fmt % lag["redis"][key], fmt % lag["vermilion"][key]))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--quick", action="store_true", help="10,000 keys and 20,000 requests, once")
    args = ap.parse_args(argv)
    if args.quick:
        args.keys, args.requests, args.repeats = 10_000, 20_000, 1
    results = run(args.keys, args.requests, args.repeats)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
