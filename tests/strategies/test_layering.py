"""The library talks to servers only over the network: no module of strategies/ (the lab
aside, which starts a node) imports the server or protocol packages."""

import ast
from pathlib import Path

import strategies

ROOT = Path(strategies.__file__).parent


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_the_strategies_library_never_imports_the_server():
    library = [p for p in ROOT.glob("*.py")]
    assert len(library) >= 8
    for path in library:
        for name in imported_modules(path):
            assert name.split(".")[0] not in ("server", "protocol"), f"{path.name} imports {name}"
