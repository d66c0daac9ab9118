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
