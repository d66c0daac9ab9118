"""redis-benchmark runs cleanly against Vermilion: every selected test completes with no
error and no warning (it reads CONFIG GET save/appendonly first and warns when that fails),
and the data it wrote is what its commands imply."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import pytest

from tests.support.resp import RawClient
from tests.support.servers import REDIS_BENCHMARK

TESTS = "ping,set,get,incr,mset"
EXPECTED = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]


def bench(port: int, *args: str) -> tuple[int, str]:
    with RawClient(port) as c:
        assert c.call("FLUSHALL") == b"+OK\r\n"  # only the benchmark's own keys count
    p = subprocess.run([REDIS_BENCHMARK, "-p", str(port), *args], capture_output=True, timeout=300)
    # Progress lines are rewritten in place with CR: keep what the terminal would end with.
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    return p.returncode, text


def _final_lines(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        last = raw.split("\r")[-1].strip()
        if last:
            lines.append(last)
    return lines


def test_quiet_suite_completes_without_errors(node):
    code, text = bench(node.port, "-t", TESTS, "-n", "2000", "-q")
    assert code == 0, text
    assert "WARNING" not in text, "redis-benchmark could not read CONFIG: " + text
    assert "ERR" not in text and "Error" not in text, text
    results = {}
    for line in _final_lines(text):
        m = re.match(r"(.+?): ([\d.]+) requests per second", line)
        if m:
            results[m.group(1)] = float(m.group(2))
    assert list(results) == EXPECTED, text
    assert all(rps > 0 for rps in results.values())


def test_data_written_by_the_benchmark(node):
    n = 3000
    code, text = bench(node.port, "-t", "set,incr", "-n", str(n), "-d", "7", "-q")
    assert code == 0, text
    with RawClient(node.port) as c:
        # Without -r every request hits the same literal key names (7 random bytes, -d 7).
        assert c.call("STRLEN", "key:__rand_int__") == b":7\r\n"
        assert c.call("GET", "counter:__rand_int__") == b"$4\r\n%d\r\n" % n


@pytest.mark.parametrize("extra", [["-P", "16", "-c", "20"], ["-c", "100"], ["-r", "1000", "-P", "8"]],
                         ids=["pipelined", "100_clients", "random_keys_pipelined"])
def test_csv_results_for_pipelined_and_concurrent_runs(node, extra):
    code, text = bench(node.port, "-t", "set,get,incr,mset", "-n", "5000", "--csv", *extra)
    assert code == 0, text
    assert "WARNING" not in text
    rows = list(csv.DictReader(io.StringIO("\n".join(_final_lines(text)))))
    assert [r["test"] for r in rows] == ["SET", "GET", "INCR", "MSET (10 keys)"]
    assert all(float(r["rps"]) > 0 for r in rows)
    if "-r" in extra:
        with RawClient(node.port) as c:
            # -r 1000: keys are key:000000000NNN and counter:000000000NNN, NNN < 1000.
            for pattern in ("key:*", "counter:*"):
                keys = c.call("KEYS", pattern).split(b"\r\n")[2::2]
                assert 0 < len(keys) <= 1000
                assert all(re.fullmatch(rb"(key|counter):0{9}\d{3}", k) for k in keys)
