"""Eviction quality, side by side: hit ratios of Vermilion and Debian's redis-server 7.0 under
the same ``maxmemory-policy``, with budgets that hold the same number of keys.

    .venv/bin/python -m bench.eviction_bench                       # everything, ~15 minutes
    .venv/bin/python -m bench.eviction_bench --quick               # seconds; proves it runs
    .venv/bin/python -m bench.eviction_bench --policies allkeys-lfu --workloads hotcold
    .venv/bin/python -m bench.eviction_bench --json out.json

One module (servers, calibration, load generators, report; free ports from
``bench/servers.py``); see bench/README.md, "Eviction hit ratios", for what the numbers mean.

Calibration by key count. ``maxmemory`` is bytes, and a key costs a few times more in
Python than in Redis, so equal byte budgets would compare caches of different sizes. Each
run first fills a server with ``--cache-keys`` keys shaped like the workload's, reads the
figure ``maxmemory`` is compared with (Redis: ``used_memory``; Vermilion: ``used_memory -
mem_not_counted_for_evict``, which plans dict tables at their size under churn), and uses
it as the budget; after the run it reports how many keys each server actually held.

Workloads (each one against each server, alone, a fresh server per run):

``lru-test``   ``redis-cli --lru-test <keyspace>`` as users run it, for ``--seconds``:
               cycles of 250 pipelined SETs then 250 GETs of ``lru:<power-law n>``. It runs
               as fast as each server goes, so Redis serves several times more requests per
               second -- and LRU clocks tick in seconds, so at Redis's speed keys touched
               within the same second look equally recent. The hit ratio is taken over the
               seconds after ``--warmup``.
``lru-paced``  The same algorithm and distribution (powerLawRand(1, keyspace, 6.2)), from a
               seeded generator here, paced at ``--rate`` requests/s for both servers: the
               same request sequence at the same speed, so only the eviction algorithms differ.
``hotcold``    Cache-aside over ``--hotcold-factor`` x cache-keys keys: 80% of reads go to
               the hottest 20% of the keys; a miss is followed by a SET. Seeded, paced.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import redis

from .servers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

POLICIES = ("allkeys-lru", "allkeys-lfu")
WORKLOADS = ("lru-test", "lru-paced", "hotcold")
#: redis-cli's LRU test: pipeline size, and the power law's exponent (LRUTestGenKey).
LRU_PIPELINE = 250
LRU_ALPHA = 6.2


# -- servers -----------------------------------------------------------------------------------


@contextmanager
def server(kind: str, policy: str):
    """A fresh redis-server or ``python -m server`` with ``policy`` and no limit yet."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix=f"evict-{kind}-")
    common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--dir", workdir, "--logfile", os.path.join(workdir, "log"), "--maxmemory-policy", policy]
    if kind == "redis":
        args = [REDIS_SERVER, *common]
    else:
        args = [PYTHON, "-m", "server", *common]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=60)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start (see {workdir}/log)") from None
                time.sleep(0.05)
        yield port, client
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def eviction_figure(client: redis.Redis) -> int:
    """What maxmemory is compared with (used_memory - mem_not_counted_for_evict)."""
    m = client.info("memory")
    return int(m["used_memory"]) - int(m.get("mem_not_counted_for_evict", 0))


def calibrate(client: redis.Redis, keys: list[bytes], value: bytes) -> int:
    """Fill ``keys``, read the eviction figure, empty the server: the budget for that many."""
    client.config_set("maxmemory", "64gb")  # Vermilion counts exactly only with a limit set
    pipe = client.pipeline(transaction=False)
    for i, key in enumerate(keys):
        pipe.set(key, value)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    time.sleep(0.3)  # a cron tick: tables settled, peak recorded
    figure = eviction_figure(client)
    client.flushall()
    return figure


# -- workloads -----------------------------------------------------------------------------------


def power_law(rng: random.Random, lo: int, hi: int, alpha: float) -> int:
    """redis-cli's powerLawRand(min, max, alpha)."""
    hi += 1
    r = rng.random()
    a1 = alpha + 1
    pl = ((hi ** a1 - lo ** a1) * r + lo ** a1) ** (1.0 / a1)
    return (hi - 1 - int(pl)) + lo


def lru_key(rng: random.Random, keyspace: int) -> bytes:
    return b"lru:%d" % power_law(rng, 1, keyspace, LRU_ALPHA)


class Pacer:
    """Keeps a generator at ``rate`` requests per second (None: as fast as it goes)."""

    def __init__(self, rate: float | None):
        self.rate = rate
        self.start = time.perf_counter()
        self.sent = 0

    def sent_now(self, n: int) -> None:
        self.sent += n
        if self.rate:
            ahead = self.start + self.sent / self.rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)


def run_lru_paced(client, args, seed: int) -> dict:
    """redis-cli's LRU test algorithm, seeded and paced: 250 SETs, then 250 GETs, repeat."""
    rng = random.Random(seed)
    total_ops = int(args.rate * args.seconds)
    warm_ops = int(args.rate * args.warmup)
    pacer = Pacer(args.rate)
    pipe = client.pipeline(transaction=False)
    hits = gets = 0
    done = 0
    while done < total_ops:
        for _ in range(LRU_PIPELINE):
            val = bytes(65 + rng.randrange(57) for _ in range(5))
            pipe.set(lru_key(rng, args.keyspace), val)
        pipe.execute()
        for _ in range(LRU_PIPELINE):
            pipe.get(lru_key(rng, args.keyspace))
        replies = pipe.execute()
        done += 2 * LRU_PIPELINE
        if done > warm_ops:
            gets += len(replies)
            hits += sum(1 for v in replies if v is not None)
        pacer.sent_now(2 * LRU_PIPELINE)
    return {"hits": hits, "gets": gets}


def run_hotcold(client, args, seed: int) -> dict:
    """Cache-aside: GET; on a miss, SET (what an application in front of a database does).
    80% of the reads go to the hottest 20% of ``hotcold_factor * cache_keys`` keys."""
    rng = random.Random(seed)
    universe = int(args.hotcold_factor * args.cache_keys)
    hot = max(1, universe // 5)
    total = int(args.rate * args.seconds)
    warm = int(args.rate * args.warmup)
    pacer = Pacer(args.rate)
    value = b"v" * args.value_size
    hits = gets = 0
    done = 0
    batch = 50
    while done < total:
        keys = [
            b"obj:%d" % (rng.randrange(hot) if rng.random() < 0.8 else hot + rng.randrange(universe - hot))
            for _ in range(batch)
        ]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        replies = pipe.execute()
        misses = [k for k, v in zip(keys, replies) if v is None]
        if misses:
            pipe = client.pipeline(transaction=False)
            for key in misses:
                pipe.set(key, value)
            pipe.execute()
        done += batch
        if done > warm:
            gets += batch
            hits += batch - len(misses)
        pacer.sent_now(batch + len(misses))
    return {"hits": hits, "gets": gets}


_LRU_LINE = re.compile(rb"(\d+) Gets/sec \| Hits: (\d+) \(")


def run_lru_test(port: int, args) -> dict:
    """``redis-cli --lru-test <keyspace>`` for ``--seconds``; the lines after ``--warmup``."""
    proc = subprocess.Popen(
        ["stdbuf", "-oL", REDIS_CLI, "-p", str(port), "--lru-test", str(args.keyspace)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    lines = []
    start = time.monotonic()
    try:
        for line in proc.stdout:
            lines.append((time.monotonic() - start, line))
            if time.monotonic() - start >= args.seconds:
                break
    finally:
        proc.kill()
        proc.wait()
    hits = gets = 0
    for t, line in lines:
        m = _LRU_LINE.search(line)
        if m and t > args.warmup:
            gets += int(m.group(1))
            hits += int(m.group(2))
    return {"hits": hits, "gets": gets}


# -- one comparison --------------------------------------------------------------------------------


def workload_shape(workload: str, args) -> tuple[list[bytes], bytes]:
    """Keys and value like the ones the workload keeps in the cache, for calibration."""
    if workload == "hotcold":
        return [b"obj:%d" % i for i in range(args.cache_keys)], b"v" * args.value_size
    return [b"lru:%d" % i for i in range(1, args.cache_keys + 1)], b"ABCDE"


def run(workload: str, port: int, client, args, seed: int) -> dict:
    if workload == "lru-test":
        return run_lru_test(port, args)
    if workload == "lru-paced":
        return run_lru_paced(client, args, seed)
    return run_hotcold(client, args, seed)


def tune_budget(workload: str, port: int, client, args, budget: int, empty: int) -> tuple[int, list]:
    """Adjust the filled budget so the keys held *under this workload* come out at
    ``--cache-keys`` (client buffers, key indexes and table sizes under churn differ from a
    plain fill): short runs with another seed, then a secant step. Returns the budget and
    the (budget, keys held) points tried."""
    short = argparse.Namespace(**vars(args))
    short.seconds, short.warmup = args.calibration_seconds, args.calibration_seconds
    target = args.cache_keys
    points: list[tuple[int, int]] = []
    per_key = max(1.0, (budget - empty) / target)
    for step in range(3):
        client.flushall()
        client.config_set("maxmemory", str(budget))
        run(workload, port, client, short, seed=7 + step)
        held = client.dbsize()
        points.append((budget, held))
        if abs(held - target) <= target * args.calibration_tolerance:
            break
        if len(points) >= 2 and points[-1][1] != points[-2][1]:
            (b0, k0), (b1, k1) = points[-2], points[-1]
            per_key = max(1.0, (b1 - b0) / (k1 - k0))
        budget = int(budget + (target - held) * per_key)
    client.flushall()
    return budget, points


def measure(kind: str, policy: str, workload: str, args, seed: int) -> dict:
    keys, value = workload_shape(workload, args)
    with server(kind, policy) as (port, client):
        empty = eviction_figure(client)
        budget = calibrate(client, keys, value)
        budget, points = tune_budget(workload, port, client, args, budget, empty)
        client.config_set("maxmemory", str(budget))
        t0 = time.monotonic()
        result = run(workload, port, client, args, seed)
        elapsed = time.monotonic() - t0
        result["calibration"] = points
        info = client.info()
        result.update(
            server=kind, policy=policy, workload=workload, maxmemory=budget,
            keys_held=client.dbsize(), evicted_keys=int(info["evicted_keys"]),
            used_memory=int(info["used_memory"]), seconds=round(elapsed, 1),
        )
    result["hit_ratio"] = 100.0 * result["hits"] / result["gets"] if result["gets"] else float("nan")
    return result


def report(results: list[dict]) -> str:
    rows = {}
    for r in results:
        rows.setdefault((r["policy"], r["workload"]), {})[r["server"]] = r
    out = [
        "| policy | workload | Redis hit % | Vermilion hit % | difference (pp) | keys held R / V | gets measured R / V |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (policy, workload), pair in rows.items():
        rr, vv = pair.get("redis"), pair.get("vermilion")
        if not (rr and vv):
            continue
        out.append(
            f"| {policy} | {workload} | {rr['hit_ratio']:.2f} | {vv['hit_ratio']:.2f} | "
            f"{vv['hit_ratio'] - rr['hit_ratio']:+.2f} | {rr['keys_held']:,} / {vv['keys_held']:,} | "
            f"{rr['gets']:,} / {vv['gets']:,} |"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.eviction_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--cache-keys", type=int, default=50_000, help="keys the budget is calibrated to hold")
    p.add_argument("--keyspace", type=int, default=1_000_000, help="lru-test keyspace (redis-cli --lru-test N)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds left out of the hit ratio")
    p.add_argument("--rate", type=float, default=20_000.0, help="requests/s of the paced workloads")
    p.add_argument("--hotcold-factor", type=float, default=2.5, help="hot/cold keys per cached key")
    p.add_argument("--value-size", type=int, default=32, help="hot/cold value bytes")
    p.add_argument("--repeat", type=int, default=1, help="runs per server (seeds differ per repeat)")
    p.add_argument("--calibration-seconds", type=float, default=15.0, help="length of each tuning run")
    p.add_argument("--calibration-tolerance", type=float, default=0.02, help="keys held within this share of --cache-keys")
    p.add_argument("--json", help="write every run's figures here")
    p.add_argument("--quick", action="store_true", help="tiny runs: proves the harness only")
    args = p.parse_args(argv)
    if args.quick:
        args.cache_keys, args.keyspace, args.seconds, args.warmup, args.rate = 2000, 20000, 3.0, 1.0, 5000.0
        args.calibration_seconds, args.calibration_tolerance = 1.0, 0.2
    results = []
    for policy in args.policies.split(","):
        for workload in args.workloads.split(","):
            for rep in range(args.repeat):
                seed = 1000 + rep
                for kind in ("redis", "vermilion"):
                    r = measure(kind, policy, workload, args, seed)
                    results.append(r)
                    print(
                        f"{policy:12} {workload:10} {kind:9} hit {r['hit_ratio']:6.2f}%  keys {r['keys_held']:>8,}  "
                        f"gets {r['gets']:>9,}  maxmemory {r['maxmemory']:>11,}  evicted {r['evicted_keys']:,}",
                        flush=True,
                    )
    print()
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    bad = [r for r in results if not r["gets"] or math.isnan(r["hit_ratio"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
