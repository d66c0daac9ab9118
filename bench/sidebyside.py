"""``python -m bench``: Vermilion and real Redis side by side under ``redis-benchmark``.

Design note
-----------
1. Plan the pinning (``machine.plan_pinning``), record the machine, and snapshot Vermilion's
   packages (``servers.snapshot_source``) so that every pass runs the same code.
2. Probe: start Vermilion alone and run each candidate test briefly; a test it answers with
   an error is left out of the default selection (and is an error when asked for by name).
3. Measure, alternating servers test by test: each repeat starts a fresh Redis and a fresh
   Vermilion, and every test (each pipeline depth) runs against one and then the other,
   which goes first alternating; only one server is ever under load (one
   ``redis-benchmark`` invocation per test, the server's CPU time read around it).
4. Report the medians over the repeats, per pipeline depth, and the project's goals.

Anything that makes a number untrustworthy (a server that does not start or dies, an
error reply, output we cannot parse) stops the run with a non-zero exit status.

Request counts: ``--requests N`` is per test at ``-P 1``; a run at ``-P p`` sends
``N * min(p, 10)`` requests, so that pipelined runs last long enough for the server's CPU
time (10 ms clock ticks) to be read precisely; the ``lrange_*`` tests send 5 to 10 times
fewer (``HEAVY_TESTS``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from . import loadgen
from .loadgen import ALL_TESTS, test_title
from .machine import Pinning, machine_info, plan_pinning, system_cpu_seconds, wait_until_quiet
from .report import (SERVERS, Sample, document, format_table, goal_lines, markdown, other_load_line,
                     summarize)
from .servers import BenchError, running, snapshot_source, source_revision

DEFAULT_REQUESTS = 100_000
QUICK_REQUESTS = 2_000
PIPELINE_SCALE_CAP = 10


#: Tests whose every request is much heavier than a GET run fewer requests, so that a run
#: lasts about as long as the others: their count is divided by this (LRANGE_600 replies
#: with 600 elements). The setup LPUSH fills the list with that many elements, so the
#: count never goes below 1,000 (LRANGE_600 must find 600).
HEAVY_TESTS = {"lrange_100": 5, "lrange_300": 10, "lrange_500": 10, "lrange_600": 10}
HEAVY_MIN_REQUESTS = 1_000


def requests_for(base: int, pipeline: int, test: str = "") -> int:
    n = base * min(max(pipeline, 1), PIPELINE_SCALE_CAP)
    divisor = HEAVY_TESTS.get(test)
    return n if divisor is None else max(n // divisor, HEAVY_MIN_REQUESTS)


def _csv_list(text: str, convert=str) -> list:
    items = [x.strip() for x in text.split(",") if x.strip()]
    try:
        return [convert(x) for x in items]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Vermilion against Debian's redis-server with redis-benchmark, "
        "one server at a time, each pinned to its own core.",
    )
    p.add_argument("--requests", type=int, default=None,
                   help=f"requests per test at -P 1 (default {DEFAULT_REQUESTS:,}; --quick: "
                        f"{QUICK_REQUESTS:,}); at -P p, N*min(p,{PIPELINE_SCALE_CAP})")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per server, alternating Redis and Vermilion; the median is reported "
                        "(default 3; --quick: 1)")
    p.add_argument("--tests", type=lambda s: _csv_list(s.lower()), default=None,
                   help="comma-separated redis-benchmark -t names (default: every test of its "
                        "default suite that Vermilion answers without errors)")
    p.add_argument("--pipeline", type=lambda s: _csv_list(s, int), default=[1, 16],
                   help="comma-separated pipeline depths (default 1,16)")
    p.add_argument("--clients", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to SECONDS for the machine to be idle (other "
                        "processes using < 25%% of a core); for shared machines (default 0: off)")
    p.add_argument("--json", metavar="FILE", help="also write every run and the medians as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    p.add_argument("--quick", action="store_true",
                   help="tiny request counts and one repeat: proves the harness, measures little")
    args = p.parse_args(argv)
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.requests < 1 or args.repeat < 1 or args.clients < 1 or not args.pipeline or min(args.pipeline) < 1:
        p.error("--requests, --repeat, --clients and --pipeline must be positive")
    if args.tests is not None:
        unknown = [t for t in args.tests if t not in ALL_TESTS]
        if unknown or not args.tests:
            p.error(f"unknown test(s) {', '.join(unknown) or '(none given)'}; "
                    f"choose from {', '.join(ALL_TESTS)}")
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def select_tests(args, pinning: Pinning) -> tuple[list[str], dict[str, str]]:
    """The tests to measure and the ones left out (with Vermilion's error)."""
    candidates = args.tests or list(ALL_TESTS)
    with running("vermilion", pinning, args.source) as node:
        found = loadgen.probe(node.port, candidates, pinning)
    failing = {t: err for t, err in found.items() if err is not None}
    if args.tests is not None and failing:
        raise BenchError("Vermilion cannot run the requested test(s):\n" +
                         "\n".join(f"  {t}: {err}" for t, err in failing.items()))
    return [t for t in candidates if t not in failing], failing


def measure_one(args, server, test: str, pipeline: int, pinning: Pinning, repeat: int) -> Sample:
    """One redis-benchmark run, with the server's and the machine's CPU time around it."""
    if args.settle > 0 and not wait_until_quiet(args.settle):
        _say(f"  the machine stayed busy for {args.settle:.0f} s: measuring {test} anyway")
    requests = requests_for(args.requests, pipeline, test)
    busy0, steal0 = system_cpu_seconds()
    cpu0 = server.cpu_seconds()
    run = loadgen.run(server.port, test, requests, args.clients, pipeline, pinning, server.name)
    cpu = server.cpu_seconds() - cpu0
    busy1, steal1 = system_cpu_seconds()
    other = max(0.0, (busy1 - busy0) - cpu - run.loadgen_cpu_s)
    return Sample(
        server=server.kind, pipeline=pipeline, test=test, title=test_title(test, run.row.title), repeat=repeat,
        test_requests=requests, requests=run.requests, rps=run.row.rps,
        p50_latency_ms=run.row.p50_latency_ms, p99_latency_ms=run.row.p99_latency_ms,
        server_cpu_s=cpu, wall_s=run.wall_s, loadgen_cpu_s=run.loadgen_cpu_s, other_cpu_s=other,
        steal_s=steal1 - steal0, has_setup=bool(run.setup_rows),
    )


def measure(args, tests: list[str], pinning: Pinning) -> list[Sample]:
    """Each repeat starts both servers afresh; each test then runs against one and at once
    against the other, the first of the two alternating from test to test. The two figures
    of a ratio are taken seconds apart: the VM's speed drifts over minutes, and a whole pass
    of one server after the other's let that drift into the ratio."""
    samples: list[Sample] = []
    for repeat in range(args.repeat):
        _say(f"repeat {repeat + 1}/{args.repeat}")
        with running(SERVERS[0], pinning, args.source) as one, running(SERVERS[1], pinning, args.source) as two:
            turn = repeat
            for pipeline in args.pipeline:
                for test in tests:
                    for server in (one, two) if turn % 2 == 0 else (two, one):
                        samples.append(measure_one(args, server, test, pipeline, pinning, repeat))
                    turn += 1
            one.check_alive()
            two.check_alive()
    return samples


def benchmark(args) -> tuple[dict, str]:
    """Run everything; returns (the JSON document, the text report)."""
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found: install Debian's redis-server and redis-tools "
                             "(./dev.sh bench does)")
    pinning = plan_pinning()
    machine = machine_info()
    _say(f"machine: {machine['nproc']} cores, {machine['cpu_model']}, Python {machine['python']}")
    _say(f"pinning: {pinning.note}")
    machine["vermilion_source"] = source_revision()
    args.source = snapshot_source()
    try:
        return _benchmark(args, pinning, machine)
    finally:
        shutil.rmtree(args.source, ignore_errors=True)


def _benchmark(args, pinning: Pinning, machine: dict) -> tuple[dict, str]:
    tests, skipped = select_tests(args, pinning)
    if not tests:
        raise BenchError("no test left to run")
    for test, err in skipped.items():
        _say(f"skipped {test}: Vermilion answers {err}")
    samples = measure(args, tests, pinning)
    summary = summarize(samples)
    settings = {"clients": args.clients, "pipelines": args.pipeline, "repeat": args.repeat,
                "requests_at_p1": args.requests,
                "requests": {str(p): {t: requests_for(args.requests, p, t) for t in tests}
                             for p in args.pipeline},
                "settle_s": args.settle, "tests": tests}
    doc = document(summary, samples, settings, machine, pinning.as_dict(), skipped)
    return doc, render(args, summary, samples, machine, pinning, skipped)


def render(args, summary, samples, machine: dict, pinning: Pinning, skipped: dict) -> str:
    """The text report: header, one table per pipeline depth, skipped tests, load, goals."""
    parts = [f"Vermilion ({machine['vermilion_source']}) vs Redis {machine['redis_server']} on "
             f"{machine['nproc']} cores, {machine['cpu_model']}, Python {machine['python']}",
             f"pinning: {pinning.note}"]
    for pipeline, by_test in summary.items():
        parts.append("")
        parts.append(format_table(pipeline, by_test, args.clients, args.repeat))
    if skipped:
        parts.append("")
        parts.append("not run (Vermilion answers with an error): " + ", ".join(skipped))
    parts.append("")
    parts.append(other_load_line(samples))
    goals = goal_lines(summary)
    if goals:
        parts.append("")
        parts.extend(goals)
    return "\n".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        doc, text = benchmark(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown({int(p): t for p, t in doc["results"].items()}))
    print(text)
    return 0
