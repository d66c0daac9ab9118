"""``python -m bench.profile``: where a Vermilion node spends its time under redis-benchmark.

Design note
-----------
Starts a node exactly as ``python -m bench`` does (``python -m server``, pinned), attaches
py-spy (a sampling profiler: it reads the process from outside, so the server runs its
normal code at nearly normal speed), drives it with ``redis-benchmark`` on the other core,
then stops py-spy and folds its collapsed stacks into two tables:

* self time: the function on top of the stack when sampled (where the CPU actually is);
* inclusive time: the samples in which a function appears anywhere on the stack.

Percentages are of the samples in which the server was busy (py-spy leaves out samples of
an idle thread, waiting in epoll). ``--native`` adds C frames (uvloop, hiredis, CPython).

py-spy is not a project dependency: ``.venv/bin/pip install py-spy`` first. It needs ptrace
rights over the server (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from . import loadgen
from .machine import plan_pinning
from .servers import BenchError, running


def py_spy() -> str:
    found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(found):
        raise BenchError("py-spy not found: .venv/bin/pip install py-spy")
    return found


def fold(collapsed: str) -> tuple[collections.Counter, collections.Counter, int]:
    """(self samples, inclusive samples, total samples) per frame from py-spy's raw format
    ("frame;frame;frame count" per line)."""
    self_t: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        # The thread name is the first frame ("process 123:\"python\"" or "thread (0x..)").
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return self_t, incl, total


def table(counter: collections.Counter, total: int, top: int, title: str) -> str:
    lines = [title, f"{'%':>6}  {'samples':>8}  frame"]
    for frame, n in counter.most_common(top):
        lines.append(f"{n / total:6.1%}  {n:8d}  {frame}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("--tests", default="get,set", help="redis-benchmark -t names (default get,set)")
    p.add_argument("--pipeline", type=int, default=16)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=1_000_000, help="per test (default 1,000,000)")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--native", action="store_true", help="include C frames")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--output", help="keep py-spy's collapsed stacks in this file")
    args = p.parse_args(argv)
    pinning = plan_pinning()
    out_path = args.output or tempfile.mktemp(prefix="vermilion-profile-", suffix=".txt")
    try:
        with running("vermilion", pinning) as node:
            cmd = [py_spy(), "record", "--pid", str(node.pid), "--rate", str(args.rate),
                   "--format", "raw", "--function", "-o", out_path]
            # Native stacks need the process paused while sampled; Python-only ones do not.
            cmd.append("--native" if args.native else "--nonblocking")
            spy = subprocess.Popen(pinning.prefix("loadgen") + cmd, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
            try:
                for test in args.tests.split(","):
                    run = loadgen.run(node.port, test, args.requests, args.clients, args.pipeline,
                                      pinning, node.name)
                    print(f"{run.row.title}: {run.row.rps:,.0f} ops/s under the profiler", file=sys.stderr)
            finally:
                spy.send_signal(signal.SIGINT)
                _, err = spy.communicate(timeout=60)
            if not os.path.exists(out_path):
                raise BenchError(f"py-spy wrote nothing: {err.strip()}")
    except BenchError as exc:
        print(f"bench.profile: {exc}", file=sys.stderr)
        return 1
    with open(out_path) as f:
        self_t, incl, total = fold(f.read())
    if not total:
        print("bench.profile: no samples", file=sys.stderr)
        return 1
    print(f"{total} busy samples at {args.rate} Hz; -t {args.tests} -P {args.pipeline} -c {args.clients}")
    print(table(self_t, total, args.top, "\nself time (top of stack)"))
    print(table(incl, total, args.top, "\ninclusive time (anywhere on the stack)"))
    if not args.output:
        os.unlink(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
