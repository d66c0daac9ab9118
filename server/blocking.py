"""Blocking operations: clients waiting on keys (BLPOP & co., BZPOPMIN & co.) -- Redis's blocked.c.

Design note
-----------
The node owns one ``Blocking`` (``node.blocking``). Redis 7.0's model, step by step:

1. A blocking command finds nothing to pop and calls ``block(c, keys, deadline, type, serve)``
   instead of replying. The client is marked ``blocked`` and the batch loop stops
   (``c.interrupt``); the rest of its pipeline waits in ``c.queue``. Each database keeps
   ``db.blocking_keys``: key -> deque of waiters, in the order they blocked.
2. A write that *adds* a key that has waiters (``Database.set`` for a key that was absent:
   Redis's dbAdd -> signalKeyAsReady) calls ``signal``: the key is queued in ``ready`` once,
   if its value's type is one some client blocks for.
3. After each top-level command -- never inside EXEC or a script, whose inner commands go
   through ``dispatch.execute`` -- the dispatcher calls ``serve_ready``
   (handleClientsBlockedOnKeys). For each ready key, in signalling order, the waiters for
   that value's type are served first come, first served; a waiter of another type keeps
   its place and its wait. Serving stops at a key once its value is gone.
   A served client may add keys (BLMOVE pushing onto a list others wait for): those are
   queued and served in the same pass, so BLMOVE chains run to the end.
4. A served client gets its reply at once; its propagation is the ``c.rewrite`` its serve
   callback left (BLPOP -> LPOP, BLMOVE -> LMOVE ...); the rest of its pipeline runs on the
   next loop iteration (``loop.call_soon(c.resume)``, Redis's processUnblockedClients).

Timeouts, CLIENT UNBLOCK and disconnection end a block without serving it.

API for command modules (lists here, sorted sets, later WAIT)
-------------------------------------------------------------
``parse_timeout(c, arg)``
    getTimeoutFromObjectOrReply in seconds: the absolute deadline in ms, 0 for forever.
``may_block(c)``
    False while EXEC or a script runs the command (Redis's CLIENT_DENY_BLOCKING): the
    command must then answer at once (its null reply). EXEC and the script runner set
    ``c.deny_blocking = True`` around the commands they run.
``node.blocking.block(c, argv, keys, deadline, redis_type, serve, on_timeout=None)``
    Block ``c``; returns the handler's reply (nothing). When a key holding a value whose
    ``redis_type`` matches becomes ready, ``serve(c, db, key, value)`` runs like a handler:
    it pops, sets ``c.rewrite`` to the effective command(s) to propagate, fires keyspace
    events and returns the reply (or raises ``CommandError``: the client gets the error and
    is unblocked); returning ``None`` keeps the client waiting. ``on_timeout(c)`` gives the
    timeout reply (default: the null array, as for every list and sorted set block).
``node.blocking.finish(c, reply)``
    End a block from outside (WAIT's acknowledgements): send ``reply``, resume the client.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from . import errors as E
from .commands.args import LLONG_MAX, LLONG_MIN
from .connection import REPLY_OFF
from .datatypes import longdouble
from .dispatch import count_error
from .errors import CommandError

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

UNBLOCKED_BY_CLIENT = "-UNBLOCKED client unblocked via CLIENT UNBLOCK"
UNBLOCKED_ROLE_CHANGE = (
    "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)


# -- arguments ---------------------------------------------------------------------------------


def parse_timeout(c, arg: bytes) -> int:
    """getTimeoutFromObjectOrReply(UNIT_SECONDS) of Redis 7.0: the absolute deadline in ms,
    0 to wait forever.

    The text is read as a C ``long double`` (strtold), multiplied by 1000 in long double,
    rounded up (ceill) and cast to ``long long``: a value past the range becomes LLONG_MIN
    ("timeout is negative"), a tiny negative one rounds to 0 (forever), a tiny positive one
    to 1 ms. A deadline that overflows when now is added wraps around in Redis and never
    fires: it is kept as that negative number (still counted in clients_in_timeout_table).
    """
    value = longdouble.parse(arg)
    if value is None:
        raise CommandError(E.TIMEOUT_INVALID)
    ms = _ceil_ms(value)
    if ms < 0:
        raise CommandError(E.TIMEOUT_NEGATIVE)
    if ms == 0:
        return 0
    deadline = ms + c.node.clock.ms
    if deadline > LLONG_MAX:
        deadline -= 1 << 64
    return deadline


def _ceil_ms(value) -> int:
    """(long long) ceill(value * 1000.0L) for a long double ``value`` (see longdouble)."""
    if not longdouble.is_finite(value):
        return LLONG_MIN
    m, e = value
    m *= 1000
    neg = m < 0
    a = -m if neg else m
    shift = a.bit_length() - longdouble.MANT_BITS
    if shift > 0:  # round the product to the 64-bit mantissa, ties to even
        q = a >> shift
        rem = a - (q << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        a, e = q, e + shift
    m = -a if neg else a
    ms = m << e if e >= 0 else -((-m) >> -e)  # ceil(m * 2**e)
    if ms > LLONG_MAX or ms < LLONG_MIN:
        return LLONG_MIN  # the x87 conversion's "integer indefinite"
    return ms


def may_block(c) -> bool:
    """Whether ``c`` may block now (not inside EXEC or a script: CLIENT_DENY_BLOCKING)."""
    return not getattr(c, "deny_blocking", False)


# -- the registry of waiting clients -------------------------------------------------------------


class Waiter:
    """One blocked client: where it waits, for what, and how to serve it."""

    __slots__ = ("client", "db", "keys", "redis_type", "serve", "on_timeout", "timer", "name")

    def __init__(self, client, db, keys, redis_type, serve, on_timeout, name):
        self.client = client
        self.db = db
        self.keys = keys
        self.redis_type = redis_type
        self.serve = serve
        self.on_timeout = on_timeout
        self.timer = None
        self.name = name


class Blocking:
    """Blocked clients, ready keys and their serving. See the module docstring."""

    def __init__(self, node: Node):
        self.node = node
        #: Clients blocked, per value type they wait for (blocked_clients_by_type).
        self.by_type: dict[bytes | None, int] = {}
        #: Keys signalled since the last serve, in order: (db, key) pairs.
        self.ready: list = []
        self._ready_ids: set = set()
        node.disconnect_hooks.append(self._client_gone)

    # -- blocking --------------------------------------------------------------------------------
    def block(self, c, argv, keys, deadline: int, redis_type, serve, on_timeout=None) -> bytes:
        """Block ``c`` on ``keys`` of its database (see the module docstring)."""
        db = c.db
        waiter = Waiter(c, db, tuple(dict.fromkeys(keys)), redis_type, serve, on_timeout, argv[0])
        blocking_keys = db.blocking_keys
        for key in waiter.keys:
            queue = blocking_keys.get(key)
            if queue is None:
                queue = blocking_keys[key] = deque()
            queue.append(waiter)
        self.by_type[redis_type] = self.by_type.get(redis_type, 0) + 1
        c.block = waiter
        c.blocked = True
        c.block_timeout = deadline
        c.interrupt = True  # the batch loop stops; the rest of the pipeline waits
        if deadline > 0:
            delay = max(0.0, (deadline - self.node.clock.ms) / 1000.0)
            waiter.timer = self.node.loop.call_later(delay, self._timed_out, waiter)
        return b""

    def _release(self, waiter: Waiter) -> None:
        """Forget ``waiter`` everywhere (unblockClientWaitingData)."""
        c = waiter.client
        blocking_keys = waiter.db.blocking_keys
        for key in waiter.keys:
            queue = blocking_keys.get(key)
            if queue is not None:
                try:
                    queue.remove(waiter)
                except ValueError:
                    pass
                if not queue:
                    del blocking_keys[key]
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        self.by_type[waiter.redis_type] -= 1
        c.block = None
        c.blocked = False
        c.block_timeout = 0

    def finish(self, c, reply: bytes) -> None:
        """Unblock ``c`` with ``reply`` and let the rest of its pipeline run."""
        waiter = c.block
        if waiter is None:
            return
        self._release(waiter)
        self._answer(c, reply)

    def _answer(self, c, reply: bytes) -> None:
        if reply and c.reply_mode != REPLY_OFF:
            c.reply_async(reply)
        loop = self.node.loop
        if loop is not None:
            loop.call_soon(c.resume)

    def _spec(self, waiter: Waiter):
        return self.node.commands.get(waiter.name)

    # -- ending a block without serving it ---------------------------------------------------------
    def _timed_out(self, waiter: Waiter) -> None:
        c = waiter.client
        if c.block is not waiter:
            return
        waiter.timer = None
        reply = waiter.on_timeout(c) if waiter.on_timeout is not None else c.proto.null_array
        self.finish(c, reply)

    def unblock(self, c, error: bool) -> bool:
        """CLIENT UNBLOCK: end ``c``'s block as a timeout, or with the UNBLOCKED error.
        Counted as a failed call either way, as Redis 7.0 does."""
        waiter = c.block
        if waiter is None:
            return False
        spec = self._spec(waiter)
        if spec is not None:
            spec.failed_calls += 1
        if error:
            reply = E.err(UNBLOCKED_BY_CLIENT)
            count_error(self.node, reply)
        elif waiter.on_timeout is not None:
            reply = waiter.on_timeout(c)
        else:
            reply = c.proto.null_array
        self.finish(c, reply)
        return True

    def unblock_all(self) -> None:
        """disconnectAllBlockedClients: the instance turned into a replica. Every blocked
        client gets the UNBLOCKED error and is closed after it."""
        for c in list(self.node.clients.values()):
            if c.block is not None:
                reply = E.err(UNBLOCKED_ROLE_CHANGE)
                count_error(self.node, reply)
                self._release(c.block)
                c.reply_async(reply)
                c.close()

    def _client_gone(self, c) -> None:
        waiter = getattr(c, "block", None)
        if waiter is not None:
            self._release(waiter)

    # -- ready keys ----------------------------------------------------------------------------------
    def signal(self, db, key: bytes, value) -> None:
        """signalKeyAsReady: ``key`` was added to ``db`` with ``value``; queue it once if a
        client waits on it for a value of that type."""
        redis_type = getattr(value.__class__, "redis_type", None)
        if redis_type is None or not self.by_type.get(redis_type) or key not in db.blocking_keys:
            return
        ident = (db.id, key)
        if ident in self._ready_ids:
            return
        self._ready_ids.add(ident)
        self.ready.append((db, key))

    def scan_database(self, db) -> None:
        """scanDatabaseForReadyKeys (SWAPDB): signal every waited-for key that now exists."""
        data = db.data
        for key in list(db.blocking_keys):
            value = data.get(key)
            if value is not None:
                self.signal(db, key, value)

    def serve_ready(self) -> None:
        """handleClientsBlockedOnKeys: serve the clients waiting on the ready keys."""
        while self.ready:
            batch, self.ready = self.ready, []
            for db, key in batch:
                self._ready_ids.discard((db.id, key))
                self._serve_key(db, key)

    def _serve_key(self, db, key: bytes) -> None:
        waiters = db.blocking_keys.get(key)
        if not waiters:
            return
        value = db.peek(key)
        if value is None:
            return
        redis_type = getattr(value.__class__, "redis_type", None)
        for waiter in list(waiters):  # serving removes waiters from the deque
            if waiter.redis_type != redis_type or waiter.client.block is not waiter:
                continue  # it waits for another type: it keeps its place
            if self._serve_one(waiter, db, key, value) and db.data.get(key) is not value:
                break  # emptied and deleted (or replaced): nothing left for the others

    def _serve_one(self, waiter: Waiter, db, key: bytes, value) -> bool:
        c = waiter.client
        node = self.node
        c.rewrite = None
        try:
            reply = waiter.serve(c, db, key, value)
        except CommandError as exc:
            reply = exc.reply
            spec = self._spec(waiter)
            if spec is not None:
                spec.failed_calls += 1
            count_error(node, reply)
        if reply is None:
            return False
        rewrite, c.rewrite = c.rewrite, None
        if rewrite and node.propagating:
            for argv in rewrite:
                node.propagate(db.id, argv)
        self.finish(c, reply)
        return True
