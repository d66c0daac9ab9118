"""Pub/sub: who listens to what, and delivering messages (Redis 7.0 pubsub.c).

Design note
-----------
The node owns one ``PubSub`` (``node.pubsub``). Three registries map a name to the clients
listening, each a ``dict`` used as an insertion-ordered set (Redis 7.0 keeps a list, so
subscribers are served in the order they subscribed):

``channels``        SUBSCRIBE       channel -> clients
``patterns``        PSUBSCRIBE      pattern -> clients (matched with server/glob.py)
``shard_channels``  SSUBSCRIBE      shard channel -> clients (no patterns for those)

Each client keeps its own side in ``c.channels``, ``c.patterns`` and ``c.shard_channels``
(dicts in subscription order, ``None`` until first used, so an ordinary client pays
nothing), and ``c.subscriptions``, their total: Redis's ``CLIENT_PUBSUB`` flag, which makes
the dispatcher restrict a RESP2 client (``update_gated``), CLIENT LIST show ``P`` and
``sub=/psub=/ssub=``, and the client count as the ``pubsub`` class for
``client-output-buffer-limit``. INFO's ``pubsub_channels``, ``pubsub_patterns`` and
``pubsubshard_channels`` are the sizes of the three registries.

Delivery. A message is encoded once per protocol (``*3``/``*4`` arrays for RESP2, ``>3``/``>4``
pushes for RESP3) and handed to ``c.reply_async``: a client that is itself running the
command that published (a RESP3 subscriber writing a key it watches) gets it in the middle
of its own replies, exactly where Redis's output buffer would have it; any other client gets
it with everything else produced for it in this event-loop iteration, in one write.
Pushes ignore CLIENT REPLY OFF/SKIP, as Redis's CLIENT_PUSHING does. After each message
the subscriber's output buffer -- what is waiting for that write plus what its transport
could not send yet -- is checked against ``client-output-buffer-limit pubsub``: past the hard limit the
client is dropped at once, past the soft limit once it has stayed there longer than the
soft seconds (checkClientOutputBufferLimits). Only that subscriber is affected: the
publisher and the other subscribers go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clientinfo import info_line
from .glob import compile_pattern

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Client
    from .node import Node

# Message kinds: the first element of the array or push.
SUBSCRIBE = b"$9\r\nsubscribe\r\n"
UNSUBSCRIBE = b"$11\r\nunsubscribe\r\n"
PSUBSCRIBE = b"$10\r\npsubscribe\r\n"
PUNSUBSCRIBE = b"$12\r\npunsubscribe\r\n"
SSUBSCRIBE = b"$10\r\nssubscribe\r\n"
SUNSUBSCRIBE = b"$12\r\nsunsubscribe\r\n"
_MESSAGE = b"$7\r\nmessage\r\n"
_PMESSAGE = b"$8\r\npmessage\r\n"
_SMESSAGE = b"$8\r\nsmessage\r\n"

#: What the three kinds of subscription are called on the client and in the registry.
CHANNELS, PATTERNS, SHARD = "channels", "patterns", "shard_channels"


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def event(c, kind: bytes, name: bytes | None, count: int) -> bytes:
    """A (un)subscribe confirmation: ``[kind, name or null, count]`` as array or push."""
    head = b">3\r\n" if c.resp == 3 else b"*3\r\n"
    if name is None:
        return head + kind + c.proto.null + b":%d\r\n" % count
    return head + kind + b"$%d\r\n%b\r\n:%d\r\n" % (len(name), name, count)


class PubSub:
    """The node's subscription registries and message delivery. See the module docstring."""

    __slots__ = ("node", "channels", "patterns", "shard_channels", "_matchers", "_soft_since")

    def __init__(self, node: Node):
        self.node = node
        self.channels: dict[bytes, dict] = {}
        self.patterns: dict[bytes, dict] = {}
        self.shard_channels: dict[bytes, dict] = {}
        self._matchers: dict[bytes, object] = {}  # pattern -> compiled glob
        #: client id -> unix second its output buffer first went past the soft limit.
        self._soft_since: dict[int, int] = {}
        node.disconnect_hooks.append(self.drop_client)

    # -- subscriptions ---------------------------------------------------------------------------
    def subscribe(self, c: Client, name: bytes, kind: str) -> bool:
        """Add one subscription; False if the client already had it."""
        mine = getattr(c, kind)
        if mine is None:
            mine = {}
            setattr(c, kind, mine)
        elif name in mine:
            return False
        mine[name] = None
        registry = getattr(self, kind)
        clients = registry.get(name)
        if clients is None:
            clients = registry[name] = {}
            if kind == PATTERNS:
                self._matchers[name] = compile_pattern(name)
        clients[c] = None
        self._count_changed(c, 1)
        return True

    def unsubscribe(self, c: Client, name: bytes, kind: str) -> bool:
        """Remove one subscription; False if the client did not have it."""
        mine = getattr(c, kind)
        if not mine or name not in mine:
            return False
        del mine[name]
        registry = getattr(self, kind)
        clients = registry[name]
        del clients[c]
        if not clients:
            # Forget the name with its last subscriber, so PUBSUB CHANNELS and the
            # registries only hold what someone listens to.
            del registry[name]
            if kind == PATTERNS:
                del self._matchers[name]
        self._count_changed(c, -1)
        return True

    def subscribed(self, c: Client, kind: str) -> list[bytes]:
        """The client's subscriptions of one kind, in the order they were made."""
        mine = getattr(c, kind)
        return list(mine) if mine else []

    def drop_client(self, c: Client) -> None:
        """Forget every subscription of ``c`` without telling it (disconnect, RESET)."""
        if not c.subscriptions:
            return
        for kind in (CHANNELS, PATTERNS, SHARD):
            for name in self.subscribed(c, kind):
                self.unsubscribe(c, name, kind)
        self._soft_since.pop(c.id, None)

    @staticmethod
    def _count_changed(c: Client, delta: int) -> None:
        before = c.subscriptions
        c.subscriptions = before + delta
        if not before or not c.subscriptions:
            c.update_gated()  # entering or leaving the subscribed state (RESP2 gate)

    # -- delivery --------------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """PUBLISH: deliver to the channel's subscribers, then to matching patterns."""
        receivers = 0
        clients = self.channels.get(channel)
        tail = b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message)
        if clients:
            body = _MESSAGE + tail
            self._deliver(list(clients), b"*3\r\n" + body, b">3\r\n" + body)
            receivers = len(clients)
        if self.patterns:
            matchers = self._matchers
            for pattern, clients in list(self.patterns.items()):
                if not matchers[pattern](channel):
                    continue
                body = _PMESSAGE + _bulk(pattern) + tail
                self._deliver(list(clients), b"*4\r\n" + body, b">4\r\n" + body)
                receivers += len(clients)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        """SPUBLISH: deliver to the shard channel's subscribers."""
        clients = self.shard_channels.get(channel)
        if not clients:
            return 0
        body = _SMESSAGE + b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message)
        self._deliver(list(clients), b"*3\r\n" + body, b">3\r\n" + body)
        return len(clients)

    def _deliver(self, clients: list, resp2: bytes, resp3: bytes) -> None:
        # ``clients`` is a copy: dropping a slow subscriber must not disturb the loop.
        limits = self.node.config["client-output-buffer-limit"]["pubsub"]
        for c in clients:
            if c.closing:
                continue  # counted, but it gets nothing more (CLIENT_CLOSE_ASAP)
            c.reply_async(resp3 if c.resp == 3 else resp2)
            if c.out is None:
                self._check_output_limit(c, limits)

    def _check_output_limit(self, c: Client, limits: tuple[int, int, int]) -> None:
        """checkClientOutputBufferLimits for a subscriber: what it has not been sent yet."""
        used = c.output_buffer_size()
        if not used:
            if self._soft_since:
                self._soft_since.pop(c.id, None)
            return
        hard, soft, seconds = limits
        if hard and used >= hard:
            self._disconnect_slow(c)
        elif soft and used >= soft:
            now = self.node.clock.ms // 1000  # server.unixtime
            since = self._soft_since.setdefault(c.id, now)
            if now - since > seconds:
                self._disconnect_slow(c)
        elif self._soft_since:
            self._soft_since.pop(c.id, None)

    def _disconnect_slow(self, c: Client) -> None:
        node = self.node
        self._soft_since.pop(c.id, None)
        node.stats.client_output_buffer_limit_disconnections += 1
        node.log.warning(
            "Client %s scheduled to be closed ASAP for overcoming of output buffer limits." % info_line(c)
        )
        c.close(abort=True)  # what is still buffered for it is dropped, as freeClient does

    # -- introspection (PUBSUB) ------------------------------------------------------------------
    def numsub(self, kind: str, name: bytes) -> int:
        clients = getattr(self, kind).get(name)
        return len(clients) if clients else 0

    def names(self, kind: str, pattern: bytes | None) -> list[bytes]:
        """PUBSUB CHANNELS / SHARDCHANNELS: the active names, optionally glob-filtered."""
        names = list(getattr(self, kind))
        if pattern is None:
            return names
        match = compile_pattern(pattern)
        return [n for n in names if match(n)]
