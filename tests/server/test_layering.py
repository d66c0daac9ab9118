"""The import directions of DESIGN.md: ``protocol`` imports nothing of ours; the strategies
library talks to servers only over the network (only its lab may start a node); the server
never imports the client-side toolkit."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = {"protocol", "server", "replication", "strategies", "bench", "tests", "tools"}


def imports_of(package: str, skip: tuple[str, ...] = ()):
    """(file, top-level package of ours) for every absolute import in ``package``."""
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(skip):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in OURS:
                    yield rel, top


def test_protocol_imports_nothing_of_ours():
    assert [i for i in imports_of("protocol") if i[1] != "protocol"] == []


def test_strategies_library_does_not_import_the_server():
    bad = [i for i in imports_of("strategies", skip=("strategies/lab/",)) if i[1] != "strategies"]
    assert bad == []


def test_server_and_replication_do_not_import_the_client_toolkit():
    bad = [i for pkg in ("server", "replication") for i in imports_of(pkg) if i[1] in ("strategies", "tests", "bench")]
    assert bad == []
