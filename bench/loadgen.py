"""The load generator: ``redis-benchmark`` runs, their CSV, and the probe.

Design note
-----------
Each test is its own ``redis-benchmark -t NAME --csv`` invocation so the server's CPU time
can be read around it. Test names are ``redis-benchmark``'s own ``-t`` names; a CSV row is
matched to its test by the first word of its title (``"MSET (10 keys)"`` is ``mset``).
Some tests make ``redis-benchmark`` run a setup first (every ``lrange_*`` runs
``"LPUSH (needed to benchmark LRANGE)"`` with the same request count): those rows are kept
apart, and the invocation's request count includes them, so CPU per request for such a
test is the average over the setup and the test (the table marks it).

``redis-benchmark`` 7.0 stops at the first error reply and exits with status 1
(``Error from server: ...`` on stderr). ``probe`` uses that to learn which tests a server
answers without errors; a measured run that errors is a failure of the whole benchmark.

The load generator's own CPU time (``RUSAGE_CHILDREN`` around the run; ``taskset`` execs
it, so it is the one child reaped) over the run's wall time says whether it, not the
server, was the bottleneck: near 100 % means the number is a floor for that server.
"""

from __future__ import annotations

import csv
import resource
import subprocess
import time
from dataclasses import dataclass, field

from .machine import Pinning
from .servers import BenchError

#: redis-benchmark 7.0's default suite, in its order (its ``-t`` names).
DEFAULT_TESTS = (
    "ping_inline", "ping_mbulk", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop",
    "sadd", "hset", "spop", "zadd", "zpopmin", "lrange_100", "lrange_300", "lrange_500",
    "lrange_600", "mset",
)
#: Tests with larger values: ``NAME:BYTES`` runs ``-t NAME -d BYTES`` (redis-benchmark's
#: default value is 3 bytes).
SIZED_TESTS = ("set:1024", "get:1024")
ALL_TESTS = DEFAULT_TESTS + SIZED_TESTS


def split_test(test: str) -> tuple[str, int | None]:
    """``"get:1024"`` -> ``("get", 1024)``; ``"get"`` -> ``("get", None)``."""
    name, _, size = test.partition(":")
    return name, int(size) if size else None


def test_title(test: str, row_title: str) -> str:
    """The table's label: redis-benchmark's title, with the value size when not default."""
    size = split_test(test)[1]
    return row_title if size is None else f"{row_title} ({size:,}-byte values)"
SETUP_MARK = "(needed to benchmark"
PROBE_REQUESTS = 200
RUN_TIMEOUT = 900


@dataclass
class Row:
    title: str
    rps: float
    avg_latency_ms: float
    p50_latency_ms: float
    p99_latency_ms: float


@dataclass
class Run:
    """One redis-benchmark invocation of one test."""

    test: str
    row: Row
    setup_rows: list[Row] = field(default_factory=list)
    requests: int = 0  # every request the invocation sent, setup included
    wall_s: float = 0.0
    loadgen_cpu_s: float = 0.0


def row_test(title: str) -> str:
    return title.split()[0].lower()


def parse_csv(text: str) -> list[Row]:
    """The data rows of ``redis-benchmark --csv`` output (other lines are ignored)."""
    rows = []
    for rec in csv.reader(line for line in text.splitlines() if line.startswith('"')):
        if not rec or rec[0] == "test":
            continue
        try:
            rows.append(Row(rec[0], float(rec[1]), float(rec[2]), float(rec[4]), float(rec[6])))
        except (IndexError, ValueError) as exc:
            raise BenchError(f"unexpected redis-benchmark CSV line: {rec!r}") from exc
    return rows


def command(port: int, test: str, requests: int, clients: int, pipeline: int) -> list[str]:
    name, size = split_test(test)
    return [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
        "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
        "-t", name, *(["-d", str(size)] if size else []), "--csv",
    ]


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _invoke(argv: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"redis-benchmark took more than {RUN_TIMEOUT} s: {' '.join(argv)}") from exc
    except OSError as exc:
        raise BenchError(f"cannot run redis-benchmark: {exc}") from exc
    return proc, time.perf_counter() - t0, _children_cpu() - cpu0


def _failure(proc: subprocess.CompletedProcess) -> str:
    text = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
    return text.splitlines()[0].removeprefix("Error from server: ")


def run(port: int, test: str, requests: int, clients: int, pipeline: int, pinning: Pinning,
        server_name: str = "server") -> Run:
    argv = pinning.prefix("loadgen") + command(port, test, requests, clients, pipeline)
    proc, wall, lg_cpu = _invoke(argv)
    if proc.returncode != 0:
        raise BenchError(f"{test} against {server_name}: redis-benchmark failed: {_failure(proc)}")
    rows = parse_csv(proc.stdout)
    name = split_test(test)[0]
    main = [r for r in rows if row_test(r.title) == name and SETUP_MARK not in r.title]
    if len(main) != 1:
        raise BenchError(f"{test} against {server_name}: no result row in redis-benchmark output:\n"
                         f"{proc.stdout}{proc.stderr}")
    setup = [r for r in rows if SETUP_MARK in r.title]
    return Run(test, main[0], setup, requests * (1 + len(setup)), wall, lg_cpu)


def probe(port: int, tests, pinning: Pinning) -> dict[str, str | None]:
    """For each test, None if the server answers all of it without errors, else the error."""
    out: dict[str, str | None] = {}
    for test in tests:
        argv = pinning.prefix("loadgen") + command(port, test, PROBE_REQUESTS, 1, 1)
        proc, _, _ = _invoke(argv)
        out[test] = None if proc.returncode == 0 and parse_csv(proc.stdout) else _failure(proc)
    return out
