"""The replica side: our link to our master (``Upstream``), from connect to applying its stream.

Design note
-----------
``Upstream`` keeps Redis's replica state (``server.repl_state``): ``none`` -> ``connect``
(waiting to connect; replicationCron retries once a second) -> ``connecting`` (TCP) ->
the handshake -> ``transfer`` (receiving a payload) -> ``connected``. One ``MasterLink``
(an ``asyncio.Protocol``) carries one attempt: its bytes go to the sans-IO ``Handshake``
(replication/handshake.py) until the stream starts, and the events it returns are acted on
here: log lines, bytes to send, a full resynchronisation (flush, load the RDB, adopt the
master's replid and offset) or a partial one (resume from the cached master, maybe with a
new replid).

From then on the link's bytes are commands from the master, applied by ``MasterClient`` --
a ``server.connection.Client`` flagged ``is_master`` (CLIENT LIST shows ``M``) whose replies
are dropped -- through the node's dispatcher like any client's, one command at a time, so
that the offset moves by each command's exact size (``reploff``; inside MULTI it moves at
EXEC). After each batch the applied bytes are handed to ``Replication.feed`` unchanged:
they enter our backlog and reach our own replicas byte for byte. ``REPLCONF GETACK`` is
answered at once with the offset before it; an ACK also goes out every second.

When an established link breaks, the master's state is cached (replid, offset, selected
database) and we reconnect at once asking ``PSYNC <replid> <offset+1>``. A master that
becomes a replica caches itself the same way, so its first PSYNC can be partial too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from protocol.reader import RequestReader
from server.connection import Client

from . import handshake as hs
from .rdbinfo import aux_history
from .stream import StreamReader

NONE = "none"
CONNECT = "connect"
CONNECTING = "connecting"
TRANSFER = "sync"
CONNECTED = "connected"


class CachedMaster:
    """What survives a broken link (server.cached_master): enough to ask for a PSYNC."""

    __slots__ = ("replid", "reploff", "dbid")

    def __init__(self, replid: str, reploff: int, dbid: int):
        self.replid = replid
        self.reploff = reploff
        self.dbid = dbid


class _LinkTransport:
    """The master client's ``transport``: replies go nowhere, closing closes the link."""

    __slots__ = ("link",)

    def __init__(self, link):
        self.link = link

    def write(self, data) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.link.close()

    def abort(self) -> None:
        self.link.close()

    def pause_reading(self) -> None:
        self.link.pause_reading()

    def resume_reading(self) -> None:
        self.link.resume_reading()

    def is_closing(self) -> bool:
        return self.link.closed

    def get_extra_info(self, name, default=None):
        t = self.link.transport
        return t.get_extra_info(name, default) if t is not None else default


class MasterClient(Client):
    """The client the master's commands run as (see the module docstring)."""

    __slots__ = ("link", "reploff", "read_reploff", "replid", "_postponed_at")

    def __init__(self, node, link, replid: str, reploff: int, dbid: int):
        super().__init__(node)
        self.link = link
        self.replid = replid
        self.reploff = reploff
        self.read_reploff = reploff
        self._postponed_at = -1
        self.is_master = True
        self.authenticated = True
        self.reader = RequestReader(node.config["proto-max-bulk-len"], True, master=True)
        self.transport = _LinkTransport(link)
        peer = link.peer
        self.addr = "%s:%d" % peer if peer else ""
        local = link.local
        self.laddr = "%s:%d" % local if local else ""
        if 0 <= dbid < len(node.dbs):
            self.db = node.dbs[dbid]
        node.clients[self.id] = self
        self.update_gated()

    def _send(self, data: bytes) -> None:
        if self.pending is not None:
            self._take_pending()  # a master never gets replies

    def resume(self) -> None:
        """The end of a CLIENT PAUSE: apply the postponed command and go on."""
        if self.closed:
            return
        self.postponed = False
        self.link.resume_apply()


class MasterLink(asyncio.Protocol):
    """One connection to our master (one sync attempt); see the module docstring."""

    def __init__(self, upstream, handshake: hs.Handshake):
        self.upstream = upstream
        self.handshake = handshake
        self.transport: asyncio.Transport | None = None
        self.client: MasterClient | None = None
        self.closed = False
        self.peer = None
        self.local = None
        #: Stream bytes applied but not yet fed to our backlog/replicas, from ``proxied``.
        self.unproxied = bytearray()
        self.proxied = 0
        #: The commands of the stream, with their sizes; ``parsed``: the offset reached.
        self.reader = StreamReader()
        self.parsed = 0
        self._paused = False

    # -- asyncio ---------------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.peer = tuple(peer[:2]) if isinstance(peer, tuple) else None
        self.local = tuple(local[:2]) if isinstance(local, tuple) else None
        self.upstream.link_connected(self)

    def data_received(self, data: bytes) -> None:
        if not self.closed:
            self.upstream.link_data(self, data)

    def connection_lost(self, exc) -> None:
        if self.closed and self.transport is None:
            return
        self.closed = True
        self.transport = None
        self.upstream.link_lost(self)

    # -- output ----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        t = self.transport
        if t is not None:
            t.abort()  # connection_lost follows
        else:
            self.upstream.link_lost(self)

    def pause_reading(self) -> None:
        if self.transport is not None and not self._paused:
            self._paused = True
            try:
                self.transport.pause_reading()
            except RuntimeError:
                pass

    def resume_reading(self) -> None:
        if self.transport is not None and self._paused:
            self._paused = False
            try:
                self.transport.resume_reading()
            except RuntimeError:
                pass

    # -- applying the stream ------------------------------------------------------------------------
    def stream(self, data: bytes) -> None:
        c = self.client
        c.read_reploff += len(data)
        c.last_interaction = c.node.clock.update()
        self.unproxied += data
        self.reader.feed(data)
        self.apply()

    def apply(self) -> None:
        """Run every complete command received (processInputBuffer for the master)."""
        c = self.client
        node = c.node
        repl = self.upstream.repl
        reader = self.reader
        call = node.call
        node.clock.update()
        repl.applying = True
        try:
            while not c.postponed and not self.closed and not c.closed:
                item = reader.next()
                if item is None:
                    err = reader.error
                    if err is not None:
                        node.log.warning("Protocol error (%s) from client: %s. Closing the connection with the "
                                         "master." % (err.reason, self.upstream.master_name))
                        self.close()
                    break
                argv, size = item
                end = self.parsed = self.parsed + size
                call(c, argv)
                c.interrupt = False
                c.last_cmd = argv
                if c.postponed:
                    c._postponed_at = end
                    self.pause_reading()
                    break
                if c.multi is None:
                    c.reploff = end
        finally:
            repl.applying = False
        self.proxy()

    def resume_apply(self) -> None:
        c = self.client
        if c is None or self.closed:
            return
        queue = c.queue
        argv = queue.popleft() if queue else None
        c.queue = None
        end = c._postponed_at
        c._postponed_at = -1
        if argv is not None:
            node = c.node
            node.clock.update()
            self.upstream.repl.applying = True
            try:
                node.call(c, argv)
            finally:
                self.upstream.repl.applying = False
            c.interrupt = False
            if c.postponed:
                c._postponed_at = end
                return
            if c.multi is None and end >= 0:
                c.reploff = end
        self.resume_reading()
        self.apply()

    def proxy(self) -> None:
        """Hand the applied bytes to our backlog and replicas (replicationFeedStreamFromMasterStream)."""
        c = self.client
        n = c.reploff - self.proxied
        if n <= 0:
            return
        data = bytes(self.unproxied[:n])
        del self.unproxied[:n]
        self.proxied = c.reploff
        self.upstream.repl.feed(data)

    def send_ack(self) -> None:
        c = self.client
        if c is not None:
            self.write(hs.command("REPLCONF", "ACK", str(c.reploff)))


class Upstream:
    """Our master, as seen by a replica: see the module docstring."""

    def __init__(self, repl):
        self.repl = repl
        self.node = repl.node
        self.state = NONE
        self.link: MasterLink | None = None
        self.cached: CachedMaster | None = None
        self.down_since = 0.0  # when the link went down (0: never up since REPLICAOF)
        self.last_io = 0.0  # repl_transfer_lastio
        self._pending_sync: tuple[str, int] | None = None  # +FULLRESYNC's replid and offset
        self._task = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    @property
    def master(self) -> MasterClient | None:
        link = self.link
        return link.client if link is not None and self.state == CONNECTED else None

    @property
    def in_handshake(self) -> bool:
        link = self.link
        return self.state == CONNECTING and link is not None and link.transport is not None

    @property
    def role_state(self) -> str:
        """ROLE's state word."""
        if self.in_handshake:
            return "handshake"
        return self.state

    @property
    def master_name(self) -> str:
        return "%s:%d" % (self.repl.master_host, self.repl.master_port)

    def stream_db(self) -> int | None:
        """The selected database of our master's stream (repl-stream-db), None if unknown."""
        master = self.master
        if master is not None:
            return master.db.id
        if self.cached is not None:
            return self.cached.dbid
        return None

    def offsets(self) -> tuple[int, int]:
        """(slave_read_repl_offset, slave_repl_offset) as INFO shows them."""
        master = self.master
        if master is not None:
            return master.read_reploff, master.reploff
        if self.cached is not None:
            return self.cached.reploff, self.cached.reploff
        return 1, 1

    # -- connecting -----------------------------------------------------------------------------------
    def connect_soon(self) -> None:
        """Connect on the next replication cron (a replica configured at startup)."""
        self.state = CONNECT

    def connect(self) -> None:
        """connectWithMaster."""
        repl = self.repl
        node = self.node
        if repl.master_host is None or node.loop is None:
            self.state = CONNECT
            return
        self.close_link()
        cached = self.cached
        config = node.config
        auth = config["masterauth"]
        shake = hs.Handshake(
            listening_port=config["replica-announce-port"] or node.port,
            announce_ip=config["replica-announce-ip"] or None,
            masteruser=config["masteruser"] or None,
            masterauth=auth if auth else None,
            psync_replid=cached.replid if cached is not None else "?",
            psync_offset=cached.reploff + 1 if cached is not None else -1,
            failover=repl.failover.in_progress,
        )
        link = MasterLink(self, shake)
        self.link = link
        self.state = CONNECTING
        self.last_io = time.time()
        node.log.notice("MASTER <-> REPLICA sync started")
        host, port = repl.master_host, repl.master_port
        self._task = node.loop.create_task(self._open(link, host, port))

    async def _open(self, link: MasterLink, host: str, port: int) -> None:
        try:
            await self.node.loop.create_connection(lambda: link, host, port)
        except (OSError, asyncio.CancelledError, ValueError) as exc:
            if link is self.link and not link.closed:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.node.log.warning("Error condition on socket for SYNC: %s" % reason)
                link.closed = True
                self.link = None
                self.state = CONNECT

    def link_connected(self, link: MasterLink) -> None:
        if link is not self.link or self.repl.master_host is None:
            link.close()
            return
        self.node.log.notice("Non blocking connect for SYNC fired the event.")
        self.last_io = time.time()
        self._act(link, link.handshake.start())

    def link_data(self, link: MasterLink, data: bytes) -> None:
        if link is not self.link:
            return
        self.node.stats.total_net_repl_input_bytes += len(data)
        if self.state == CONNECTED:
            link.stream(data)
            return
        self.last_io = time.time()
        self._act(link, link.handshake.receive(data))

    def _act(self, link: MasterLink, events: list) -> None:
        """Carry out what the handshake machine asked for."""
        log = self.node.log
        for event in events:
            if link.closed:
                return
            kind = type(event)
            if kind is hs.Send:
                link.write(event.data)
            elif kind is hs.Log:
                getattr(log, event.level)(event.text)
            elif kind is hs.Keepalive:
                self.last_io = time.time()
            elif kind is hs.FullResync:
                self._pending_sync = (event.replid, event.offset)
                self.discard_cached(quiet=True)
                self.state = TRANSFER
                self.repl.failover.psync_answered()
            elif kind is hs.TransferStarted:
                pass
            elif kind is hs.Payload:
                if not self._load(link, event.rdb, event.eof_marked):
                    return
            elif kind is hs.Continue:
                self._continue(link, event.replid)
                self.repl.failover.psync_answered()
            elif kind is hs.Stream:
                link.stream(event.data)
            elif kind is hs.Failed:
                self._attempt_failed(link, event.reason)
                if event.reason == hs.FAILOVER_REJECTED:
                    self.repl.failover.abort("Failover target rejected psync request")
                return

    def _attempt_failed(self, link: MasterLink, reason: str) -> None:
        """The handshake or the transfer failed: drop this attempt, retry as Redis does."""
        during_transfer = self.state == TRANSFER
        self.link = None
        link.close()
        self.state = CONNECT
        if during_transfer and self.repl.master_host is not None:
            self._reconnect_after_failure()

    def _reconnect_after_failure(self) -> None:
        self.node.log.notice("Reconnecting to MASTER %s after failure" % self.master_name)
        self.connect()

    # -- full synchronisation ----------------------------------------------------------------------------
    def _load(self, link: MasterLink, rdb: bytes, eof_marked: bool) -> bool:
        """readSyncBulkPayload's end: replace our data with the master's."""
        node = self.node
        repl = self.repl
        log = node.log
        if node.rdb.in_progress:
            log.notice("Replica is about to load the RDB file received from the master, but there is a pending "
                       "RDB child running. Killing process %d and removing its temp file to avoid any race"
                       % node.rdb.child_pid)
            node.rdb.kill_child()
        repl.replicas.kill_transfer()
        # replicationAttachToNewMaster: our replicas must resync with us as well.
        self.discard_cached(quiet=True)
        repl.replicas.disconnect_all()
        repl.free_backlog()
        log.notice("MASTER <-> REPLICA sync: Flushing old data")
        for db in node.dbs:
            node.db_flushed(db)
            db.flush()
        if node.config["repl-diskless-load"] == "disabled" and not self._save_file(rdb):
            self._sync_failed(link)
            return False
        log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        node.loading = True
        try:
            result = node.rdb.parse(rdb)
            node.rdb.install(result)
        except Exception as exc:  # RdbError and anything the loader trips on
            log.warning("Failed trying to load the MASTER synchronization DB from disk, check server logs.")
            log.warning("Error loading the RDB from the master: %s" % exc)
            for db in node.dbs:
                db.flush()
            self._sync_failed(link)
            return False
        finally:
            node.loading = False
        log.notice("Done loading RDB, keys loaded: %d, keys expired: %d." % (result.keys_loaded, result.keys_expired))
        history = aux_history(result.aux)
        replid, offset = self._pending_sync or ("", -1)
        self._pending_sync = None
        dbid = history[0] if history is not None else 0
        client = MasterClient(node, link, replid, offset, dbid)
        link.client = client
        link.proxied = link.parsed = offset
        self.state = CONNECTED
        self.down_since = 0.0
        # A full resynchronisation starts a new history: the master's.
        repl.replid = replid or repl.replid
        repl.master_repl_offset = offset
        repl.clear_replid2()
        if repl.backlog is None:
            repl.create_backlog()
        log.notice("MASTER <-> REPLICA sync: Finished with success")
        if eof_marked and offset >= 0:
            link.send_ack()  # the master starts the stream on our first ACK
        return True

    def _save_file(self, rdb: bytes) -> bool:
        """The payload becomes our dbfilename, as a disk-loading Redis replica keeps it."""
        node = self.node
        config = node.config
        tmp = os.path.join(config["dir"], "temp-%d.%d.rdb" % (int(time.time()), os.getpid()))
        try:
            with open(tmp, "wb") as f:
                f.write(rdb)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, node.rdb.path)
        except OSError as exc:
            node.log.warning("Failed trying to rename the temp DB into %s in MASTER <-> REPLICA synchronization: %s"
                             % (config["dbfilename"], exc.strerror))
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        return True

    def _sync_failed(self, link: MasterLink) -> None:
        self.link = None
        link.close()
        self.state = CONNECT
        self._reconnect_after_failure()

    # -- partial synchronisation ----------------------------------------------------------------------------
    def _continue(self, link: MasterLink, new_replid: str | None) -> None:
        """+CONTINUE: resurrect the cached master on this link."""
        repl = self.repl
        node = self.node
        cached = self.cached
        if cached is None:  # cannot happen: we only ask for PSYNC with a cached master
            self._attempt_failed(link, "no cached master")
            return
        if new_replid is not None and new_replid != cached.replid:
            node.log.warning("Master replication ID changed to %s" % new_replid)
            repl.replid2 = cached.replid
            repl.second_replid_offset = repl.master_repl_offset + 1
            repl.replid = new_replid
            cached.replid = new_replid
            repl.replicas.disconnect_all()  # they must learn the new ID
        self.cached = None
        client = MasterClient(node, link, cached.replid, cached.reploff, cached.dbid)
        link.client = client
        link.proxied = link.parsed = cached.reploff
        self.state = CONNECTED
        self.down_since = 0.0
        node.log.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
        if repl.backlog is None:
            repl.create_backlog()

    # -- losing the master -----------------------------------------------------------------------------------
    def link_lost(self, link: MasterLink) -> None:
        client = link.client
        if link is not self.link:
            if client is not None and not client.closed:
                client.connection_lost(None)
            return
        self.link = None
        if client is not None and self.state == CONNECTED:
            self._cache_master(client)
            client.connection_lost(None)
            self.state = CONNECT
            self.down_since = time.time()
            if self.repl.master_host is not None:
                self.node.log.notice("Reconnecting to MASTER %s" % self.master_name)
                self.connect()
            return
        if self.state == TRANSFER:
            self.node.log.warning("I/O error trying to sync with MASTER: connection lost")
            self.state = CONNECT
            if self.repl.master_host is not None:
                self._reconnect_after_failure()
            return
        if self.state == CONNECTING and self.repl.master_host is not None:
            self.node.log.warning("Master closed the connection during the handshake")
        if self.state != NONE:
            self.state = CONNECT

    def _cache_master(self, client: MasterClient) -> None:
        """replicationCacheMaster: keep what a PSYNC needs; drop half-applied input."""
        node = self.node
        node.log.warning("Connection with master lost.")
        node.log.notice("Caching the disconnected master state.")
        if client.multi is not None:
            from server.watch import discard_transaction

            discard_transaction(client)
        self.cached = CachedMaster(client.replid, client.reploff, client.db.id)

    def cache_myself(self, dbid: int) -> None:
        """replicationCacheMasterUsingMyself: a former master PSYNCs with its own history."""
        self.node.log.notice(
            "Before turning into a replica, using my own master parameters to synthesize a cached master: "
            "I may be able to synchronize with the new master with just a partial transfer."
        )
        self.cached = CachedMaster(self.repl.replid, self.repl.master_repl_offset, max(dbid, 0))

    def discard_cached(self, quiet: bool = False) -> None:
        if self.cached is not None:
            if not quiet:
                self.node.log.notice("Discarding previously cached master state.")
            self.cached = None

    def drop_master(self) -> None:
        """freeClient(server.master): close an established link, caching the master's state
        first, so that the next PSYNC (maybe to another master) can be partial."""
        link = self.link
        if self.state != CONNECTED or link is None:
            return
        client = link.client
        self.link = None
        self._cache_master(client)
        link.close()
        client.connection_lost(None)
        self.state = CONNECT
        self.down_since = time.time()

    def cancel_handshake(self) -> None:
        """cancelReplicationHandshake(0): abandon an attempt in progress."""
        if self.state in (CONNECTING, TRANSFER):
            self.close_link()
            self.state = CONNECT

    def close_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            client = link.client
            link.close()
            if client is not None and not client.closed:
                client.connection_lost(None)
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    def reset(self) -> None:
        self.close_link()
        self.state = NONE
        self.down_since = 0.0
        self._pending_sync = None

    # -- cron ---------------------------------------------------------------------------------------------
    def cron(self) -> None:
        """The replica's part of replicationCron (once a second)."""
        repl = self.repl
        if repl.master_host is None:
            return
        node = self.node
        timeout = node.config["repl-timeout"]
        now = time.time()
        if self.state == CONNECTING and now - self.last_io > timeout:
            node.log.warning("Timeout connecting to the MASTER...")
            self.cancel_handshake()
        elif self.state == TRANSFER and now - self.last_io > timeout:
            node.log.warning("Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                             "'repl-timeout' parameter in redis.conf to a larger value.")
            self.cancel_handshake()
            self._reconnect_after_failure()
            return
        master = self.master
        if master is not None and node.clock.ms - master.last_interaction > timeout * 1000:
            node.log.warning("MASTER timeout: no data nor PING received...")
            self.link.close()
            return
        if self.state == CONNECT:
            node.log.notice("Connecting to MASTER %s" % self.master_name)
            self.connect()
            return
        master = self.master
        if master is not None and master.replid:
            self.link.send_ack()
