"""CONFIG GET / SET / RESETSTAT / REWRITE / HELP (config.c).

The parameter table, the parsing and the file handling live in ``server/config.py``; this
module is the thin command layer: argument shapes, the protected-config and loading checks
that depend on the client and the node, RESP2 flat arrays versus RESP3 maps, and CONFIG
RESETSTAT, which clears what INFO reports.
"""

from __future__ import annotations

from protocol import encoder as enc

from .. import errors as E
from ..config import ConfigError, SetError, lookup
from ..errors import CommandError
from .spec import command

HELP = (
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
)


def help_reply(argv0: bytes, lines) -> bytes:
    """addReplyHelp: a header naming the command as sent (upper case), the lines, then HELP."""
    header = b"%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % argv0.upper()
    items = [header, *(line.encode() for line in lines), b"HELP", b"    Prints this help."]
    return enc.array([enc.simple(item) for item in items])


@command("config|get")
def config_get(c, argv):
    pairs = c.node.config.get_matching(argv[2:])
    out = [c.proto.map_header(len(pairs))]
    for name, value in pairs:
        out.append(enc.bulk(name))
        out.append(enc.bulk(value))
    return b"".join(out)


def protected_allowed(node, c) -> bool:
    """allowProtectedAction(enable-protected-configs, client)."""
    setting = node.config["enable-protected-configs"]
    return setting == "yes" or (setting == "local" and c.is_local)


@command("config|set")
def config_set(c, argv):
    if len(argv) % 2:
        raise CommandError(E.SYNTAX)
    node = c.node
    pairs = list(zip(argv[2::2], argv[3::2]))
    redact_sensitive(argv)
    try:
        node.config.set_many(pairs, allow_protected=protected_allowed(node, c), loading=node.loading)
    except SetError as exc:
        raise CommandError(exc.message) from None
    return enc.OK


REDACTED = b"(redacted)"


def redact_sensitive(argv: list) -> None:
    """Hide the values of sensitive parameters (requirepass, masterauth, masteruser) from what
    later sees this argv -- the slow log and MONITOR -- as redactClientCommandArgument does,
    whether or not the CONFIG SET succeeds."""
    for i in range(2, len(argv) - 1, 2):
        p = lookup(argv[i].decode("latin-1"))
        if p is not None and p.sensitive:
            argv[i + 1] = REDACTED


def reset_stats(node) -> None:
    """What CONFIG RESETSTAT clears: the INFO stats counters and error stats, every command's
    calls/usec/rejected/failed counters, and the instantaneous metrics. The slow log, the
    latency monitor and memory peaks are kept, as in Redis."""
    node.stats.reset()
    for spec in node.commands.all_specs():
        spec.calls = spec.nanos = spec.rejected_calls = spec.failed_calls = 0
    for metric in (node.ops_metric, node.net_in_metric, node.net_out_metric):
        metric.__init__()


@command("config|resetstat")
def config_resetstat(c, argv):
    reset_stats(c.node)
    return enc.OK


@command("config|rewrite")
def config_rewrite(c, argv):
    node = c.node
    try:
        node.config.rewrite()
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        node.log.warning("CONFIG REWRITE failed: %s" % reason)
        raise CommandError("Rewriting config file: %s" % reason) from None
    node.log.warning("CONFIG REWRITE executed with success.")
    return enc.OK


@command("config|help")
def config_help(c, argv):
    return help_reply(argv[0], HELP)
