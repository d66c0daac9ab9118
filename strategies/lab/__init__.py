"""The strategy lab: measure the strategies instead of describing them.

``python -m strategies.lab`` runs two scenarios and writes ``report.md``, ``results.json`` and
``chart.png`` into ``--out``:

main       each strategy under the same open-loop workload (Zipf or uniform keys, read/write
           mix, value size, database latency, concurrency) and the same fault schedule
           (cache killed, paused, slowed, restarted), against a fresh in-process Vermilion
           node (or ``--redis-url``) behind a fault-injecting proxy, and SQLite (or
           ``--db postgresql://...``);
stampede   one hot key expiring under load, compared across the stampede controls.

Modules: ``faults.py`` (proxy, servers, schedules), ``workload.py`` (the main scenario and
its checks), ``stampede.py``, ``report.py`` (tables and chart). Everything is bounded:
``LIMITS`` says how far each knob goes, and every run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from dataclasses import asdict, fields

from ..stampede import PRESETS, control
from .faults import ExternalServer, VermilionServer, is_loopback, parse_schedule
from .report import MAIN_COLUMNS, STAMPEDE_COLUMNS, chart, losses_text, main_rows, markdown_table, transitions_text
from .stampede import POLICIES, StampedeConfig, expiries, run_stampede
from .workload import EXTRA_STRATEGIES, STRATEGIES, Config, log, run_all

#: (min, max) of every numeric knob.
LIMITS = {
    "duration": (1, 600),
    "rate": (1, 20_000),
    "concurrency": (1, 1024),
    "keys": (1, 1_000_000),
    "zipf_s": (0, 3),
    "read_ratio": (0, 1),
    "value_size": (16, 1_000_000),
    "db_latency": (0, 2),
    "ttl": (0.05, 3600),
    "breaker_wait": (0.1, 300),
    "cache_timeout": (0.01, 30),
    "flush_interval": (0.01, 60),
    "batch_size": (1, 10_000),
    "st_duration": (1, 120),
    "st_ttl": (0.05, 60),
    "st_recompute": (0, 5),
    "st_processes": (1, 32),
    "st_readers": (1, 256),
}

QUICK = dict(duration=4, rate=300, keys=500, faults="kill@1+1.5", breaker_wait=0.5, flush_interval=0.2,
             st_duration=2, st_ttl=0.5, st_recompute=0.05, st_processes=2, st_readers=4)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


def seconds(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 5, 2.5s, 300ms)")
    return float(m[1]) / (1000 if m[2] == "ms" else 1)


def parser() -> argparse.ArgumentParser:
    d = Config()
    s = StampedeConfig()
    p = argparse.ArgumentParser(prog="python -m strategies.lab", description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=("all", "main", "stampede"), default="all")
    p.add_argument("--strategies", default=",".join(d.strategies),
                   help=f"comma-separated, from {', '.join(STRATEGIES + EXTRA_STRATEGIES)}")
    p.add_argument("--duration", type=seconds, default=d.duration, help="seconds per strategy")
    p.add_argument("--rate", type=float, default=d.rate, help="operations per second (open loop)")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="operations in flight at most")
    p.add_argument("--keys", type=int, default=d.keys)
    p.add_argument("--distribution", choices=("zipf", "uniform"), default="zipf")
    p.add_argument("--zipf-s", type=float, default=d.zipf_s, help="Zipf exponent")
    p.add_argument("--read-ratio", type=float, default=d.read_ratio)
    p.add_argument("--value-size", type=int, default=d.value_size, help="bytes")
    p.add_argument("--db-latency", type=seconds, default=d.db_latency, help="added to each DB query, e.g. 2ms")
    p.add_argument("--ttl", type=seconds, default=d.ttl)
    p.add_argument("--stampede", choices=sorted(PRESETS), default=d.stampede, help="control used in the main scenario")
    p.add_argument("--faults", default=d.faults, help="e.g. kill@5+4,pause@12+1.5,slow@16+2:600ms ('' for none)")
    p.add_argument("--breaker-wait", type=seconds, default=d.breaker_wait,
                   help="wait in open state (the OliveYoung preset says 30s; shortened to fit a run)")
    p.add_argument("--cache-timeout", type=seconds, default=d.cache_timeout, help="per cache call")
    p.add_argument("--flush-interval", type=seconds, default=d.flush_interval, help="write-back")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="write-back")
    p.add_argument("--redis-url",
                   help="use this (loopback) server instead of an in-process Vermilion node; the lab empties its database")
    p.add_argument("--db", default="sqlite", help="sqlite, or a postgresql:// DSN on loopback")
    p.add_argument("--policies", default=",".join(POLICIES),
                   help="stampede controls to compare; join with + to combine (xfetch+lease)")
    p.add_argument("--stampede-duration", dest="st_duration", type=seconds, default=s.duration)
    p.add_argument("--stampede-ttl", dest="st_ttl", type=seconds, default=s.ttl)
    p.add_argument("--recompute", dest="st_recompute", type=seconds, default=s.recompute,
                   help="DB time to load the hot key")
    p.add_argument("--processes", dest="st_processes", type=int, default=s.processes)
    p.add_argument("--readers", dest="st_readers", type=int, default=s.readers, help="per process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="lab-out", help="directory for report.md, results.json, chart.png")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--quick", action="store_true", help="a few seconds of everything (smoke test)")
    return p


def check_limits(args) -> None:
    for name, (lo, hi) in LIMITS.items():
        value = getattr(args, name)
        if not lo <= value <= hi:
            raise SystemExit(f"--{name.replace('_', '-')} must be between {lo} and {hi}")


def configs(args) -> tuple[Config, StampedeConfig]:
    known = set(STRATEGIES + EXTRA_STRATEGIES)
    strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    policies = tuple(s.strip() for s in args.policies.split(",") if s.strip())
    for s in strategies:
        if s not in known:
            raise SystemExit(f"unknown strategy {s!r}; known: {', '.join(sorted(known))}")
    for s in policies:
        try:
            control(s)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    if args.redis_url:
        try:
            ExternalServer(args.redis_url)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    if args.db != "sqlite":
        host = re.match(r"^postgres(?:ql)?://(?:[^@/]*@)?([^:/?]+)", args.db)
        if not host or not is_loopback(host[1]):
            raise SystemExit("--db must be 'sqlite' or a postgresql:// DSN on a loopback address")
    names = {f.name for f in fields(Config)}
    main = Config(**{k: v for k, v in vars(args).items() if k in names and k not in ("strategies",)})
    main.strategies = strategies
    if args.distribution == "uniform":
        main.zipf_s = 0.0
    st = StampedeConfig(policies=policies, duration=args.st_duration, ttl=args.st_ttl, recompute=args.st_recompute,
                        processes=args.st_processes, readers=args.st_readers, seed=args.seed)
    return main, st


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == p.get_default(name):
                setattr(args, name, value)
    check_limits(args)
    try:
        faults = parse_schedule(args.faults)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    cfg, st = configs(args)
    import uvloop  # the lab's own load is Python too: the faster loop keeps it off the numbers

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_main(args, cfg, st, faults))


async def _main(args, cfg: Config, st: StampedeConfig, faults) -> int:
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    sections = [f"# Strategy lab run ({time.strftime('%Y-%m-%d %H:%M', time.localtime(started))})", ""]
    results_json: dict = {"config": {k: v for k, v in asdict(cfg).items()}, "stampede_config": asdict(st)}
    server_name = f"external server {cfg.redis_url}" if cfg.redis_url else "in-process Vermilion node"
    if args.scenario in ("all", "main"):
        results = await run_all(cfg, faults)
        rows = main_rows(results)
        results_json["main"] = [r.summary() for r in results]
        sections += [
            "## Strategies under faults",
            "",
            f"Cache: {server_name} behind the fault proxy; database: {cfg.db} with "
            f"{cfg.db_latency * 1000:g} ms added per query; {cfg.duration:g} s per strategy at {cfg.rate:g} ops/s "
            f"(open loop, at most {cfg.concurrency} in flight), {cfg.keys} keys "
            f"({'Zipf s=%g' % cfg.zipf_s if cfg.zipf_s else 'uniform'}), {cfg.read_ratio:.0%} reads, "
            f"{cfg.value_size} B values, TTL {cfg.ttl:g} s, stampede control {cfg.stampede}; "
            f"faults: {cfg.faults or 'none'}. Breaker: OliveYoung preset with {cfg.breaker_wait:g} s in open state; "
            f"retry 2 attempts 100 ms apart; cache call timeout {cfg.cache_timeout * 1000:g} ms.",
            "",
            markdown_table(rows, MAIN_COLUMNS),
            "",
        ]
        text = losses_text(results)
        if text:
            sections += ["Write-back and the crash:", "", text, ""]
        text = transitions_text(results)
        if text:
            sections += ["Breaker transitions:", "", text, ""]
        if not args.no_chart:
            path = os.path.join(args.out, "chart.png")
            chart(results, faults, path, f"{cfg.rate:g} ops/s, {cfg.read_ratio:.0%} reads, faults: {cfg.faults or 'none'}")
            sections += ["![DB load, read p99 and hit ratio over time](chart.png)", ""]
            log(f"chart: {path}")
    if args.scenario in ("all", "stampede"):
        server = None
        url = cfg.redis_url
        if url is None:
            server = VermilionServer()
            await server.start()
            url = f"redis://127.0.0.1:{server.port}/0"
        try:
            st_results = await run_stampede(st, url)
        finally:
            if server is not None:
                await server.stop()
        results_json["stampede"] = [r.summary() for r in st_results]
        sections += [
            "## Stampede: one hot key expiring under load",
            "",
            f"{st.processes} processes x {st.readers} readers (think time {st.think * 1000:g} ms), TTL {st.ttl:g} s, "
            f"load costs {st.recompute * 1000:g} ms, {st.duration:g} s per control, starting warm "
            f"(the TTL runs out {expiries(st)} times; XFetch and stale-while-revalidate refresh before that).",
            "",
            markdown_table([r.summary() for r in st_results], STAMPEDE_COLUMNS),
            "",
        ]
    report = "\n".join(sections)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results_json, f, indent=1, default=str)
    print(report)
    log(f"report: {os.path.join(args.out, 'report.md')} ({time.time() - started:.0f}s)")
    return 0
