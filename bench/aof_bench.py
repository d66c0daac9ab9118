"""``python -m bench.aof_bench``: SET throughput with the AOF on, Vermilion beside real Redis.

Design note
-----------
For each fsync policy (``everysec``, ``always``; ``--policies``) and each server
(``redis-server`` 7.0, ``python -m server``), in a fresh directory with ``appendonly yes``:

1. start the server (pinned to the first CPU with ``taskset`` when there are two or more);
2. run ``redis-benchmark -t set -r 100000 -c <clients> -n <requests> -P <p>`` for each
   pipeline depth (``--pipelines``, default 1 and 16), the client pinned to another CPU, and
   read its "requests per second" and p50 latency (``--csv`` output);
3. check the AOF holds what was acknowledged: after the runs the server is stopped with
   SIGTERM and started again on its directory, and ``DBSIZE`` must be the same;

then report the median over ``--repeats`` of each figure, Redis and Vermilion side by side,
and the ratio. The AOF directory lives under ``--dir`` (default: a temporary directory on the
same disk as the system's temp dir), so the fsync cost is that disk's.

It needs only the standard library, redis-py and ``bench/servers.py``'s ``free_port``. Numbers go to stdout as a
table and, with ``--json PATH``, as a JSON document.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from .servers import free_port

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
TASKSET = shutil.which("taskset")
START_TIMEOUT = 30.0


def pinning() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and the benchmark client (empty when not possible)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if TASKSET is None or len(cpus) < 2:
        return [], []
    return [TASKSET, "-c", str(cpus[0])], [TASKSET, "-c", ",".join(map(str, cpus[1:]))]


class Server:
    def __init__(self, kind: str, directory: Path, policy: str, prefix: list[str]):
        self.kind = kind
        self.port = free_port()
        self.directory = directory
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
                "--appendonly", "yes", "--appendfsync", policy, "--logfile", str(directory / "server.log")]
        cmd = [REDIS_SERVER, *args] if kind == "redis" else [sys.executable, "-m", "server", *args]
        self.proc = subprocess.Popen(prefix + cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=2).ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not start; see %s" % (kind, directory / "server.log"))
            time.sleep(0.05)

    def dbsize(self) -> int:
        return redis.Redis(port=self.port, socket_timeout=30).dbsize()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def benchmark(port: int, requests: int, clients: int, pipeline: int, prefix: list[str]) -> tuple[float, float]:
    """(requests per second, p50 latency in ms) of one redis-benchmark SET run."""
    cmd = prefix + [REDIS_BENCHMARK, "-p", str(port), "-t", "set", "-r", "100000", "-n", str(requests),
                    "-c", str(clients), "-P", str(pipeline), "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    header, row = rows[0], rows[1]
    fields = dict(zip(header, row))
    return float(fields["rps"]), float(fields["p50_latency_ms"])


def measure(kind: str, policy: str, base: Path, requests: int, clients: int, pipelines: list[int]) -> dict:
    server_prefix, client_prefix = pinning()
    directory = base / ("%s-%s" % (kind, policy))
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    server = Server(kind, directory, policy, server_prefix)
    results = {}
    try:
        for p in pipelines:
            n = requests * (min(p, 10) if policy != "always" else 1)
            results[p] = benchmark(server.port, n, clients, p, client_prefix)
        keys = server.dbsize()
    finally:
        server.stop()
    restarted = Server(kind, directory, policy, server_prefix)  # what the AOF holds
    try:
        reloaded = restarted.dbsize()
    finally:
        restarted.stop()
    if reloaded != keys:
        raise RuntimeError("%s/%s: %d keys before the restart, %d after" % (kind, policy, keys, reloaded))
    shutil.rmtree(directory, ignore_errors=True)
    return results


def run(policies: list[str], pipelines: list[int], requests: int, clients: int, repeats: int, base: Path) -> dict:
    samples: dict = {}
    for _ in range(repeats):
        for policy in policies:
            for kind in ("redis", "vermilion"):
                for p, figures in measure(kind, policy, base, requests, clients, pipelines).items():
                    samples.setdefault((policy, p, kind), []).append(figures)
    return {
        key: {"rps": statistics.median(f[0] for f in values), "p50_ms": statistics.median(f[1] for f in values)}
        for key, values in samples.items()
    }


def table(results: dict, policies: list[str], pipelines: list[int]) -> str:
    lines = ["| appendfsync | -P | Redis ops/s | Vermilion ops/s | Vermilion/Redis | Redis p50 ms | Vermilion p50 ms |",
             "|---|---|---|---|---|---|---|"]
    for policy in policies:
        for p in pipelines:
            r, v = results[(policy, p, "redis")], results[(policy, p, "vermilion")]
            lines.append("| %s | %d | %.0f | %.0f | %.2f | %.3f | %.3f |"
                         % (policy, p, r["rps"], v["rps"], v["rps"] / r["rps"], r["p50_ms"], v["p50_ms"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", default="everysec,always")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--requests", type=int, default=50_000, help="SETs per run at -P 1 (more when pipelined)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where the AOF directories go")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    pipelines = [int(p) for p in args.pipelines.split(",") if p]
    base = args.dir or Path(tempfile.mkdtemp(prefix="aof-bench-"))
    results = run(policies, pipelines, args.requests, args.clients, args.repeats, base)
    server_prefix, _ = pinning()
    print("SET with appendonly yes, %d clients, -r 100000, median of %d; pinned: %s"
          % (args.clients, args.repeats, "yes" if server_prefix else "no"))
    print(table(results, policies, pipelines))
    if args.json is not None:
        doc = {"%s/P%d/%s" % key: value for key, value in results.items()}
        args.json.write_text(json.dumps(doc, indent=2))
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
