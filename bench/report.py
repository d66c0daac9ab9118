"""From measured runs to medians, the per-test tables, the goals and the JSON document.

Design note
-----------
A ``Sample`` is one server's result for one test at one pipeline depth in one repeat:
ops/s as ``redis-benchmark`` reported it, the server's CPU time per request (from
``/proc/<pid>/stat``), and how busy the load generator was. ``summarize`` takes the median
of each figure over the repeats separately (the median ops/s and the median CPU cost may
come from different repeats), and the ratio is Vermilion's median over Redis's median.
The CPU ratio (Redis's CPU per request over Vermilion's) is the throughput ratio to expect
when both are CPU-bound; it moves less than ops/s when neighbours share the machine.
"Other load" (the machine's CPU time used by neither the server nor the load generator
during a run) is carried along so that a number taken on a busy machine can be told apart.
"""

from __future__ import annotations

import math

import statistics
from dataclasses import asdict, dataclass

from .loadgen import DEFAULT_TESTS
from .machine import CLOCK_TICKS
from .servers import NAMES

SERVERS = ("redis", "vermilion")

#: The project's throughput goals: (pipeline depth, tests) -> minimum Vermilion/Redis ratio.
GOALS = {16: 0.5, 1: 0.9}
GOAL_TESTS = ("get", "set")
#: ... and over the whole default suite at -P 16: the geometric mean, and the floor.
SUITE_GOAL = (16, 0.5, 0.3)


@dataclass
class Sample:
    server: str
    pipeline: int
    test: str
    title: str
    repeat: int
    test_requests: int  # the test's own requests (-n)
    requests: int  # sent by the invocation, setup included
    rps: float
    p50_latency_ms: float
    p99_latency_ms: float
    server_cpu_s: float
    wall_s: float
    loadgen_cpu_s: float
    other_cpu_s: float  # the machine's busy time that was neither the server nor the load generator
    steal_s: float
    has_setup: bool

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6

    @property
    def loadgen_busy(self) -> float:
        return self.loadgen_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def other_load(self) -> float:
        """Other processes' CPU use during the run, in cores."""
        return self.other_cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def _median_of(samples: list[Sample]) -> dict:
    return {
        "ops_per_sec": statistics.median(s.rps for s in samples),
        "cpu_us_per_request": statistics.median(s.cpu_us_per_request for s in samples),
        "p50_latency_ms": statistics.median(s.p50_latency_ms for s in samples),
        "p99_latency_ms": statistics.median(s.p99_latency_ms for s in samples),
        "loadgen_busy": statistics.median(s.loadgen_busy for s in samples),
        "other_load": statistics.median(s.other_load for s in samples),
        "runs": [
            {"ops_per_sec": s.rps, "cpu_us_per_request": s.cpu_us_per_request,
             "server_cpu_s": s.server_cpu_s, "wall_s": s.wall_s, "loadgen_cpu_s": s.loadgen_cpu_s,
             "other_cpu_s": s.other_cpu_s, "steal_s": s.steal_s, "requests": s.requests}
            for s in samples
        ],
    }


def summarize(samples: list[Sample]) -> dict[int, dict[str, dict]]:
    """{pipeline: {test: {"title", "requests", "has_setup", "redis", "vermilion", "ratio"}}},
    tests in the order they were run."""
    out: dict[int, dict[str, dict]] = {}
    for s in samples:
        entry = out.setdefault(s.pipeline, {}).setdefault(
            s.test, {"title": s.title, "has_setup": s.has_setup, "requests": s.test_requests}
        )
        entry.setdefault("_samples", {}).setdefault(s.server, []).append(s)
    for tests in out.values():
        for entry in tests.values():
            by_server = entry.pop("_samples")
            for server in SERVERS:
                if server in by_server:
                    entry[server] = _median_of(by_server[server])
            if all(server in entry for server in SERVERS):
                entry["ratio"] = entry["vermilion"]["ops_per_sec"] / entry["redis"]["ops_per_sec"]
                # Redis's CPU cost over Vermilion's: the throughput ratio to expect when both
                # servers are CPU-bound. Steadier than ops/s on a shared machine.
                v_cpu = entry["vermilion"]["cpu_us_per_request"]
                entry["cpu_ratio"] = entry["redis"]["cpu_us_per_request"] / v_cpu if v_cpu else None
    return out


def _fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}×"


def format_table(pipeline: int, tests: dict[str, dict], clients: int, repeat: int) -> str:
    header = ("test", "Redis ops/s", "Vermilion ops/s", "V/R", "Redis CPU µs/req",
              "Verm. CPU µs/req", "CPU R/V", "bench busy R/V")
    rows = []
    for entry in tests.values():
        r, v = entry["redis"], entry["vermilion"]
        rows.append((
            entry["title"] + (" †" if entry["has_setup"] else ""),
            _fmt_int(r["ops_per_sec"]),
            _fmt_int(v["ops_per_sec"]),
            f"{entry['ratio']:.2f}×",
            f"{r['cpu_us_per_request']:.2f}",
            f"{v['cpu_us_per_request']:.2f}",
            _fmt_ratio(entry["cpu_ratio"]),
            f"{r['loadgen_busy']:.0%} / {v['loadgen_busy']:.0%}",
        ))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells) -> str:
        first = cells[0].ljust(widths[0])
        rest = (str(c).rjust(w) for c, w in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest])

    counts = sorted({e["requests"] for e in tests.values()}, reverse=True)
    title = (f"-P {pipeline}: redis-benchmark -c {clients} -P {pipeline}, "
             f"{' or '.join(f'{n:,}' for n in counts)} requests per run, median of {repeat}")
    out = [title, line(header), line(["-" * w for w in widths]), *map(line, rows)]
    if any(e["has_setup"] for e in tests.values()):
        out.append("† CPU per request averaged over the test and the setup redis-benchmark runs before it")
    return "\n".join(out)


#: Other load (in cores) above which a run's numbers are called noisy.
NOISY_OTHER_LOAD = 0.15
MIN_WALL_FOR_WARNING = 2.0


def other_load_line(samples: list[Sample]) -> str:
    """How busy the rest of the machine was while we measured (CPU time of other work over
    wall time, summed over each server's runs; /proc/stat counts 10 ms ticks, so runs much
    shorter than a second make this figure coarse)."""
    parts = []
    worst = 0.0
    for server in SERVERS:
        mine = [s for s in samples if s.server == server]
        wall = sum(s.wall_s for s in mine)
        if wall > 0:
            load = sum(s.other_cpu_s for s in mine) / wall
            worst = max(worst, load if wall >= MIN_WALL_FOR_WARNING else 0.0)
            parts.append(f"{NAMES[server]} runs {load:.0%}")
    line = "other load on the machine during the runs (CPU, % of one core): " + "; ".join(parts)
    if worst > NOISY_OTHER_LOAD:
        line += "\nwarning: other processes competed for the CPU during the runs: expect noise"
    return line


def markdown(summary: dict[int, dict[str, dict]]) -> str:
    """The per-test tables as Markdown (for bench/README.md)."""
    out = []
    for pipeline, tests in summary.items():
        out.append(f"**-P {pipeline}**\n")
        out.append("| test | requests | Redis ops/s | Vermilion ops/s | V/R | Redis CPU µs/req | "
                   "Vermilion CPU µs/req | CPU R/V |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for entry in tests.values():
            r, v = entry["redis"], entry["vermilion"]
            out.append(
                f"| {entry['title']}{' †' if entry['has_setup'] else ''} | {entry['requests']:,} | "
                f"{_fmt_int(r['ops_per_sec'])} | {_fmt_int(v['ops_per_sec'])} | {entry['ratio']:.2f} | "
                f"{r['cpu_us_per_request']:.2f} | {v['cpu_us_per_request']:.2f} | "
                f"{_fmt_ratio(entry['cpu_ratio'])} |"
            )
        out.append("")
    return "\n".join(out)


def goal_lines(summary: dict[int, dict[str, dict]]) -> list[str]:
    lines = []
    for pipeline, minimum in GOALS.items():
        for test in GOAL_TESTS:
            entry = summary.get(pipeline, {}).get(test)
            if entry is None or "ratio" not in entry:
                continue
            verdict = "met" if entry["ratio"] >= minimum else "not met"
            cpu = entry.get("cpu_ratio")
            lines.append(f"goal {test.upper()} at -P {pipeline}: Vermilion/Redis = {entry['ratio']:.2f} "
                         f"(goal >= {minimum}): {verdict}"
                         + ("" if cpu is None else f"; CPU cost ratio Redis/Vermilion = {cpu:.2f}"))
    pipeline, mean_goal, floor = SUITE_GOAL
    suite = {t: e for t, e in summary.get(pipeline, {}).items() if t in DEFAULT_TESTS and "ratio" in e}
    if len(suite) == len(DEFAULT_TESTS):
        ratios = [e["ratio"] for e in suite.values()]
        mean = math.exp(sum(map(math.log, ratios)) / len(ratios))
        lowest = min(suite, key=lambda t: suite[t]["ratio"])
        cpu = [e["cpu_ratio"] for e in suite.values() if e.get("cpu_ratio")]
        lines.append(
            f"goal default suite at -P {pipeline}: geometric mean Vermilion/Redis = {mean:.2f} "
            f"(goal >= {mean_goal}): {'met' if mean >= mean_goal else 'not met'}; lowest "
            f"{lowest.upper()} = {suite[lowest]['ratio']:.2f} (goal >= {floor}): "
            f"{'met' if suite[lowest]['ratio'] >= floor else 'not met'}"
            + (f"; CPU cost ratio geometric mean = {math.exp(sum(map(math.log, cpu)) / len(cpu)):.2f}"
               if len(cpu) == len(suite) else "")
        )
    return lines


def document(summary, samples: list[Sample], settings: dict, machine: dict, pinning: dict,
             skipped: dict[str, str]) -> dict:
    """The ``--json`` document: settings, machine, every run, the medians and the goals."""
    return {
        "settings": settings,
        "machine": machine,
        "pinning": pinning,
        "cpu_time_resolution_s": 1 / CLOCK_TICKS,
        "skipped_tests": skipped,
        "results": {str(p): tests for p, tests in summary.items()},
        "goals": goal_lines(summary),
        "samples": [asdict(s) for s in samples],
    }
