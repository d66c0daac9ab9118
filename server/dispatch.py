"""The dispatcher: look the command up, run the gates in Redis's order, execute, account.

Design note
-----------
``build_call(node)`` returns ``call(client, argv) -> bytes``, the function every request
goes through (redis processCommand + call). Its fast path is one dict lookup for the
command, the arity check, the handler, and the commandstats/slowlog bookkeeping:

* A container command (CONFIG, CLIENT, ...) has a ``dispatch_arity`` no request matches, so
  the subcommand lookup happens on the arity-failure branch and costs plain commands nothing.
* One boolean, ``client.gated``, says whether anything else can apply: the client is not
  authenticated, is inside MULTI, is a RESP2 subscriber, or the node is loading, paused,
  has maxmemory, propagates writes or has MONITOR clients (``Node.recompute_gates`` pushes
  node-level changes into every client's flag). When it is set, ``_slow_call`` runs the
  checks in processCommand's order and the full post-execution bookkeeping:

    unknown command -> arity -> protected command (DEBUG) -> auth (NOAUTH) -> not allowed in
    MULTI -> OOM -> MISCONF (failed BGSAVE or AOF write) -> NOREPLICAS -> READONLY replica ->
    RESP2 subscriber context -> MASTERDOWN -> LOADING -> BUSY script -> CLIENT PAUSE -> queue inside MULTI
    -> execute -> propagate (if the dataset changed) -> feed MONITOR clients

The lookup and arity errors come first, so an unauthenticated client sending an unknown
command gets "unknown command", exactly as from Redis.

Every refusal goes through ``refuse`` (rejectCommand): inside MULTI it dooms the
transaction, and a refused EXEC answers ``-EXECABORT ... because of: <reason>``. EXEC passes
the gates with the flags of the commands it queued (a queued write makes it a write).

Propagation hands the command -- rewritten by the handler into its deterministic form when
needed (``client.rewrite``) -- to ``node.propagate`` when it changed the dataset.

After each top-level command (and only there: EXEC and scripts run their commands through
``execute``), clients blocked on keys the command made ready are served
(``node.blocking.serve_ready``, see server/blocking.py).
"""

from __future__ import annotations

import time
from itertools import islice

from protocol.encoder import QUEUED

from . import errors as E
from .errors import CommandError, error_code
from .watch import discard_transaction, exec_abort_reply

_perf = time.perf_counter_ns


def count_error(node, reply: bytes) -> None:
    """INFO errorstats and total_error_replies (afterErrorReply)."""
    stats = node.stats
    stats.total_error_replies += 1
    code = error_code(reply)
    errors = stats.errors
    if code in errors:
        errors[code] += 1
    elif len(errors) < 128:
        errors[code] = 1


def reject(node, spec, reply: bytes) -> bytes:
    """A command refused before running (rejected_calls)."""
    if spec is not None:
        spec.rejected_calls += 1
    count_error(node, reply)
    return reply


def refuse(node, c, spec, argv: list[bytes], reply: bytes) -> bytes:
    """rejectCommand: ``reject`` for a client's request. Inside MULTI it flags the
    transaction (EXEC will answer EXECABORT); a refused EXEC discards the transaction and
    answers why (execCommandAbort, see server/watch.py)."""
    if c.multi is not None:
        c.multi_error = True
    if spec is not None and spec.fullname == "exec":
        discard_transaction(c)
        reply = exec_abort_reply(reply)
        if node.monitors:
            from .commands.admin import feed_monitors

            feed_monitors(node, c, argv)
    return reject(node, spec, reply)


def resolve(node, argv: list[bytes]):
    """(spec, None) for a runnable command, or (None|spec, error reply) when lookup or arity
    fails: the slow branch of the lookup, including container subcommands."""
    spec = node.commands.get(argv[0])
    if spec is None:
        return None, E.unknown_command(argv)
    n = len(argv)
    if spec.subcommands is not None and n > 1:
        sub = spec.subcommands.get(argv[1].lower())
        if sub is None:
            return None, E.unknown_subcommand(argv)
        spec = sub
    a = spec.arity
    if (n != a) if a > 0 else (n < -a):
        return spec, E.err(E.wrong_arity(spec.fullname))
    return spec, None


def build_call(node):
    lookup = node.commands.lookup
    blocking = node.blocking

    def call(c, argv: list[bytes]) -> bytes:
        spec = lookup.get(argv[0])
        if spec is not None:
            n = len(argv)
            a = spec.dispatch_arity
            if (n != a) if a > 0 else (n < -a):
                spec, error = resolve(node, argv)
                if error is not None:
                    return refuse(node, c, spec, argv, error)
        else:
            spec, error = resolve(node, argv)
            if error is not None:
                if spec is None and argv[0].lower() in _CROSS_PROTOCOL:
                    return cross_protocol_attack(node, c)
                return refuse(node, c, spec, argv, error)
        if c.gated:
            reply = _slow_call(node, c, spec, argv)
            if blocking.ready and node.busy_script is None:  # never inside a busy script
                blocking.serve_ready()
            return reply
        t0 = _perf()
        try:
            reply = spec.handler(c, argv)
        except CommandError as exc:
            reply = exc.reply
            spec.failed_calls += 1
            count_error(node, reply)
        dt = _perf() - t0
        spec.calls += 1
        spec.nanos += dt
        if dt > node.slowlog_ns and not spec.skip_slowlog:
            slowlog_add(node, c, argv, dt)
        if blocking.ready:  # keys a write made ready for blocked clients (server/blocking.py)
            blocking.serve_ready()
        return reply

    return call


#: No run is open in ``run_batch`` (not None: an unknown command's lookup gives None).
_CLOSED = object()


def build_run_batch(node):
    """``run_batch(client, requests, out) -> int``: the connection's hot loop.

    It runs ``requests`` in order, appending each reply to ``out``, and returns how many ran:
    fewer than all when a command set ``client.interrupt`` (the connection takes over from
    there). A request on the fast path -- known command, right arity, client not gated --
    runs inline, with ``call``'s bookkeeping; anything else goes through ``call``.

    Timing by runs. A pipeline is mostly runs of one command (16 GETs, a batch of SETs), so
    consecutive fast-path calls of the same *batchable* command share one clock read at each
    end: the run's time and count go to the command's statistics at once (its total
    ``usec`` is exact, as is ``calls``), and the slowlog judges each call of the run by the
    run's mean, logging every call when the mean passes the threshold. Batchable means
    cheap and not looking at the statistics themselves (``Spec.batchable``: fast or plain
    writes; not INFO, SLOWLOG, scripts, blocking or admin commands, which are timed alone).

    Run handlers. When a run opens on a command with a run handler (GET, SET) and the next
    request has the same name, the handler serves as much of the run as it can in one call
    (``CommandSpec.run``); the loop skips what it served and carries on from the request it
    left, which continues the same run on the ordinary path.
    """
    lookup_get = node.commands.lookup.get
    blocking = node.blocking
    call = node.call

    def close_run(c, spec, reqs: list, first: int, n: int, dt: int) -> None:
        spec.calls += n
        spec.nanos += dt
        if dt > node.slowlog_ns * n and not spec.skip_slowlog:
            mean = dt // n
            if mean > node.slowlog_ns:
                for argv in reqs[first : first + n]:
                    slowlog_add(node, c, argv, mean)

    def run_batch(c, reqs: list, out: list) -> int:
        append = out.append
        last = len(reqs) - 1
        done = 0
        run = _CLOSED  # the spec of the open run: reqs[first:done]
        first = arity = 0
        handler = None
        batchable = False
        t0 = _perf()
        it = iter(reqs)
        for argv in it:
            spec = lookup_get(argv[0])
            n = len(argv)
            # A request that continues the open run only needs its arity checked: the run's
            # command is batchable, and batchable commands do not change what gates the client.
            if spec is not run or not ((n == arity) if arity > 0 else (n >= -arity)):
                if run is not _CLOSED:
                    t1 = _perf()
                    close_run(c, run, reqs, first, done - first, t1 - t0)
                    t0 = t1
                    run = _CLOSED
                if spec is None or c.gated or not (
                    (n == spec.dispatch_arity) if spec.dispatch_arity > 0 else (n >= -spec.dispatch_arity)
                ):
                    done += 1
                    append(call(c, argv))
                    if c.interrupt:
                        return done
                    t0 = _perf()
                    continue
                run = spec  # a run opens (of one call, unless the command is batchable)
                first = done
                arity = spec.dispatch_arity
                handler = spec.handler
                batchable = spec.batchable
                if spec.run is not None and done < last and reqs[done + 1][0] == argv[0]:
                    served = spec.run(c, reqs, done, out) - done  # see CommandSpec.run
                    if served:
                        done += served
                        if served > 1:
                            next(islice(it, served - 1, served - 1), None)  # skip what it served
                        continue
            done += 1
            try:
                append(handler(c, argv))
            except CommandError as exc:
                append(exc.reply)
                run.failed_calls += 1
                count_error(node, exc.reply)
            if batchable and not blocking.ready and not c.interrupt:
                continue
            t1 = _perf()
            close_run(c, run, reqs, first, done - first, t1 - t0)
            run = _CLOSED
            if blocking.ready:
                blocking.serve_ready()
                t1 = _perf()
            t0 = t1
            if c.interrupt:
                return done
        if run is not _CLOSED:
            close_run(c, run, reqs, first, done - first, _perf() - t0)
        return done

    return run_batch


#: What an HTTP request looks like as a Redis command (securityWarningCommand).
_CROSS_PROTOCOL = frozenset((b"post", b"host:"))


def cross_protocol_attack(node, c) -> bytes:
    """Someone sent HTTP to us (cross-protocol scripting): drop the connection at once,
    without a reply, not even to the earlier commands of the same read, as Redis does."""
    node.log.warning(
        "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
        "commands to Redis. This is likely due to an attacker attempting to use Cross "
        "Protocol Scripting to compromise your Redis instance. Connection aborted."
    )
    c.close(abort=True)
    c.closed = True  # nothing more is written to it
    c.interrupt = True
    return b""


def _slow_call(node, c, spec, argv: list[bytes]) -> bytes:
    refused = _gates(node, c, spec, argv)
    if refused is not None:
        return refused
    return execute(node, c, spec, argv)


def execute(node, c, spec, argv: list[bytes]) -> bytes:
    """Run an admitted command with the full bookkeeping (also used by EXEC and scripts)."""
    if c.no_touch and spec.name != "touch" and c.db.touch:
        return _without_touching(node, c, spec, argv)
    if node.propagating and "propagate" not in node.__dict__:
        return _as_one_unit(node, c, spec, argv)
    dirty = node.dirty
    c.rewrite = None
    t0 = _perf()
    try:
        reply = spec.handler(c, argv)
    except CommandError as exc:
        reply = exc.reply
        spec.failed_calls += 1
        count_error(node, reply)
    dt = _perf() - t0
    spec.calls += 1
    spec.nanos += dt
    if dt > node.slowlog_ns and not spec.skip_slowlog:
        slowlog_add(node, c, argv, dt)
    if (
        node.propagating
        and (node.dirty != dirty or c.force_propagate)
        # A read-only command propagates when it asks to (PFCOUNT storing its cached
        # count: Redis 7.0's call() propagates any command that changed the dataset).
        and (spec.write or spec.may_replicate or c.force_propagate)
    ):
        rewrite = c.rewrite
        if rewrite is None:
            node.propagate(c.db.id, argv)
        else:
            for one in rewrite:
                node.propagate(c.db.id, one)
    c.rewrite = None
    c.force_propagate = False
    node.replication.after_command(c)  # the offset a later WAIT of this client waits for
    if node.monitors and not (spec.skip_monitor or spec.admin):
        from .commands.admin import feed_monitors

        feed_monitors(node, c, argv)
    return reply


def _as_one_unit(node, c, spec, argv: list[bytes]) -> bytes:
    """Run a command so that everything it propagates -- its own effect and the DELs of
    keys it found expired -- goes out as one unit: MULTI ... EXEC when there are several
    (Redis 7.0's propagatePendingCommands; e.g. MULTI, DEL k, INCRBY k 1, EXEC). It is
    commands/transactions.py's propagation batch, which EXEC and scripts then join, opened
    inline (a generator context manager would cost a microsecond per write)."""
    global _Batch, _emit
    if _Batch is None:
        from .commands.transactions import _Batch, _emit
    batch = _Batch()
    node.propagate = batch.propagate  # shadows the method while the command runs
    try:
        return execute(node, c, spec, argv)
    finally:
        del node.propagate
        if batch.ops:
            _emit(node.propagate, batch.ops)


_Batch = _emit = None  # commands.transactions imports this module: bound on first use


def _without_touching(node, c, spec, argv: list[bytes]) -> bytes:
    """CLIENT NO-TOUCH: run the command with every database's access clocks suspended."""
    dbs = node.dbs
    for db in dbs:
        db.touch = False
    try:
        return execute(node, c, spec, argv)
    finally:
        for db in dbs:
            db.touch = True


class CommandFlags:
    """The flags the gates read, for a command whose flags depend on its arguments."""

    __slots__ = ("write", "denyoom", "stale", "loading", "may_replicate")

    def __init__(self, spec, write: bool, denyoom: bool, stale: bool, may_replicate: bool):
        self.write = write
        self.denyoom = denyoom
        self.stale = stale
        self.loading = spec.loading
        self.may_replicate = may_replicate


#: Command name -> ``fn(node, spec, argv)`` giving the flags the gates judge it by
#: (a ``Spec`` or a ``CommandFlags``); the scripting commands register theirs.
DECLARED_FLAGS: dict = {}


def _gates(node, c, spec, argv: list[bytes]) -> bytes | None:
    """The checks of processCommand after lookup and arity, in Redis's order."""
    root = spec.parent or spec
    if root.name in ("debug", "module") and not _protected_allowed(node, c, root.name):
        return refuse(node, c, spec, argv, E.err(E.DEBUG_DISABLED))
    if not c.authenticated and not spec.no_auth:
        return refuse(node, c, spec, argv, E.err(E.NOAUTH))
    multi = c.multi
    # EXEC is judged by the commands it queued (server/watch.py Transaction); EVAL and FCALL
    # by the flags their script declares (getCommandFlags).
    flags = multi if multi is not None and spec.fullname == "exec" else spec
    declared = DECLARED_FLAGS.get(spec.name)
    if declared is not None:
        flags = declared(node, spec, argv)
    if multi is not None and spec.no_multi:
        return refuse(node, c, spec, argv, E.err(E.NOT_IN_MULTI))
    # Evict before every command, as performEvictions does; only writes that may grow the
    # dataset (and anything queued in MULTI) are refused when nothing more can go.
    if node.config["maxmemory"] and not node.free_memory_if_needed() and (
        flags.denyoom or (multi is not None and spec.fullname not in _OOM_EXEMPT_IN_MULTI)
    ):
        return refuse(node, c, spec, argv, E.err(E.OOM))
    if node.rdb.writes_denied and (flags.write or spec.name == "ping"):
        # writeCommandsDeniedByDiskError: the last BGSAVE failed (MISCONF).
        return refuse(node, c, spec, argv, E.err(E.MISCONF))
    if node.aof.denied is not None and (flags.write or spec.name == "ping"):
        # ... or the AOF cannot be written (server/persistence/aof.py).
        return refuse(node, c, spec, argv, E.err("-MISCONF Errors writing to the AOF file: " + node.aof.denied))
    repl = node.replication
    if repl.gated:  # NOREPLICAS, READONLY (replication/manager.py)
        refused = repl.refuse_write(c, flags)
        if refused is not None:
            return refuse(node, c, spec, argv, refused)
    if c.resp == 2 and c.subscriptions and spec.name not in _SUBSCRIBER_ALLOWED:
        msg = (
            "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
            "are allowed in this context" % spec.fullname
        )
        return refuse(node, c, spec, argv, E.err(msg))
    if repl.gated:  # MASTERDOWN
        refused = repl.refuse_stale(c, flags)
        if refused is not None:
            return refuse(node, c, spec, argv, refused)
    if node.loading and not flags.loading:
        return refuse(node, c, spec, argv, E.err(E.LOADING))
    if node.busy_script is not None and not spec.allow_busy:
        return refuse(node, c, spec, argv, node.busy_script.busy_reply)
    if node.pause_end and not c.is_replica and (
        node.pause_all or flags.write or flags.may_replicate
    ):
        return c.postpone(argv)
    if multi is not None and spec.fullname not in _MULTI_EXEMPT:
        if not (c.multi_error or c.dirty_cas):  # a doomed transaction keeps nothing
            multi.add(spec, argv)
        return QUEUED
    return None


_SUBSCRIBER_ALLOWED = frozenset(
    ("subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset")
)
_MULTI_EXEMPT = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))
#: In MULTI every other command is refused when out of memory (queueing uses memory).
_OOM_EXEMPT_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))


def _protected_allowed(node, c, name: str) -> bool:
    setting = node.config["enable-debug-command" if name == "debug" else "enable-module-command"]
    if setting == "yes":
        return True
    return setting == "local" and c.is_local


def slowlog_add(node, c, argv: list[bytes], dt_ns: int) -> None:
    """SLOWLOG entry: id, unix time, duration (us), argv (max 32 args, 128 bytes each),
    client address and name (slowlog.c slowlogCreateEntry)."""
    maxlen = node.config["slowlog-max-len"]
    if maxlen <= 0:
        return
    args = argv
    if len(args) > 32:
        args = args[:31] + [b"... (%d more arguments)" % (len(argv) - 31)]
    args = [
        a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128) for a in args
    ]
    entry = (node.slowlog_next_id, int(time.time()), dt_ns // 1000, args, c.addr.encode(), c.name or b"")
    node.slowlog_next_id += 1
    node.slowlog.insert(0, entry)
    del node.slowlog[maxlen:]
