"""The master side: replicas attached to us, SYNC/PSYNC, the stream to each, WAIT.

Design note
-----------
A connection becomes a replica with SYNC or PSYNC (``sync``). PSYNC first asks the pure
decision (replication/psync.py) whether the backlog can continue the replica's history:
then it answers ``+CONTINUE [<replid>]`` and the backlog from the requested offset, and the
replica is online. Otherwise it is a full resynchronisation, in Redis's states:

``wait_bgsave_start``  waiting for a child to be forked (another child is running, or the
                      repl-diskless-sync-delay lets more replicas arrive); it gets a
                      keepalive ``\\n`` every second and no stream yet;
``wait_bgsave_end``    ``+FULLRESYNC <replid> <offset>`` was sent when the child forked; the
                      payload is being produced (replication/transfer.py) and every byte of
                      the stream since that offset is kept in the replica's buffer;
``online``             the payload was sent. After a disk-style payload the buffer follows at
                      once; after a diskless one the stream waits for the replica's first
                      ``REPLCONF ACK`` (the EOF mark must end what it reads).

The stream reaches replicas through ``feed`` (from ``Replication.feed``): the bytes join
each replica's buffer, and the buffers of the streaming replicas are written once per event
loop iteration. Output buffer limits (``client-output-buffer-limit slave``) count what a
replica has not received yet -- its buffer plus the stream bytes still in its socket's
send buffer -- and disconnect it when over the hard limit, or over the soft limit for
longer than the soft seconds, exactly when Redis would; the master carries on. A replica
that stops reading a diskless payload would hold the child up (and every replica sharing
it): once its send buffer has not moved for repl-timeout seconds it is dropped, as Redis
drops it ("Disconnecting timedout replica (full sync)").

A replica connection is a ``server.connection.Client`` whose class becomes
``ReplicaClient``: the same object, but any reply it would produce (a replica must never get
one) disconnects it, as Redis 7.0 does. Stream bytes are written to its transport directly.

WAIT blocks its client on the blocking framework (server/blocking.py) until enough online
replicas acknowledged the client's last write offset (``woff``), or the timeout; the first
WAIT of an event loop iteration feeds ``REPLCONF GETACK *``. ``good`` counts the replicas
min-replicas-to-write considers good (online and acknowledged within min-replicas-max-lag).
"""

from __future__ import annotations

import os
import time

from protocol import encoder as enc
from server.connection import Client
from server.errors import CommandError

from .failover import NO_FAILOVER
from .psync import History, decide
from .transfer import DiskTransfer, SocketTransfer

WAIT_BGSAVE_START = "wait_bgsave_start"
WAIT_BGSAVE_END = "wait_bgsave_end"
SEND_BULK = "send_bulk"
ONLINE = "online"
#: How INFO shows each state (replstateToString).
STATE_NAMES = {WAIT_BGSAVE_START: "wait_bgsave", WAIT_BGSAVE_END: "wait_bgsave", SEND_BULK: "send_bulk", ONLINE: "online"}

#: The blocking framework's "type" for WAIT: no key is ever ready for it.
_WAIT = "wait"


class ReplicaClient(Client):
    """A client connection that became a replica (see the module docstring)."""

    __slots__ = ()

    def _send(self, data: bytes) -> None:
        if self.pending is not None:
            data = self._take_pending() + data
        if data and not self.closed:
            node = self.node
            from server.clientinfo import info_line

            name = "<unknown>"
            if isinstance(self.last_cmd, list) and self.last_cmd:
                name = self.last_cmd[0].decode("latin-1").lower()
            node.log.warning("Replica generated a reply to command '%s', disconnecting it: %s" % (name, info_line(self)))
            self.close(abort=True)


class Replica:
    """One replica attached to us (a Redis client with CLIENT_SLAVE)."""

    __slots__ = (
        "client", "state", "port", "ip", "capa_eof", "capa_psync2", "pre_psync", "rdb_only",
        "filters", "ack_off", "ack_time", "initial_offset", "out", "out_size", "streaming",
        "start_on_ack", "acked_early", "stream_written", "soft_since", "transfer", "progress_at",
        "progress_buffered",
    )

    def __init__(self, client, req, pre_psync: bool):
        self.client = client
        self.state = WAIT_BGSAVE_START
        self.port = req.port
        self.ip = req.ip.decode("latin-1") if req.ip else ""
        self.capa_eof = req.capa_eof
        self.capa_psync2 = req.capa_psync2
        self.rdb_only = req.rdb_only
        #: What the RDB leaves out (rdb-filter-only): (data, functions) excluded.
        self.filters = (req.exclude_data, req.exclude_functions)
        self.pre_psync = pre_psync  # SYNC: no +FULLRESYNC line
        self.ack_off = 0
        self.ack_time = int(time.time())
        self.initial_offset = -1
        self.out: list[bytes] = []  # stream bytes not written to the socket yet
        self.out_size = 0
        self.streaming = False  # stream bytes go to the socket as they come
        self.start_on_ack = False  # online after a diskless payload: stream after the first ACK
        self.acked_early = False  # that ACK came before we saw the transfer end
        self.stream_written = 0  # stream bytes written since the payload (output limit)
        self.soft_since = 0
        self.transfer = None
        #: A diskless payload's progress (repl_last_partial_write): when the bytes waiting in
        #: our send buffer last changed, and how many there were.
        self.progress_at = 0
        self.progress_buffered = 0

    @property
    def address(self) -> str:
        return self.ip or self.client.addr.rsplit(":", 1)[0]

    @property
    def name(self) -> str:
        """replicationGetSlaveName: the announced (or peer) address and listening port."""
        addr = self.address
        if self.port:
            return "[%s]:%d" % (addr, self.port) if ":" in addr else "%s:%d" % (addr, self.port)
        return "%s:<unknown-replica-port>" % addr

    def write(self, data: bytes) -> None:
        c = self.client
        transport = c.transport
        if c.closed or transport is None:
            return
        transport.write(data)
        c.node.stats.total_net_repl_output_bytes += len(data)

    def transport_buffered(self) -> int:
        transport = self.client.transport
        return transport.get_write_buffer_size() if transport is not None and not self.client.closed else 0

    def unsent(self) -> int:
        """Stream bytes the replica has not received (what its output buffer limit counts)."""
        pending = self.out_size
        if self.streaming:
            pending += min(self.transport_buffered(), self.stream_written)
        return pending


class Replicas:
    """Every replica attached to this node; see the module docstring."""

    def __init__(self, repl):
        self.repl = repl
        self.node = repl.node
        self.attached: list[Replica] = []
        self.by_client: dict[int, Replica] = {}
        self.good = 0
        self.no_replicas_since = time.time()
        self.transfer = None  # the running DiskTransfer / SocketTransfer
        self._flush_scheduled = False
        #: WAIT: each client's offset after its last propagated write, and the waiters.
        self.woff: dict[int, int] = {}
        self.waiting: list = []
        self._waiters_check_scheduled = False
        self._getack_scheduled = False
        self.node.disconnect_hooks.append(self._client_gone)

    # -- SYNC / PSYNC --------------------------------------------------------------------------
    def sync(self, c, argv: list[bytes], req) -> bytes:
        """syncCommand. ``req`` is what the client announced with REPLCONF."""
        repl = self.repl
        node = self.node
        if c.is_replica:
            return b""  # already a replica: ignored
        psync = argv[0].lower() == b"psync"
        if psync and len(argv) > 3 and argv[3].lower() == b"failover":
            node.log.warning("Failover request received for replid %s." % argv[1].decode("latin-1"))
            if repl.master_host is None:
                raise CommandError("PSYNC FAILOVER can't be sent to a master.")
            if argv[1].lower() != repl.replid.encode():
                raise CommandError("PSYNC FAILOVER replid must match my replid.")
            repl.unset_master()
            from server.clientinfo import info_line

            node.log.notice("MASTER MODE enabled (failover request from '%s')" % info_line(c))
        if repl.failover.state != NO_FAILOVER:
            raise CommandError("-NOMASTERLINK Can't SYNC while failing over")
        if repl.master_host is not None and not repl.upstream.connected:
            raise CommandError("-NOMASTERLINK Can't SYNC while not connected with my master")
        if _has_pending_output(c):
            raise CommandError("SYNC and PSYNC are invalid with pending output")
        if (req.exclude_data or req.exclude_functions) and not req.capa_eof:
            raise CommandError("Filtered replica requires EOF capability")
        replica = Replica(c, req, pre_psync=not psync)
        node.log.notice("Replica %s asks for synchronization" % replica.name)
        stats = node.stats
        if psync:
            offset = _parse_offset(argv[2])
            if offset is None:
                node.log.warning("Replica %s asks for synchronization but with a wrong offset" % replica.name)
                raise CommandError("value is not an integer or out of range")
            if self._try_partial(replica, argv[1].decode("latin-1"), offset):
                stats.sync_partial_ok += 1
                return b""
            if argv[1][:1] != b"?":
                stats.sync_partial_err += 1
        stats.sync_full += 1
        self._add(replica)
        if len(self.attached) == 1 and repl.backlog is None:
            # A backlog from scratch: a new history (new replid, no replid2).
            repl.change_replid()
            repl.clear_replid2()
            repl.create_backlog()
            node.log.notice("Replication backlog created, my new replication IDs are '%s' and '%s'"
                            % (repl.replid, repl.replid2))
        self._start_full_sync(replica)
        return b""

    def _add(self, replica: Replica) -> None:
        c = replica.client
        c.is_replica = True
        c.__class__ = ReplicaClient
        self.attached.append(replica)
        self.by_client[c.id] = replica

    def _try_partial(self, replica: Replica, replid: str, offset: int) -> bool:
        """masterTryPartialResynchronization."""
        repl = self.repl
        backlog = repl.backlog
        history = History(repl.replid, repl.replid2, repl.second_replid_offset, repl.master_repl_offset,
                          backlog.first_byte_offset if backlog is not None else None)
        decision = decide(history, replid, offset, replica.name)
        log = self.node.log
        if not decision.partial:
            log.notice(decision.log)
            if decision.warning:
                log.warning(decision.warning)
            return False
        self._add(replica)
        replica.state = ONLINE
        replica.ack_time = int(time.time())
        replica.streaming = True
        line = b"+CONTINUE %s\r\n" % repl.replid.encode() if replica.capa_psync2 else b"+CONTINUE\r\n"
        replica.write(line)
        data = backlog.read_from(offset)
        if data:
            replica.write(data)
            replica.stream_written += len(data)
        log.notice("Partial resynchronization request from %s accepted. Sending %d bytes of backlog starting "
                   "from offset %d." % (replica.name, len(data), offset))
        self.refresh_good()
        return True

    # -- full synchronisation ----------------------------------------------------------------------
    def _start_full_sync(self, replica: Replica) -> None:
        """The three cases of syncCommand: join a disk BGSAVE in progress, wait, or start."""
        node = self.node
        config = node.config
        transfer = self.transfer
        if transfer is not None and transfer.kind == "disk" and transfer.running:
            other = next((r for r in transfer.targets if r.state == WAIT_BGSAVE_END), None)
            if other is not None and (replica.capa_eof or not other.capa_eof) and replica.filters == other.filters:
                # The BGSAVE's stream buffer since the fork is the same for us: copy it.
                replica.out = list(other.out)
                replica.out_size = other.out_size
                self._setup_full_resync(replica, other.initial_offset, transfer)
                node.log.notice("Waiting for end of BGSAVE for SYNC")
            else:
                node.log.notice("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC")
        elif transfer is not None:
            node.log.notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC")
        elif config["repl-diskless-sync"] and replica.capa_eof and config["repl-diskless-sync-delay"]:
            node.log.notice("Delay next BGSAVE for diskless SYNC")
        elif not self._child_active():
            self._start_bgsave(replica.capa_eof, replica.filters)
        else:
            node.log.notice("No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed")

    def _child_active(self) -> bool:
        return self.transfer is not None or self.node.rdb.in_progress

    def start_pending_fork(self) -> None:
        """replicationStartPendingFork: start the payload for the waiting replicas once no
        child runs and the diskless delay (or enough replicas) says so."""
        if not self.attached or self._child_active():
            return
        config = self.node.config
        waiting = []
        filters = None
        for r in self.attached:
            if r.state != WAIT_BGSAVE_START:
                continue
            if filters is None:
                filters = r.filters
            elif r.filters != filters:
                continue
            waiting.append(r)
        if not waiting:
            return
        now_ms = self.node.clock.ms
        max_idle = max((now_ms - r.client.last_interaction) // 1000 for r in waiting)
        max_replicas = config["repl-diskless-sync-max-replicas"]
        if (
            not config["repl-diskless-sync"]
            or (max_replicas > 0 and len(waiting) >= max_replicas)
            or max_idle >= config["repl-diskless-sync-delay"]
        ):
            self._start_bgsave(all(r.capa_eof for r in waiting), filters)

    def _start_bgsave(self, capa_eof: bool, filters) -> bool:
        """startBgsaveForReplication for the waiting replicas with these ``filters``."""
        node = self.node
        repl = self.repl
        filtered = filters[0] or filters[1]
        socket_target = (node.config["repl-diskless-sync"] or filtered) and capa_eof
        node.log.notice("Starting BGSAVE for SYNC with target: %s" % ("replicas sockets" if socket_target else "disk"))
        targets = [r for r in self.attached if r.state == WAIT_BGSAVE_START and r.filters == filters]
        ok = repl.rdb_info() is not None
        if not ok:
            node.log.warning("BGSAVE for replication: replication information not available, can't generate "
                             "the RDB file right now. Try later.")
        elif socket_target:
            offset = repl.master_repl_offset
            for r in targets:
                self._setup_full_resync(r, offset, None)
            mark = os.urandom(20).hex().encode()
            transfer = SocketTransfer(node, list(targets), mark, not filters[0], not filters[1], self._socket_done)
            for r in targets:
                r.transfer = transfer
            self.transfer = transfer
            ok = transfer.start()
            if not ok:
                self.transfer = None
                for r in targets:
                    self._close(r)
                return False
        else:
            transfer = DiskTransfer(node, self._disk_done)
            self.transfer = transfer
            ok = transfer.start()
            if ok:
                offset = repl.master_repl_offset
                for r in targets:
                    self._setup_full_resync(r, offset, transfer)
            else:
                self.transfer = None
        if not ok:
            node.log.warning("BGSAVE for replication failed")
            for r in targets:
                if r.state == WAIT_BGSAVE_START:
                    r.client.is_replica = False
                    self._remove(r)
                    r.client.__class__ = Client
                    r.client.reply_async(b"-ERR BGSAVE failed, replication can't continue\r\n")
                    r.client.close()
        return ok

    def _setup_full_resync(self, replica: Replica, offset: int, transfer) -> None:
        """replicationSetupSlaveForFullResync: the stream for this replica starts here."""
        replica.initial_offset = offset
        replica.state = WAIT_BGSAVE_END
        replica.transfer = transfer
        if transfer is not None:
            transfer.targets.append(replica)
        self.repl.seldb = -1  # the next command goes out with a SELECT
        if not replica.pre_psync:
            replica.write(b"+FULLRESYNC %s %d\r\n" % (self.repl.replid.encode(), offset))

    def _disk_done(self, transfer, ok: bool, payload: bytes | None) -> None:
        """updateSlavesWaitingBgsave for a disk target: send the file, then the stream."""
        if self.transfer is transfer:
            self.transfer = None
        node = self.node
        for r in list(transfer.targets):
            if r.state != WAIT_BGSAVE_END or r.client.closed:
                continue
            if not ok or payload is None:
                node.log.warning("SYNC failed. BGSAVE child returned an error")
                self._close(r)
                continue
            r.state = SEND_BULK
            r.write(b"$%d\r\n" % len(payload))
            r.write(payload)
            self._put_online(r, stream_now=True)
        self.start_pending_fork()

    def _socket_done(self, transfer, ok: bool) -> None:
        if self.transfer is transfer:
            self.transfer = None
        node = self.node
        for r in list(transfer.targets):
            if r.state != WAIT_BGSAVE_END or r.client.closed:
                continue
            if not ok:
                node.log.warning("SYNC failed. BGSAVE child returned an error")
                self._close(r)
                continue
            node.log.notice("Streamed RDB transfer with replica %s succeeded (socket). Waiting for REPLCONF ACK "
                            "from slave to enable streaming" % r.name)
            self._put_online(r, stream_now=False)
        self.start_pending_fork()

    def _put_online(self, r: Replica, stream_now: bool) -> None:
        """replicaPutOnline (+ replicaStartCommandStream after a disk payload)."""
        node = self.node
        r.transfer = None
        if r.rdb_only:
            node.log.notice("RDB transfer completed, rdb only replica (%s) should be disconnected asap" % r.name)
            self._close(r, abort=False)
            return
        r.state = ONLINE
        r.ack_time = int(time.time())
        self.refresh_good()
        node.log.notice("Synchronization with replica %s succeeded" % r.name)
        if stream_now or r.acked_early:
            self._start_stream(r)
        else:
            r.start_on_ack = True

    def _start_stream(self, r: Replica) -> None:
        r.start_on_ack = False
        r.streaming = True
        r.stream_written = 0
        self._schedule_flush()

    def reap(self) -> None:
        transfer = self.transfer
        if transfer is not None and transfer.kind == "socket":
            transfer.reap()

    def kill_transfer(self) -> None:
        transfer = self.transfer
        if transfer is not None:
            transfer.kill()
            self.transfer = None

    # -- the stream -------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        n = len(data)
        for r in self.attached:
            if r.state != WAIT_BGSAVE_START:
                r.out.append(data)
                r.out_size += n
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            loop = self.node.loop
            if loop is None:
                return
            self._flush_scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the streaming replicas' buffers (once per loop iteration), then check
        everyone's output buffer limit."""
        self._flush_scheduled = False
        for r in list(self.attached):
            if r.streaming and r.out:
                data = b"".join(r.out) if len(r.out) > 1 else r.out[0]
                r.out = []
                r.out_size = 0
                r.write(data)
                r.stream_written += len(data)
            self._check_limits(r)

    def _check_limits(self, r: Replica) -> None:
        """checkClientOutputBufferLimits for the replica class."""
        hard, soft, seconds = self.node.config["client-output-buffer-limit"]["slave"]
        used = r.unsent()
        over = bool(hard and used >= hard)
        if soft and used >= soft:
            now = int(time.time())
            if r.soft_since == 0:
                r.soft_since = now
            elif now - r.soft_since > seconds:
                over = True
        else:
            r.soft_since = 0
        if over and not r.client.closed:
            from server.clientinfo import info_line

            self.node.stats.client_output_buffer_limit_disconnections += 1
            self.node.log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits."
                                  % info_line(r.client))
            self._close(r)

    # -- ACKs ---------------------------------------------------------------------------------------
    def ack(self, c, value: bytes) -> None:
        """REPLCONF ACK <offset> from a replica (no reply)."""
        r = self.by_client.get(c.id)
        if r is None:
            return
        offset = _parse_offset(value)
        if offset is None:
            return
        if offset > r.ack_off:
            r.ack_off = offset
        r.ack_time = int(time.time())
        if r.start_on_ack and r.state == ONLINE:
            self._start_stream(r)
        elif r.state == WAIT_BGSAVE_END and r.transfer is not None and r.transfer.kind == "socket":
            # The replica read the whole payload before we saw the child finish (Redis
            # checks for the child here): start its stream as soon as we do.
            r.acked_early = True
        if self.waiting:
            self._schedule_waiters_check()
        self.repl.failover.schedule_update()

    def find(self, host: str, port: int) -> Replica | None:
        """findReplica: by announced (or peer) address, case-insensitively, and listening port."""
        host = host.lower()
        return next((r for r in self.attached if r.port == port and r.address.lower() == host), None)

    # -- WAIT ---------------------------------------------------------------------------------------
    def count_acks(self, offset: int) -> int:
        """replicationCountAcksByOffset."""
        return sum(1 for r in self.attached if r.state == ONLINE and r.ack_off >= offset)

    def wait(self, c, argv, numreplicas: int, deadline: int) -> bytes:
        offset = self.woff.get(c.id, 0)
        acked = self.count_acks(offset)
        if acked >= numreplicas or c.deny_blocking:
            return enc.integer(acked)
        entry = [c, offset, numreplicas]
        self.waiting.append(entry)

        def on_timeout(client):
            self._forget_waiter(entry)
            return enc.integer(self.count_acks(offset))

        reply = self.node.blocking.block(c, argv, (), deadline, _WAIT, _never_served, on_timeout)
        self._request_acks_soon()
        return reply

    def _request_acks_soon(self) -> None:
        """replicationRequestAckFromSlaves: one GETACK before the loop sleeps again."""
        if not self._getack_scheduled and self.node.loop is not None:
            self._getack_scheduled = True
            self.node.loop.call_soon(self._send_getack)

    def _send_getack(self) -> None:
        self._getack_scheduled = False
        node = self.node
        if node.pause_end:  # not while clients are paused (it would move the offset)
            return
        if self.repl.master_host is None:
            self.repl.request_acks()

    def _schedule_waiters_check(self) -> None:
        if not self._waiters_check_scheduled and self.node.loop is not None:
            self._waiters_check_scheduled = True
            self.node.loop.call_soon(self._check_waiters)

    def _check_waiters(self) -> None:
        """processClientsWaitingReplicas."""
        self._waiters_check_scheduled = False
        for entry in list(self.waiting):
            c, offset, numreplicas = entry
            if c.closed or c.block is None:
                self._forget_waiter(entry)
                continue
            acked = self.count_acks(offset)
            if acked >= numreplicas:
                self._forget_waiter(entry)
                self.node.blocking.finish(c, enc.integer(acked))

    def _forget_waiter(self, entry) -> None:
        try:
            self.waiting.remove(entry)
        except ValueError:
            pass

    # -- min-replicas ---------------------------------------------------------------------------
    def refresh_good(self) -> None:
        """refreshGoodSlavesCount."""
        config = self.node.config
        if not config["min-replicas-to-write"] or not config["min-replicas-max-lag"]:
            return
        now = int(time.time())
        lag = config["min-replicas-max-lag"]
        self.good = sum(1 for r in self.attached if r.state == ONLINE and now - r.ack_time <= lag)

    # -- leaving ---------------------------------------------------------------------------------
    def _close(self, r: Replica, abort: bool = True) -> None:
        if r.streaming and r.out and not abort:
            self.flush()
        r.client.close(abort=abort)

    def _remove(self, r: Replica) -> None:
        if r in self.attached:
            self.attached.remove(r)
        self.by_client.pop(r.client.id, None)
        transfer = r.transfer
        if transfer is not None:
            if transfer.kind == "socket":
                transfer.drop_target(r)
                if not transfer.running and self.transfer is transfer:
                    self.transfer = None
            elif r in transfer.targets:
                transfer.targets.remove(r)
        if not self.attached:
            self.no_replicas_since = time.time()
        self.refresh_good()

    def _client_gone(self, c) -> None:
        self.woff.pop(c.id, None)
        r = self.by_client.get(c.id)
        if r is None:
            return
        self.node.log.warning("Connection with replica %s lost." % r.name)
        self._remove(r)
        if self.waiting:
            self._schedule_waiters_check()

    def disconnect_all(self) -> None:
        """disconnectSlaves: they reconnect and learn what changed."""
        for r in list(self.attached):
            r.client.close(abort=True)

    # -- cron ---------------------------------------------------------------------------------------
    def cron(self) -> None:
        """The master's part of replicationCron (once a second)."""
        repl = self.repl
        node = self.node
        config = node.config
        # No PING while a FAILOVER with a TIMEOUT holds writes back (it would move the offset).
        failover_pause = repl.failover.end_ms and node.pause_end
        if repl.master_host is None and self.attached and not failover_pause:
            if repl.cron_loops % config["repl-ping-replica-period"] == 0:
                repl.feed_ping()
        for r in self.attached:
            presync = r.state == WAIT_BGSAVE_START or (
                r.state == WAIT_BGSAVE_END and r.transfer is not None and r.transfer.kind == "disk"
            )
            if presync:
                r.write(b"\n")
        timeout = config["repl-timeout"]
        now = int(time.time())
        for r in list(self.attached):
            if r.state == ONLINE and not r.pre_psync and now - r.ack_time > timeout:
                node.log.warning("Disconnecting timedout replica (streaming sync): %s" % r.name)
                self._close(r)
            elif r.state == WAIT_BGSAVE_END and r.transfer is not None and r.transfer.kind == "socket":
                # A replica that stopped reading a diskless payload holds the child (and
                # every other replica of the transfer) up: only disk payloads may wait.
                buffered = r.transport_buffered()
                if buffered != r.progress_buffered or not buffered or not r.progress_at:
                    r.progress_at, r.progress_buffered = now, buffered
                elif now - r.progress_at > timeout:
                    node.log.warning("Disconnecting timedout replica (full sync): %s" % r.name)
                    self._close(r)
        ttl = config["repl-backlog-ttl"]
        if (
            not self.attached
            and repl.master_host is None
            and repl.backlog is not None
            and ttl
            and time.time() - self.no_replicas_since > ttl
        ):
            repl.change_replid()
            repl.clear_replid2()
            repl.free_backlog()
            node.log.notice("Replication backlog freed after %d seconds without connected replicas." % ttl)
        self.refresh_good()
        for r in list(self.attached):
            self._check_limits(r)


def _never_served(c, db, key, value):
    return None


def _parse_offset(value: bytes) -> int | None:
    from server.commands.args import parse_int

    return parse_int(value)


def _has_pending_output(c) -> bool:
    """clientHasPendingReplies: replies of earlier commands not sent yet."""
    out = c.out
    if out is not None and any(out):
        return True
    if c.pending:
        return True
    transport = c.transport
    return transport is not None and transport.get_write_buffer_size() > 0
