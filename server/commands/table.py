"""The command table: handlers joined with Redis 7.0's metadata.

``build_table()`` imports every command module (their ``@command`` decorators fill
``spec.REGISTRY``), looks each command up in ``redis-7.0.json`` and returns a ``CommandTable``.
Only implemented commands and subcommands appear in the table, so COMMAND never advertises
something we would answer with "unknown command".

Metadata is stored with RESP3 type tags (see tools/dump_redis_metadata.py); ``encode_typed``
writes it back in either protocol, exactly as Redis shapes COMMAND and COMMAND DOCS.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from .spec import REGISTRY, CommandSpec

#: Every module that registers commands, in Redis's group order.
COMMAND_MODULES = (
    "strings",
    "bitmaps",
    "keys",
    "lists",
    "hashes",
    "sets",
    "zsets",
    "hyperloglog",
    "sort",
    "pubsub",
    "transactions",
    "scripting",
    "connection",
    "admin",
    "persistence",
    "replication",
    "aof",
    "configcmd",
    "introspection",
)

#: See CommandSpec.dispatch_arity.
CONTAINER_ARITY = 1 << 30

_METADATA_FILE = Path(__file__).with_name("redis-7.0.json")
_metadata: dict | None = None


def redis_metadata() -> dict:
    """name -> {"info": [...], "docs": {...}} for every Redis 7.0 command."""
    global _metadata
    if _metadata is None:
        _metadata = json.loads(_METADATA_FILE.read_text())["commands"]
    return _metadata


def _sub_docs(parent_docs, fullname: str):
    for key, value in parent_docs["%"]:
        if key == "subcommands":
            for name, doc in value["%"]:
                if name == fullname:
                    return doc
    return None


class CommandTable:
    """Lookup by the bytes a client sends, plus the list of specs for COMMAND."""

    __slots__ = ("lookup", "specs")

    def __init__(self, specs: dict[str, CommandSpec]):
        self.specs = specs  # top-level commands by lowercase name, in Redis's order
        lookup: dict[bytes, CommandSpec] = {}
        for name, spec in specs.items():
            b = name.encode()
            lookup[b] = spec
            lookup[b.upper()] = spec
        self.lookup = lookup

    def get(self, name: bytes) -> CommandSpec | None:
        spec = self.lookup.get(name)
        if spec is None:
            spec = self.lookup.get(name.lower())
        return spec

    def __len__(self) -> int:
        return len(self.specs)

    def all_specs(self):
        """Every command and subcommand spec."""
        for spec in self.specs.values():
            yield spec
            if spec.subcommands:
                yield from spec.subcommands.values()

    def find(self, fullname: str) -> CommandSpec | None:
        """A spec by its full name, ``get`` or ``config|get``."""
        name, _, sub = fullname.lower().partition("|")
        spec = self.specs.get(name)
        if spec is not None and sub:
            spec = (spec.subcommands or {}).get(sub.encode())
        return spec


def build_table() -> CommandTable:
    for module in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    meta = redis_metadata()
    specs: dict[str, CommandSpec] = {}
    pending_subs = []
    for fullname, (handler, extra) in REGISTRY.items():
        if "|" in fullname:
            pending_subs.append((fullname, handler, extra))
            continue
        entry = meta.get(fullname, {})
        info = extra.get("info", entry.get("info"))
        docs = extra.get("docs", entry.get("docs"))
        if info is None:
            raise ValueError(f"no metadata for command {fullname!r}")
        specs[fullname] = CommandSpec(fullname, handler, info, docs, extra.get("getkeys"), extra.get("run"))
    for fullname, handler, extra in pending_subs:
        parent_name = fullname.split("|", 1)[0]
        parent = specs.get(parent_name)
        if parent is None:
            # A container whose only implementation is its subcommands.
            entry = meta[parent_name]
            parent = specs[parent_name] = CommandSpec(
                parent_name, None, entry["info"], entry.get("docs")
            )
        info = extra.get("info")
        docs = extra.get("docs")
        if info is None:
            for sub in meta[parent_name]["info"][9]:
                if sub[0] == fullname:
                    info = sub
                    break
            else:
                raise ValueError(f"no metadata for subcommand {fullname!r}")
        if docs is None and parent.docs is not None:
            docs = _sub_docs(parent.docs, fullname)
        sub_spec = CommandSpec(fullname, handler, info, docs, extra.get("getkeys"), extra.get("run"))
        sub_spec.parent = parent
        if parent.subcommands is None:
            parent.subcommands = {}
            parent.dispatch_arity = CONTAINER_ARITY
        parent.subcommands[sub_spec.name.encode()] = sub_spec
    # Keep Redis's order (alphabetical in the metadata) for stable COMMAND output.
    ordered = {name: specs[name] for name in sorted(specs)}
    return CommandTable(ordered)


# -- encoding captured metadata ---------------------------------------------------------------


def encode_typed(value, proto) -> bytes:
    """Encode a type-tagged metadata value for ``proto`` (encoder.RESP2 or RESP3)."""
    out: list[bytes] = []
    _encode_into(value, proto, out)
    return b"".join(out)


def _encode_into(value, proto, out: list[bytes]) -> None:
    if isinstance(value, str):
        b = value.encode("latin-1")
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    elif isinstance(value, bool):
        out.append(proto.boolean(value))
    elif isinstance(value, int):
        out.append(b":%d\r\n" % value)
    elif value is None:
        out.append(proto.null)
    elif isinstance(value, list):
        out.append(b"*%d\r\n" % len(value))
        for v in value:
            _encode_into(v, proto, out)
    elif isinstance(value, dict):
        if "+" in value:
            out.append(b"+%b\r\n" % value["+"].encode())
        elif "~" in value:
            items = value["~"]
            out.append(proto.set_header(len(items)))
            for v in items:
                _encode_into(v, proto, out)
        elif "%" in value:
            pairs = value["%"]
            out.append(proto.map_header(len(pairs)))
            for k, v in pairs:
                _encode_into(k, proto, out)
                _encode_into(v, proto, out)
        else:
            raise ValueError(value)
    else:
        raise TypeError(type(value))


def info_tree(spec: CommandSpec) -> list:
    """COMMAND INFO's entry for ``spec``, listing only implemented subcommands."""
    if spec.subcommands:
        subs = [info_tree(s) for s in spec.subcommands.values()]
    else:
        subs = {"~": []}  # Redis answers an empty *set* here (~0 in RESP3), an array otherwise
    return list(spec.info[:9]) + [subs]


def docs_tree(spec: CommandSpec):
    """COMMAND DOCS's map for ``spec``, listing only implemented subcommands."""
    pairs = [p for p in (spec.docs or {"%": []})["%"] if p[0] != "subcommands"]
    if spec.subcommands:
        pairs.append(
            ["subcommands", {"%": [[s.fullname, docs_tree(s)] for s in spec.subcommands.values()]}]
        )
    return {"%": pairs}
