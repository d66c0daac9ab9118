"""A client connection: ``asyncio.Protocol`` adapter between the socket and the dispatcher.

Design note
-----------
``data_received`` is the hot path: feed the bytes to the request reader, run every complete
request in order, and send all their replies with one ``transport.write``. Time is read
once per batch (``clock.update()``), not per command.

Anything unusual about a connection makes a handler set ``client.interrupt``; the batch
loop then stops taking the fast path and lets ``_interrupted`` sort it out:

* blocked or postponed (CLIENT PAUSE) commands: the rest of the pipeline waits in
  ``queue`` until ``resume()``;
* ``close_after_reply`` (QUIT, protocol errors, CLIENT KILL of itself);
* changes that affect parsing (AUTH succeeding lifts the unauthenticated limits) or replies
  (CLIENT REPLY OFF/SKIP).

Flow control is explicit: when the transport's send buffer passes its high-water mark,
asyncio calls ``pause_writing`` and we stop reading from that client, so a client that
pipelines without reading its replies is slowed down instead of growing our memory.
Output buffer limits (client-output-buffer-limit) disconnect pub/sub and replica clients
that fall too far behind.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from typing import TYPE_CHECKING

from protocol.encoder import RESP2
from protocol.reader import RequestReader

from . import errors as E

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

# Reasons for not reading from a client (a bit mask).
_PAUSE_BACKPRESSURE = 1
_PAUSE_WAITING = 2  # blocked or postponed: its pipeline waits in the queue

#: When a blocked client's unprocessed input grows past this, stop reading from it.
_QUEUED_INPUT_LIMIT = 1 << 20

#: A client that has not authenticated is closed once its unsent replies overflow Redis's
#: 16 KB static reply buffer (checkClientOutputBufferLimits: "used_mem > 1024 &&
#: authRequired(c)", counted beyond that buffer), so it cannot make us buffer replies.
_UNAUTH_OUTPUT_LIMIT = 16 * 1024

REPLY_ON, REPLY_OFF, REPLY_SKIP = 0, 1, 2


class Client(asyncio.Protocol):
    """One client connection (a Redis ``client``)."""

    __slots__ = (
        "node",
        "transport",
        "reader",
        "id",
        "addr",
        "laddr",
        "fd",
        "is_local",
        "name",
        "lib_name",
        "lib_ver",
        "db",
        "proto",
        "resp",
        "authenticated",
        "user",
        "gated",
        "interrupt",
        "multi",
        "multi_error",
        "dirty_cas",
        "watched",
        "subscriptions",
        "channels",
        "patterns",
        "shard_channels",
        "out",
        "pending",
        "pending_size",
        "queue",
        "closing",
        "closed",
        "blocked",
        "block",
        "block_timeout",
        "deny_blocking",
        "postponed",
        "reply_mode",
        "rewrite",
        "force_propagate",
        "created",
        "last_interaction",
        "tot_net_in",
        "last_cmd",
        "is_replica",
        "is_master",
        "is_monitor",
        "no_evict",
        "no_touch",
        "_read_paused",
        "_flags_extra",
    )

    def __init__(self, node: Node):
        self.node = node
        self.transport: asyncio.Transport | None = None
        self.id = node.next_client_id()
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.is_local = False
        self.name: bytes | None = None
        self.lib_name = b""
        self.lib_ver = b""
        self.db = node.dbs[0]
        self.proto = RESP2
        self.resp = 2
        self.authenticated = not node.requires_auth
        self.user = b"default"
        self.reader = RequestReader(node.config["proto-max-bulk-len"], self.authenticated)
        self.multi: list | None = None  # queued (spec, argv) while in MULTI
        self.multi_error = False  # a command was refused while queueing (CLIENT_DIRTY_EXEC)
        self.dirty_cas = False  # a watched key changed (CLIENT_DIRTY_CAS; server/watch.py)
        self.watched = None  # (db, key) -> WatchedKey while watching keys
        self.subscriptions = 0  # channels + patterns + shard channels (pub/sub)
        # Pub/sub subscriptions, in order (server/pubsub.py); None until the first one.
        self.channels: dict | None = None
        self.patterns: dict | None = None
        self.shard_channels: dict | None = None
        #: The replies of the batch being run, while it runs: reply_async joins them.
        self.out: list | None = None
        #: Output produced outside its batch (pushes, MONITOR lines, unblocked replies),
        #: written once per event-loop iteration; its size in bytes.
        self.pending: list | None = None
        self.pending_size = 0
        self.queue: deque | None = None
        self.closing = False
        self.closed = False
        self.blocked = False
        self.block = None  # what a blocked client waits for (server/blocking.py Waiter)
        self.block_timeout = 0  # its deadline in ms, 0 for none (INFO clients_in_timeout_table)
        self.deny_blocking = False  # set while EXEC or a script runs its commands
        self.postponed = False
        self.reply_mode = REPLY_ON
        self.rewrite = None
        self.force_propagate = False  # propagate even if the dataset did not change (FLUSHALL)
        self.created = time.time()
        self.last_interaction = node.clock.ms  # wall-clock ms of the last command batch
        self.tot_net_in = 0  # bytes read from this client (shows back-pressure in tests)
        self.last_cmd = b"NULL"
        self.is_replica = False
        self.is_master = False
        self.is_monitor = False
        self.no_evict = False
        self.no_touch = False
        self._read_paused = 0
        self._flags_extra = ""
        self.interrupt = False
        self.update_gated()

    # -- state -----------------------------------------------------------------------------
    def update_gated(self) -> None:
        """Recompute whether this client's commands need the dispatcher's slow path."""
        self.gated = (
            self.node.gated
            or not self.authenticated
            or self.multi is not None
            or (self.subscriptions > 0 and self.resp == 2)
            or self.no_touch
        )

    def select(self, index: int) -> None:
        self.db = self.node.dbs[index]

    def set_protocol(self, version: int) -> None:
        from protocol.encoder import for_version

        self.resp = version
        self.proto = for_version(version)
        self.update_gated()

    def set_authenticated(self) -> None:
        if not self.authenticated:
            self.authenticated = True
            self.reader.authenticated = True
            self.update_gated()
            self.interrupt = True  # the reader may now leave its slow, one-at-a-time mode

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        node = self.node
        self.transport = transport
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.addr = _format_addr(peer)
        self.laddr = _format_addr(local)
        if sock is not None:
            self.fd = sock.fileno()
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                keepalive = node.config["tcp-keepalive"]
                if keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    if hasattr(socket, "TCP_KEEPIDLE"):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
            except OSError:
                pass
        host = peer[0] if isinstance(peer, tuple) else ""
        # Only these two count as local (Redis 7.0 islocalClient / protected mode): a peer
        # at 127.0.0.2 is refused like any remote one.
        self.is_local = host in ("127.0.0.1", "::1")
        node.stats.total_connections_received += 1
        if len(node.clients) >= node.config["maxclients"]:
            node.stats.rejected_connections += 1
            transport.write(E.err(E.MAX_CLIENTS))
            transport.close()
            self.closed = True
            return
        if (
            node.config["protected-mode"]
            and not node.requires_auth
            and not self.is_local
            and peer is not None
        ):
            node.stats.rejected_connections += 1
            transport.write(E.PROTECTED_MODE.encode() + b"\r\n")
            transport.close()
            self.closed = True
            return
        node.clients[self.id] = self
        # The node's gates may have changed (MONITOR, CLIENT PAUSE) between our creation
        # by the protocol factory and this call, when recompute_gates could not see us.
        self.update_gated()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        node = self.node
        node.clients.pop(self.id, None)
        if self.is_monitor and self in node.monitors:
            node.monitors.remove(self)
            node.recompute_gates()
        if self.postponed and self in node.postponed:
            node.postponed.remove(self)
        for hook in node.disconnect_hooks:
            hook(self)
        self.queue = None
        self.pending = None

    def pause_writing(self) -> None:
        self._pause_reading(_PAUSE_BACKPRESSURE)

    def resume_writing(self) -> None:
        self._resume_reading(_PAUSE_BACKPRESSURE)

    def _pause_reading(self, reason: int) -> None:
        if not self._read_paused and self.transport is not None and not self.closed:
            try:
                self.transport.pause_reading()
            except RuntimeError:
                pass
        self._read_paused |= reason

    def _resume_reading(self, reason: int) -> None:
        was = self._read_paused
        self._read_paused &= ~reason
        if was and not self._read_paused and self.transport is not None and not self.closed:
            try:
                self.transport.resume_reading()
            except RuntimeError:
                pass

    # -- the hot path ------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        node = self.node
        n = len(data)
        node.stats.total_net_input_bytes += n
        self.tot_net_in += n
        # client-query-buffer-limit, checked like Redis before parsing. Only a client with
        # unparsed bytes can pass it (one read, <= 256 KB, is below the 1 MB minimum), and
        # the reader holds bytes only while on its slow path.
        reader = self.reader
        if (
            reader._slow
            and reader.pending()
            and reader.query_buffer(n) > node.config["client-query-buffer-limit"]
        ):
            self._query_buffer_limit_reached()
            return
        if self.queue is not None or not self.authenticated:
            self._data_received_slow(data)
            return
        reqs, err = self.reader.feed(data)
        if reqs:
            self.last_interaction = node.clock.update()
            out = self.out = []
            try:
                done = node.run_batch(self, reqs, out)
            finally:
                self.out = None
            self.last_cmd = reqs[done - 1]  # the whole argv: CLIENT LIST shows "client|list"
            if self.interrupt:
                self._interrupted(out, reqs, done, err)
                return
            self._send(b"".join(out))
        if err is not None:
            self._protocol_error(err)

    def _send(self, data: bytes) -> None:
        if self.pending is not None:  # what was produced for us earlier goes first
            data = self._take_pending() + data
        if data and not self.closed:
            hook = self.node.before_reply  # the AOF: commands reach the file before replies
            if hook is not None and hook(self, data):
                return  # held; the AOF sends it once the commands are on disk
            self.node.stats.total_net_output_bytes += len(data)
            self.transport.write(data)  # type: ignore[union-attr]

    # -- everything else -----------------------------------------------------------------------
    def _interrupted(self, out: list[bytes], reqs: list, done: int, err) -> None:
        """A handler flagged something special: finish the batch on the slow path."""
        self.last_cmd = reqs[done - 1]
        rest = deque(reqs[done:])
        if self.queue:
            # The interrupting command queued itself (postponed by CLIENT PAUSE): it runs
            # again first, then the rest of the pipeline.
            self.queue.extend(rest)
            rest = self.queue
        self.queue = rest
        self._finish_interrupt(out)
        if err is not None:
            self.queue.append(err)
        self._drain()

    def _finish_interrupt(self, out: list[bytes]) -> None:
        """Send the batch so far, then act on what the interrupting command asked for."""
        self.interrupt = False
        self._send(b"".join(out))
        out.clear()
        if self.closing:
            self.close()

    def _data_received_slow(self, data: bytes) -> None:
        if self.queue is None:
            self.queue = deque()
        reader = self.reader
        if not self.authenticated:
            reqs, err = reader.feed(data, 1)
        else:
            reqs, err = reader.feed(data)
        self.queue.extend(reqs)
        if err is not None:
            self.queue.append(err)
        self._drain()

    def _query_buffer_limit_reached(self) -> None:
        self.node.stats.client_query_buffer_limit_disconnections += 1
        self.node.log.warning("Closing client that reached max query buffer length")
        self.close(abort=True)

    def _drain(self) -> None:
        """Run queued requests one at a time, honouring every per-client state."""
        queue = self.queue
        out: list[bytes] = []
        self.out = out
        try:
            self._drain_into(out, queue)
        finally:
            self.out = None

    def _drain_into(self, out: list[bytes], queue) -> None:
        node = self.node
        unsent = self.transport.get_write_buffer_size() if self.transport is not None else 0
        while queue is not None and not self.closed and not self.closing:
            if self.blocked or self.postponed:
                break
            if not queue:
                if not self.authenticated:
                    reqs, err = self.reader.feed(b"", 1)
                elif self.reader._slow:
                    reqs, err = self.reader.resume()
                else:
                    break
                if not reqs and err is None:
                    break
                queue.extend(reqs)
                if err is not None:
                    queue.append(err)
                continue
            argv = queue.popleft()
            if not isinstance(argv, list):
                self._send(b"".join(out))
                out.clear()
                self._protocol_error(argv)
                return
            self.last_interaction = node.clock.update()
            mode = self.reply_mode
            reply = node.call(self, argv)
            self.interrupt = False
            self.last_cmd = argv
            if self.reply_mode == mode:
                # CLIENT REPLY answers for itself; any other command follows the mode.
                if mode == REPLY_SKIP:
                    self.reply_mode = REPLY_ON
                    reply = b""
                elif mode == REPLY_OFF:
                    reply = b""
            if reply:
                out.append(reply)
                if not self.authenticated:
                    unsent += len(reply)
                    if unsent > _UNAUTH_OUTPUT_LIMIT:
                        self.close(abort=True)  # the unsent replies are dropped, as in Redis
                        return
            if self.closing:
                break
        self._send(b"".join(out))
        if self.closing:
            self.close()
            return
        if queue is not None and not queue and not self.blocked and not self.postponed:
            if self.authenticated and not self.reader._slow and self.reply_mode == REPLY_ON:
                self.queue = None  # back to the fast path
        if self.queue is not None and self.queue and (self.blocked or self.postponed):
            if sum(len(a) for a in self.queue if isinstance(a, list)) > 64:
                self._pause_reading(_PAUSE_WAITING)

    def _protocol_error(self, err) -> None:
        self.node.log.verbose(f"Protocol error ({err.reason}) from client: id={self.id} addr={self.addr}")
        self._send(err.reply)
        self.close()

    # -- blocking and postponing -------------------------------------------------------------
    def postpone(self, argv: list[bytes]) -> bytes:
        """CLIENT PAUSE: hold this command (and the rest of the pipeline) until unpause."""
        self.postponed = True
        self.interrupt = True
        if self.queue is None:
            self.queue = deque()
        self.queue.appendleft(argv)
        self.node.postponed.append(self)
        return b""

    def resume(self) -> None:
        """Continue after being postponed or unblocked."""
        if self.closed:
            return
        self.postponed = False
        self._resume_reading(_PAUSE_WAITING)
        if self.queue is not None:
            self._drain()

    def reply_async(self, data: bytes) -> None:
        """Send a reply produced outside the batch loop (unblocked commands, pushes).

        While this client's own batch runs (a RESP3 subscriber notified of its own write),
        it joins the batch's replies in order, as it would in Redis's output buffer.
        Otherwise it waits in ``pending`` until the end of this event-loop iteration, so
        a subscriber gets one write for all the messages a pipeline of PUBLISHes sent it
        (Redis's clients_pending_write); anything else sent to the client flushes it first.
        """
        out = self.out
        if out is not None:
            out.append(data)
            return
        pending = self.pending
        if pending is None:
            loop = self.node.loop
            if loop is None:
                self._send(data)
                return
            self.pending = [data]
            loop.call_soon(self.flush_pending)
        else:
            pending.append(data)
        self.pending_size += len(data)

    def _take_pending(self) -> bytes:
        data = b"".join(self.pending)  # type: ignore[arg-type]
        self.pending = None
        self.pending_size = 0
        return data

    def flush_pending(self) -> None:
        if self.pending is not None:
            self._send(b"")

    def output_buffer_size(self) -> int:
        """Bytes produced for this client and not yet sent (client-output-buffer-limit)."""
        transport = self.transport
        buffered = transport.get_write_buffer_size() if transport is not None and not self.closed else 0
        return buffered + self.pending_size

    # -- closing -----------------------------------------------------------------------------
    def close(self, abort: bool = False) -> None:
        """Close after sending what is queued (QUIT, CLIENT KILL, errors)."""
        if self.closed:
            return
        self.closing = True
        if self.pending is not None:
            if abort:
                self._take_pending()  # dropped, like the rest of its output
            else:
                self._send(b"")
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                if self.node.before_reply is not None:
                    self.node.before_reply(self, b"")  # replies the AOF holds go out first
                self.transport.close()

    def is_idle_timed_out(self, now_ms: int, timeout: int) -> bool:
        """``timeout`` seconds without a command (replicas, masters, blocked clients and
        subscribers are exempt, as in Redis's clientsCronHandleTimeout)."""
        return (
            not self.is_replica
            and not self.is_master
            and not self.blocked
            and not self.subscriptions
            and now_ms - self.last_interaction > timeout * 1000
        )

    # -- introspection (CLIENT LIST / INFO) ---------------------------------------------------------
    def flags_string(self) -> str:
        flags = ""
        if self.is_replica:
            flags += "S"
        if self.is_master:
            flags += "M"
        if self.subscriptions:
            flags += "P"
        if self.multi is not None:
            flags += "x"
        if self.blocked:
            flags += "b"
        if self.watched:
            flags += "d" if getattr(self, "_flags_extra", "") == "dirty" else ""
        if self.closing:
            flags += "c"
        if self.no_evict:
            flags += "e"
        if self.no_touch:
            flags += "T"
        return flags or "N"


def _format_addr(addr) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"{host}:{addr[1]}"
    return str(addr or "")
