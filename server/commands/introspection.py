"""COMMAND, COMMAND COUNT / DOCS / GETKEYS / GETKEYSANDFLAGS / INFO / LIST / HELP.

Design note
-----------
Everything here is read from the command table (``table.py``): the captured metadata is
re-encoded with ``encode_typed`` in the caller's protocol, so the shapes (sets and maps in
RESP3, flat arrays in RESP2) are exactly Redis's. Only implemented commands are listed, so
a client that reads COMMAND (redis-py's cluster client, redis-cli's hints) never learns
about a command we would refuse. Key positions come from ``CommandSpec.keys``; the access
flags of each key (GETKEYSANDFLAGS) from the key specification that found it.
"""

from __future__ import annotations

from protocol import encoder as enc

from .. import errors as E
from ..errors import CommandError
from ..glob import stringmatch
from .connection import help_reply
from .spec import CommandSpec, command
from .table import docs_tree, encode_typed, info_tree

COMMAND_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
]


def _all_info(c) -> bytes:
    specs = c.node.commands.specs.values()
    return enc.array([encode_typed(info_tree(s), c.proto) for s in specs])


@command("command")
def command_(c, argv):
    return _all_info(c)


@command("command|help")
def command_help(c, argv):
    return help_reply(COMMAND_HELP)


@command("command|count")
def command_count(c, argv):
    return enc.integer(len(c.node.commands))


@command("command|info")
def command_info(c, argv):
    if len(argv) == 2:
        return _all_info(c)
    table = c.node.commands
    out = []
    for name in argv[2:]:
        spec = table.find(name.decode("latin-1"))
        out.append(c.proto.null if spec is None else encode_typed(info_tree(spec), c.proto))
    return enc.array(out)


@command("command|docs")
def command_docs(c, argv):
    table = c.node.commands
    if len(argv) == 2:
        specs = list(table.specs.values())
    else:
        specs = [s for s in (table.find(n.decode("latin-1")) for n in argv[2:]) if s is not None]
    p = c.proto
    parts = [p.map_header(len(specs))]
    for spec in specs:
        parts.append(enc.bulk(spec.fullname.encode()))
        parts.append(encode_typed(docs_tree(spec), p))
    return b"".join(parts)


# -- GETKEYS -----------------------------------------------------------------------------------


def lookup_command(table, argv: list[bytes]) -> CommandSpec | None:
    """lookupCommand: the command ``argv`` names, resolving a container's subcommand."""
    spec = table.get(argv[0])
    if spec is None or spec.subcommands is None or len(argv) == 1:
        return spec
    return spec.subcommands.get(argv[1].lower())


def has_keys(spec: CommandSpec) -> bool:
    """doesCommandHaveKeys: a key extractor, or a key spec that is not NOT_KEY."""
    return spec.getkeys is not None or any("not_key" not in ks["flags"] for ks in spec.key_specs)


class _OneKeySpec:
    """Stands in for a CommandSpec with a single key spec (to learn which spec found a key)."""

    __slots__ = ("getkeys", "key_specs")

    def __init__(self, ks: dict):
        self.getkeys = None
        self.key_specs = [ks]


def _set_flags(argv: list[bytes]) -> list[str]:
    """setGetKeys: SET overwrites its key unless GET asks for the old value."""
    if any(a.lower() == b"get" for a in argv[3:]):
        return ["RW", "access", "update"]
    return ["OW", "update"]


def _bitfield_flags(argv: list[bytes]) -> list[str]:
    """bitfieldGetKeys: read-only when every operation is a GET (or OVERFLOW)."""
    i = 2
    while i < len(argv):
        op, left = argv[i].lower(), len(argv) - i - 1
        if op == b"get" and left >= 2:
            i += 3
        elif op == b"overflow" and left >= 1:
            i += 2
        else:
            return ["RW", "access", "update"]
    return ["RO", "access"]


#: Commands whose key spec says variable_flags: their getkeys function decides per call.
VARIABLE_FLAGS = {"set": _set_flags, "bitfield": _bitfield_flags}


def key_flags(spec: CommandSpec, argv: list[bytes], positions: list[int]) -> list[list[str]]:
    """The flags of the key spec that yields each position (the first spec by default)."""
    variable = VARIABLE_FLAGS.get(spec.fullname)
    if variable is not None:
        return [variable(argv) for _ in positions]
    found: dict[int, list[str]] = {}
    for ks in spec.key_specs:
        for pos in CommandSpec.keys(_OneKeySpec(ks), argv):
            found.setdefault(pos, ks["flags"])
    default = spec.key_specs[0]["flags"] if spec.key_specs else []
    return [found.get(pos, default) for pos in positions]


def _getkeys(c, argv: list[bytes], with_flags: bool) -> bytes:
    target = argv[2:]
    spec = lookup_command(c.node.commands, target)
    if spec is None:
        raise CommandError("Invalid command specified")
    if not has_keys(spec):
        raise CommandError("The command has no key arguments")
    n, arity = len(target), spec.arity
    if (arity > 0 and arity != n) or n < -arity:
        raise CommandError("Invalid number of arguments specified for command")
    positions = spec.keys(target)
    if not positions:
        if "no_mandatory_keys" in spec.flags:
            return enc.EMPTY_ARRAY
        raise CommandError("Invalid arguments specified for command")
    if not with_flags:
        return enc.bulk_array([target[i] for i in positions])
    p = c.proto
    out = []
    for pos, flags in zip(positions, key_flags(spec, target, positions)):
        out.append(
            b"*2\r\n" + enc.bulk(target[pos]) + p.set_header(len(flags))
            + b"".join(b"+%b\r\n" % f.encode() for f in flags)
        )
    return enc.array(out)


@command("command|getkeys")
def command_getkeys(c, argv):
    return _getkeys(c, argv, False)


@command("command|getkeysandflags")
def command_getkeysandflags(c, argv):
    return _getkeys(c, argv, True)


# -- LIST --------------------------------------------------------------------------------------


def _filter(kind: bytes, arg: bytes):
    """A predicate over specs for COMMAND LIST FILTERBY (commandListWithFilter)."""
    if kind == b"module":
        return lambda spec: False  # no module commands here
    if kind == b"aclcat":
        category = "@" + arg.decode("latin-1").lower()
        return lambda spec: category in spec.acl_categories
    return lambda spec: stringmatch(arg, spec.fullname.encode(), nocase=True)


@command("command|list")
def command_list(c, argv):
    keep = None
    i = 2
    while i < len(argv):
        kind = argv[i + 1].lower() if i + 1 < len(argv) else b""
        if argv[i].lower() != b"filterby" or len(argv) - 1 - i != 2 or kind not in (b"module", b"aclcat", b"pattern"):
            raise CommandError(E.SYNTAX)
        keep = _filter(kind, argv[i + 2])
        i += 3
    names = [
        spec.fullname.encode()
        for spec in c.node.commands.all_specs()
        if keep is None or keep(spec)
    ]
    return enc.bulk_array(names)
