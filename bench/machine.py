"""The machine a benchmark runs on: facts to record, the core pinning plan, CPU time.

Design note
-----------
A benchmark number means little without the machine it came from, so every run records the
core count, the CPU model, the Python that ran Vermilion and the versions of the libraries
and tools on the hot path (``machine_info``).

Pinning (``plan_pinning``) keeps the servers and the load generator from competing for a
core. The servers are never under load at the same time (the side-by-side run keeps both
started and loads one at a time; the other bench scripts run one after the other), so they
may share a core:

* 3 or more usable cores: Redis on the first, Vermilion on the second, ``redis-benchmark``
  on the third, choosing cores that are not hyper-thread siblings of each other when the
  topology allows it;
* 2 cores (this project's machines): both servers on the first core, loaded one at a time,
  ``redis-benchmark`` on the second;
* 1 core: no pinning is possible; the run says so and its numbers are only indicative.

Other work on the machine skews every number, so the machine's total busy time (``/proc/stat``)
is read around each run too: what is neither the server nor the load generator is "other
load", reported so that a noisy run can be recognised. On a shared machine
``wait_until_quiet`` (``--settle``) holds each run back until the other work pauses.

CPU time is read from ``/proc/<pid>/stat`` (utime + stime of the whole process, all threads,
in clock ticks): the difference around a run, divided by the requests it served, is the
server's CPU cost per request.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Pinning:
    """Which core (or None: not pinned) each process runs on."""

    redis: int | None
    vermilion: int | None
    loadgen: int | None
    note: str

    def prefix(self, role: str) -> list[str]:
        """The ``taskset`` words to put before a command run in ``role``."""
        core = getattr(self, role)
        if core is None or shutil.which("taskset") is None:
            return []
        return ["taskset", "-c", str(core)]

    def as_dict(self) -> dict:
        return {"redis": self.redis, "vermilion": self.vermilion, "loadgen": self.loadgen, "note": self.note}


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _siblings(cpu: int) -> set[int]:
    """The hyper-thread siblings of ``cpu`` (itself included), from sysfs."""
    path = f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list"
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return {cpu}
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _distinct_physical(cpus: list[int], want: int) -> list[int]:
    """Up to ``want`` cpus, preferring ones on different physical cores."""
    chosen: list[int] = []
    taken: set[int] = set()
    for cpu in cpus:
        if cpu not in taken:
            chosen.append(cpu)
            taken |= _siblings(cpu)
    for cpu in cpus:  # not enough physical cores: fill with siblings
        if cpu not in chosen:
            chosen.append(cpu)
    return chosen[:want]


def plan_pinning(cpus: list[int] | None = None) -> Pinning:
    cpus = usable_cpus() if cpus is None else cpus
    if len(cpus) >= 3:
        r, v, lg = _distinct_physical(cpus, 3)
        return Pinning(r, v, lg, f"Redis on CPU {r}, Vermilion on CPU {v}, redis-benchmark on CPU {lg}; "
                                 "the servers are loaded one at a time")
    if len(cpus) == 2:
        s, lg = cpus
        return Pinning(s, s, lg, f"{len(cpus)} cores: both servers on CPU {s}, never under load at "
                                 f"the same time; redis-benchmark on CPU {lg}")
    return Pinning(None, None, None, "1 core: nothing pinned; servers and redis-benchmark share it")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of proc(5)


def system_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat: busy is every
    state but idle and iowait; steal is time the hypervisor gave to someone else."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS, steal / CLOCK_TICKS


def wait_until_quiet(max_wait: float, threshold: float = 0.25, window: float = 0.5) -> bool:
    """Wait (at most ``max_wait`` seconds) until the machine uses less than ``threshold``
    of a core over a ``window``; True if it got quiet. Called between runs, when our own
    processes are idle, so what it sees is other work."""
    deadline = time.monotonic() + max_wait
    while True:
        busy0, _ = system_cpu_seconds()
        time.sleep(window)
        busy1, _ = system_cpu_seconds()
        if (busy1 - busy0) / window < threshold:
            return True
        if time.monotonic() >= deadline:
            return False


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version_of(program: str) -> str:
    """``7.0.15`` from ``redis-server --version`` ("Redis server v=7.0.15 sha=...") or
    ``redis-benchmark --version`` ("redis-benchmark 7.0.15")."""
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    for word in out.stdout.split():
        word = word.removeprefix("v=")
        if word[:1].isdigit():
            return word
    return out.stdout.strip() or "unknown"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def machine_info() -> dict:
    return {
        "nproc": len(usable_cpus()),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "uvloop": _package_version("uvloop"),
        "hiredis": _package_version("hiredis"),
        "redis_server": _version_of("redis-server"),
        "redis_benchmark": _version_of("redis-benchmark"),
    }
