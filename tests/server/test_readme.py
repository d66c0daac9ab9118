"""The README's command list is generated from the command table and must stay in sync."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_command_list_matches_the_command_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_command_list.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_starts_with_the_two_commands():
    lines = [l for l in (ROOT / "README.md").read_text().splitlines() if l.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("./dev.sh run")
    assert lines[3].startswith("./dev.sh test")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev.sh test" in ci
