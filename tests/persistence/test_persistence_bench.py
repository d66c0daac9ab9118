"""``python -m bench.persistence_bench`` runs end to end on a tiny dataset (this proves the
harness: both servers save, reload and load each other's file; it measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_snapshot_benchmark_runs_and_reports(tmp_path):
    out = tmp_path / "pbench.json"
    p = subprocess.run([sys.executable, "-m", "bench.persistence_bench", "--keys", "3000", "--repeats", "1",
                        "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SAVE (s)" in p.stdout and "load, server's figure (s)" in p.stdout
    doc = json.loads(out.read_text())
    for server in ("redis", "vermilion"):
        entry = doc["servers"][server]
        assert entry["save_s"] > 0 and entry["load_s"] >= 0 and entry["file_bytes"] > 3000 * 10
    assert all(cross["ok"] and cross["keys"] == 3000 for cross in doc["cross"].values())


def test_the_aof_benchmark_runs_and_reports(tmp_path):
    """``python -m bench.aof_bench`` end to end with a few hundred SETs per run: both servers,
    one fsync policy (the other is one argument away), the restart check (same DBSIZE from
    the AOF) included."""
    out = tmp_path / "aofbench.json"
    p = subprocess.run([sys.executable, "-m", "bench.aof_bench", "--requests", "300", "--repeats", "1",
                        "--policies", "always", "--pipelines", "1,4", "--clients", "4",
                        "--dir", str(tmp_path / "work"), "--json", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "| always | 4 |" in p.stdout and "| always | 1 |" in p.stdout
    doc = json.loads(out.read_text())
    assert sorted(doc) == sorted("%s/P%d/%s" % (policy, pipeline, kind) for policy in ("always",)
                                 for pipeline in (1, 4) for kind in ("redis", "vermilion"))
    assert all(entry["rps"] > 0 for entry in doc.values())
