"""COMMAND, COMMAND COUNT / DOCS / GETKEYS / GETKEYSANDFLAGS / INFO / LIST / HELP."""

from __future__ import annotations

from protocol import encoder as enc

from .spec import command
from .table import encode_typed, info_tree


@command("command")
def command_(c, argv):
    specs = c.node.commands.specs.values()
    return enc.array([encode_typed(info_tree(s), c.proto) for s in specs])
