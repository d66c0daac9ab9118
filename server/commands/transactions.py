"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis 7.0 multi.c).

Design note
-----------
Queueing is the dispatcher's job (server/dispatch.py ``_gates``): while ``c.multi`` is set,
every command that passes the gates is appended to it and answered ``+QUEUED``; a command
refused at the gates (unknown, wrong arity, not allowed in MULTI, OOM...) flags the
transaction (``c.multi_error``), and an EXEC refused at its own gates -- which judge it by
the flags of the commands it queued -- discards the transaction with
``-EXECABORT Transaction discarded because of: <reason>``. The state and the WATCH
registry live in ``server/watch.py``.

EXEC runs each queued command through ``dispatch.execute`` (commandstats, slowlog, MONITOR
and propagation per command, as Redis's call() does) with:

* ``c.deny_blocking`` set, so blocking commands answer at once (CLIENT_DENY_BLOCKING);
* ``c.out`` pointing into EXEC's reply, so pushes to the client itself (a RESP3 subscriber
  told of its own writes) land inside the array, where Redis's output buffer has them;
* the node's propagation collected: the writes go out after the last command, wrapped in
  MULTI ... EXEC when there are several (Redis 7.0 propagatePendingCommands; one write goes
  alone, a read-only transaction sends nothing). ``propagation_batch`` is public for the
  script runner: nested batches join the outer one.

Clients blocked on keys the transaction filled are served after EXEC returns: the
dispatcher serves ready keys only after top-level commands.
"""

from __future__ import annotations

from contextlib import contextmanager

from protocol.encoder import OK

from ..dispatch import execute
from ..errors import CommandError
from ..watch import Transaction, discard_transaction
from .connection import on_reset
from .spec import command

MULTI_NESTED = "MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "DISCARD without MULTI"
WATCH_IN_MULTI = "WATCH inside MULTI is not allowed"
EXECABORT = "-EXECABORT Transaction discarded because of previous errors."


@command("multi")
def multi(c, argv):
    if c.multi is not None:
        raise CommandError(MULTI_NESTED)
    c.multi = Transaction()
    c.update_gated()
    return OK


@command("discard")
def discard(c, argv):
    if c.multi is None:
        raise CommandError(DISCARD_WITHOUT_MULTI)
    discard_transaction(c)
    return OK


@command("watch")
def watch(c, argv):
    if c.multi is not None:
        raise CommandError(WATCH_IN_MULTI)
    if not c.dirty_cas:  # a dirty client's EXEC fails anyway: nothing worth watching
        watches = c.node.watches
        for key in argv[1:]:
            watches.watch(c, key)
    return OK


@command("unwatch")
def unwatch(c, argv):
    c.node.watches.unwatch_all(c)
    c.dirty_cas = False
    return OK


@command("exec")
def exec_(c, argv):
    queued = c.multi
    if queued is None:
        raise CommandError(EXEC_WITHOUT_MULTI)
    node = c.node
    if c.watched and node.watches.any_expired(c):
        c.dirty_cas = True
    if c.multi_error:
        discard_transaction(c)
        raise CommandError(EXECABORT)
    if c.dirty_cas:
        discard_transaction(c)
        return c.proto.null_array
    node.watches.unwatch_all(c)  # no need to watch any more: unwatch before running
    replies = [b"*%d\r\n" % len(queued)]
    denied, outer = c.deny_blocking, c.out
    c.deny_blocking = True  # blocking commands answer at once (CLIENT_DENY_BLOCKING)
    c.out = replies  # pushes to this client land inside the array, as in Redis's buffer
    try:
        with propagation_batch(node):
            for spec, args in queued:
                replies.append(execute(node, c, spec, args))
    finally:
        c.deny_blocking, c.out = denied, outer
        discard_transaction(c)
    return b"".join(replies)


@on_reset
def _reset(c) -> None:
    """RESET leaves MULTI and stops watching (clearClientConnectionState)."""
    discard_transaction(c)


# -- propagation -------------------------------------------------------------------------------


class _Batch:
    """What a transaction or script propagates, held until it ends."""

    __slots__ = ("ops",)

    def __init__(self):
        self.ops: list[tuple[int, list[bytes]]] = []

    def propagate(self, dbid: int, argv: list[bytes]) -> None:
        self.ops.append((dbid, argv))


@contextmanager
def propagation_batch(node):
    """Collect what ``node.propagate`` receives inside the block and hand it on at the end:
    several commands wrapped in MULTI ... EXEC (MULTI with the first command's database,
    EXEC with the last one's, so no extra SELECT is needed), a single command alone,
    nothing if nothing changed. Inside another batch, the commands join the outer one."""
    target = node.propagate
    if not node.propagating or isinstance(getattr(target, "__self__", None), _Batch):
        yield
        return
    own = vars(node).get("propagate")  # an instance attribute (tests recording the stream)
    batch = _Batch()
    node.propagate = batch.propagate  # shadows the method for the duration
    try:
        yield
    finally:
        if own is None:
            del node.propagate
        else:
            node.propagate = own
        _emit(target, batch.ops)


def _emit(propagate, ops) -> None:
    if len(ops) == 1:
        propagate(*ops[0])
    elif ops:
        propagate(ops[0][0], [b"MULTI"])
        for dbid, argv in ops:
            propagate(dbid, argv)
        propagate(ops[-1][0], [b"EXEC"])
