"""Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.

Design note
-----------
The registries and delivery live in ``server/pubsub.py`` (``c.node.pubsub``); these handlers
parse, call it and shape the confirmations. A (un)subscribe command answers with one
confirmation per name -- ``[kind, name, count]``, an array in RESP2 and a push in RESP3 --
where ``count`` is the client's channels + patterns (shard channels counted apart for the
S-commands). Without names, UNSUBSCRIBE-like commands drop every subscription of their kind,
and a client that had none still gets one confirmation with a null name.

Confirmations are pushes in Redis (CLIENT_PUSHING), so CLIENT REPLY OFF/SKIP does not
silence them: in that mode they go out through ``c.reply_async`` instead of as the reply.
Inside EXEC they are the command's reply, embedded in EXEC's array as Redis does.

Sharded pub/sub (SSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS/SHARDNUMSUB) works as in a
non-cluster Redis 7.0: a second, independent namespace of channels without patterns.
PUBLISH propagates to replicas (forceCommandPropagation) through ``c.force_propagate``.
"""

from __future__ import annotations

from protocol import encoder as enc

from ..connection import REPLY_ON
from ..errors import CommandError
from ..pubsub import (
    CHANNELS,
    PATTERNS,
    PSUBSCRIBE,
    PUNSUBSCRIBE,
    SHARD,
    SSUBSCRIBE,
    SUBSCRIBE,
    SUNSUBSCRIBE,
    UNSUBSCRIBE,
    event,
)
from .admin import deny_blocking
from .connection import help_reply, on_reset, subcommand_syntax_error
from .spec import command

PUBSUB_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


def _count(c, kind: str) -> int:
    """The count a confirmation carries (clientSubscriptionsCount / ...ShardSubscriptionsCount)."""
    if kind == SHARD:
        return len(c.shard_channels or ())
    return len(c.channels or ()) + len(c.patterns or ())


def _answer(c, parts: list[bytes]) -> bytes:
    """The confirmations as the reply -- or as pushes when CLIENT REPLY would drop them."""
    reply = b"".join(parts)
    if c.reply_mode == REPLY_ON:
        return reply
    c.reply_async(reply)
    return b""


def _subscribe(c, argv, kind: str, confirm: bytes) -> bytes:
    pubsub = c.node.pubsub
    parts = []
    for name in argv[1:]:
        pubsub.subscribe(c, name, kind)
        parts.append(event(c, confirm, name, _count(c, kind)))
    return _answer(c, parts)


def _unsubscribe(c, argv, kind: str, confirm: bytes) -> bytes:
    pubsub = c.node.pubsub
    names = argv[1:] or pubsub.subscribed(c, kind)
    parts = []
    for name in names:
        pubsub.unsubscribe(c, name, kind)
        parts.append(event(c, confirm, name, _count(c, kind)))
    if not parts:  # UNSUBSCRIBE with nothing to leave: still one confirmation
        parts.append(event(c, confirm, None, _count(c, kind)))
    return _answer(c, parts)


@command("subscribe")
def subscribe(c, argv):
    # Redis refuses CLIENT_DENY_BLOCKING clients except inside MULTI: in practice only
    # scripts, which the noscript flag already keeps out.
    return _subscribe(c, argv, CHANNELS, SUBSCRIBE)


@command("psubscribe")
def psubscribe(c, argv):
    return _subscribe(c, argv, PATTERNS, PSUBSCRIBE)


@command("ssubscribe")
def ssubscribe(c, argv):
    if c.deny_blocking or deny_blocking(c):
        raise CommandError("SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe(c, argv, SHARD, SSUBSCRIBE)


@command("unsubscribe")
def unsubscribe(c, argv):
    return _unsubscribe(c, argv, CHANNELS, UNSUBSCRIBE)


@command("punsubscribe")
def punsubscribe(c, argv):
    return _unsubscribe(c, argv, PATTERNS, PUNSUBSCRIBE)


@command("sunsubscribe")
def sunsubscribe(c, argv):
    return _unsubscribe(c, argv, SHARD, SUNSUBSCRIBE)


@on_reset
def _reset(c) -> None:
    """RESET leaves every channel, pattern and shard channel silently."""
    c.node.pubsub.drop_client(c)


def _force_propagation(c) -> None:
    """forceCommandPropagation: replicas get PUBLISH even though no key changed. (Only set
    while propagating: the dispatcher's fast path never clears the flag.)"""
    if c.node.propagating:
        c.force_propagate = True


@command("publish")
def publish(c, argv):
    receivers = c.node.pubsub.publish(argv[1], argv[2])
    _force_propagation(c)
    return enc.integer(receivers)


@command("spublish")
def spublish(c, argv):
    receivers = c.node.pubsub.spublish(argv[1], argv[2])
    _force_propagation(c)
    return enc.integer(receivers)


# -- PUBSUB --------------------------------------------------------------------------------


@command("pubsub|help")
def pubsub_help(c, argv):
    return help_reply(PUBSUB_HELP)


def _names(c, argv, kind: str) -> bytes:
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    return enc.bulk_array(c.node.pubsub.names(kind, argv[2] if len(argv) == 3 else None))


def _numsub(c, argv, kind: str) -> bytes:
    pubsub = c.node.pubsub
    parts = [b"*%d\r\n" % (2 * (len(argv) - 2))]
    for name in argv[2:]:
        parts.append(enc.bulk(name))
        parts.append(enc.integer(pubsub.numsub(kind, name)))
    return b"".join(parts)


@command("pubsub|channels")
def pubsub_channels(c, argv):
    return _names(c, argv, CHANNELS)


@command("pubsub|shardchannels")
def pubsub_shardchannels(c, argv):
    return _names(c, argv, SHARD)


@command("pubsub|numsub")
def pubsub_numsub(c, argv):
    return _numsub(c, argv, CHANNELS)


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(c, argv):
    return _numsub(c, argv, SHARD)


@command("pubsub|numpat")
def pubsub_numpat(c, argv):
    # Distinct patterns, however many clients share each (Redis 7.0 dictSize).
    return enc.integer(len(c.node.pubsub.patterns))
