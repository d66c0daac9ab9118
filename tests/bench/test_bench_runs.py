"""``python -m bench --quick`` runs end to end: both servers start, redis-benchmark's CSV
is parsed, CPU time is read, the table and the JSON document come out (tiny request counts:
this proves the harness, it measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.loadgen import parse_csv, row_test
from bench.machine import plan_pinning

pytestmark = pytest.mark.interop


def test_quick_side_by_side_run_produces_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--requests", "500", "--tests", "ping_mbulk,set,get",
         "--json", str(out)],
        capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert "-P 1:" in proc.stdout and "-P 16:" in proc.stdout
    assert "goal GET at -P 16" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["settings"]["requests"] == {
        "1": {"ping_mbulk": 500, "set": 500, "get": 500},
        "16": {"ping_mbulk": 5000, "set": 5000, "get": 5000},
    }
    for pipeline in ("1", "16"):
        results = doc["results"][pipeline]
        assert list(results) == ["ping_mbulk", "set", "get"]
        for entry in results.values():
            for server in ("redis", "vermilion"):
                assert entry[server]["ops_per_sec"] > 0
                assert entry[server]["cpu_us_per_request"] >= 0
            assert entry["ratio"] == pytest.approx(
                entry["vermilion"]["ops_per_sec"] / entry["redis"]["ops_per_sec"])
    # One sample per server, pipeline and test, the two servers in turn for each test, the
    # first of them alternating.
    samples = [(s["pipeline"], s["test"], s["server"]) for s in doc["samples"]]
    tests = [(p, t) for p in (1, 16) for t in ("ping_mbulk", "set", "get")]
    assert samples == [
        (p, t, server)
        for i, (p, t) in enumerate(tests)
        for server in (("redis", "vermilion") if i % 2 == 0 else ("vermilion", "redis"))
    ]


def test_unknown_test_name_is_refused():
    proc = subprocess.run([sys.executable, "-m", "bench", "--tests", "nosuchtest"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "unknown test(s) nosuchtest" in proc.stderr


def test_csv_rows_are_matched_to_their_test_and_setup_rows_kept_apart():
    text = (
        '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
        '"p99_latency_ms","max_latency_ms"\n'
        'Error-free noise line\n'
        '"LPUSH (needed to benchmark LRANGE)","40000.00","0.810","0.200","0.687","1.583","4.319","4.463"\n'
        '"LRANGE_100 (first 100 elements)","28571.43","1.090","0.136","1.055","1.759","2.759","2.975"\n'
    )
    rows = parse_csv(text)
    assert [(row_test(r.title), r.rps, r.p50_latency_ms, r.p99_latency_ms) for r in rows] == [
        ("lpush", 40000.0, 0.687, 4.319),
        ("lrange_100", 28571.43, 1.055, 2.759),
    ]


def test_two_cores_share_the_server_core_and_give_the_load_generator_the_other():
    plan = plan_pinning([0, 1])
    assert (plan.redis, plan.vermilion, plan.loadgen) == (0, 0, 1)
    assert plan.prefix("loadgen")[-2:] == ["-c", "1"]
    one = plan_pinning([3])
    assert one.prefix("redis") == [] and one.loadgen is None
