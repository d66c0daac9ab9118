"""``Replication``: the one replication object of a node (``node.replication``).

Design note
-----------
It owns the state Redis keeps in ``server.*`` for replication and that both roles share:

* the history: ``replid`` (40 hex characters), ``replid2`` and ``second_replid_offset``
  (the previous history, valid up to that offset), ``master_repl_offset`` (the offset of the
  last byte of the stream) and the ``backlog`` (replication/backlog.py), created when the first
  replica attaches (with a new ``replid``) or after a synchronisation with our master;
* the stream's selected database (``seldb``, -1 to force a SELECT next time);
* the role: ``master_host``/``master_port`` are set while we replicate from someone
  (``upstream``, replication/replica.py); ``replicas`` (replication/master.py) are the
  replicas attached to us, in either role.

The stream has two sources. As a master, every write reaches ``propagate`` -- a propagation
sink attached to ``node.propagate`` while a backlog exists -- which encodes it (with a SELECT
when the database changes) and ``feed``\\ s it: the backlog grows, the offset moves on and
each replica's buffer gets the bytes. As a replica, writes are not re-encoded: the upstream
link hands over the exact bytes it applied (``feed`` again), so sub-replicas see the same
stream, offsets and IDs as our master's replicas (Redis's proxying).

Role changes are ``set_master`` (REPLICAOF host port: cache our own history so the first
PSYNC can be partial) and ``unset_master`` (REPLICAOF NO ONE: keep the data, shift
``replid`` into ``replid2`` so our former peers can continue with us, disconnect our
replicas so they learn the new ID).

The dispatcher's replication gates (NOREPLICAS, READONLY, MASTERDOWN) ask ``refuse_write``
and ``refuse_stale``; ``gated`` tells the node whether any of them can apply, so a node
that does not replicate keeps its fast path. ``cron`` runs with the node's cron; the work
Redis does once a second (replicationCron) runs once a second.
"""

from __future__ import annotations

import os
import time

from .backlog import Backlog
from .failover import Failover
from .master import Replicas
from .psync import NO_REPLID
from .replica import CONNECTED, Upstream

READONLY = b"-READONLY You can't write against a read only replica.\r\n"
MASTERDOWN = b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
NOREPLICAS = b"-NOREPLICAS Not enough good replicas to write.\r\n"

#: replicationCron's period, in seconds.
CRON_PERIOD = 1.0


def new_replid() -> str:
    """changeReplicationId: 40 random hex characters."""
    return os.urandom(20).hex()


def encode_command(argv) -> bytes:
    """A command as a RESP array of bulk strings (how the stream carries it)."""
    parts = [b"*%d\r\n" % len(argv)]
    parts += [b"$%d\r\n%b\r\n" % (len(a), a) for a in argv]
    return b"".join(parts)


_SELECT = [encode_command([b"SELECT", b"%d" % i]) for i in range(16)]
#: What replicationCron feeds every repl-ping-replica-period seconds (shared.ping).
PING = encode_command([b"ping"])
#: What WAIT and failovers feed to ask the replicas for their offsets.
GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])


def select_command(dbid: int) -> bytes:
    return _SELECT[dbid] if dbid < len(_SELECT) else encode_command([b"SELECT", b"%d" % dbid])


class Replication:
    """See the module docstring."""

    def __init__(self, node):
        self.node = node
        self.replid = new_replid()
        self.replid2 = NO_REPLID
        self.second_replid_offset = -1
        self.master_repl_offset = 0
        self.backlog: Backlog | None = None
        self.seldb = -1
        self.master_host: str | None = None
        self.master_port = 0
        #: True while the upstream link applies its master's commands (they see every key).
        self.applying = False
        #: Some replication gate can refuse commands (see the module docstring); the
        #: settings the gates read, kept current by ``update_gates``.
        self.gated = False
        self._read_only = self._serve_stale = True
        self._min_replicas = 0
        self._sink_attached = False
        self._last_cron = 0.0
        self.cron_loops = 0
        self.replicas = Replicas(self)
        self.upstream = Upstream(self)
        self.failover = Failover(self)
        config = node.config
        for name in ("replica-read-only", "replica-serve-stale-data", "min-replicas-to-write", "min-replicas-max-lag"):
            config.watch(name, lambda v: self.update_gates())
        config.watch("repl-backlog-size", self._resize_backlog)

    # -- role ------------------------------------------------------------------------------
    @property
    def is_replica(self) -> bool:
        return self.master_host is not None

    def start(self) -> None:
        """After the node loaded its data: adopt the history saved in the RDB file and, with
        ``replicaof`` in the configuration, start replicating (loadDataFromDisk + main)."""
        target = self.node.config["replicaof"]
        saved = self._saved_history()
        if target is not None:
            self.master_host, self.master_port = target[0], target[1]
            self._role_changed()
            if saved is not None:
                dbid, replid, offset = saved
                self.replid = replid
                self.master_repl_offset = offset
                self.upstream.cache_myself(dbid)
            self.upstream.connect_soon()
        elif saved is not None:
            # A restarted master: its replicas may continue from the saved history.
            dbid, replid, offset = saved
            self.replid2 = replid
            self.second_replid_offset = offset + 1
            self.master_repl_offset = offset
            self.create_backlog()
            self.replicas.no_replicas_since = time.time()
        self.update_gates()
        self._replication_cron()  # Redis's first replicationCron runs at startup

    def _saved_history(self):
        """(repl-stream-db, repl-id, repl-offset) from the RDB file loaded at startup."""
        from .rdbinfo import read_replication_aux

        rdb = self.node.rdb
        if not getattr(rdb, "keys_loaded", 0) and not os.path.exists(rdb.path):
            return None
        return read_replication_aux(rdb.path)

    def set_master(self, host: str, port: int) -> None:
        """replicationSetMaster: become a replica of host:port (connects at once)."""
        node = self.node
        was_master = self.master_host is None
        self.master_host = None
        self.upstream.drop_master()
        node.blocking.unblock_all()  # clients blocked in a master, now a replica
        self.master_host, self.master_port = host, port
        node.config.values["replicaof"] = (host, port)
        self.upstream.cancel_handshake()
        if was_master:
            self.upstream.discard_cached()
            self.upstream.cache_myself(-1)
        self._role_changed()
        node.log.notice("Connecting to MASTER %s:%d" % (host, port))
        self.upstream.connect()

    def unset_master(self) -> None:
        """replicationUnsetMaster: become a master, keeping the data and the history."""
        if self.master_host is None:
            return
        node = self.node
        self.master_host = None
        node.config.values["replicaof"] = None
        self.upstream.drop_master()
        self.upstream.discard_cached()
        self.upstream.cancel_handshake()
        self.shift_replid()
        self.replicas.disconnect_all()
        self.upstream.reset()
        self.seldb = -1
        self.replicas.no_replicas_since = time.time()
        self._role_changed()

    def _role_changed(self) -> None:
        node = self.node
        replica = self.master_host is not None
        node.log.role = "S" if replica else "M"
        # Replicas never expire keys on their own (their master sends the DELs); a pause may
        # also be holding expiry back (server/node.py).
        node.expire_hides_only = replica or bool(node.pause_end)
        self.update_sink()
        self.update_gates()

    # -- history -----------------------------------------------------------------------------
    def change_replid(self) -> None:
        self.replid = new_replid()

    def clear_replid2(self) -> None:
        self.replid2 = NO_REPLID
        self.second_replid_offset = -1

    def shift_replid(self) -> None:
        """The current history becomes the previous one, valid up to the next byte."""
        self.replid2 = self.replid
        self.second_replid_offset = self.master_repl_offset + 1
        self.change_replid()
        self.node.log.warning(
            "Setting secondary replication ID to %s, valid up to offset: %d. New replication ID is %s"
            % (self.replid2, self.second_replid_offset, self.replid)
        )

    def create_backlog(self) -> None:
        self.backlog = Backlog(self.node.config["repl-backlog-size"], self.master_repl_offset)
        self.update_sink()

    def free_backlog(self) -> None:
        self.backlog = None
        self.update_sink()

    def _resize_backlog(self, size: int) -> None:
        if self.backlog is not None:
            self.backlog.resize(size)

    def rdb_info(self):
        """rdbPopulateSaveInfo: (repl-stream-db, repl-id, repl-offset) for the AUX fields of
        an RDB file, or None when there is no replication history worth saving."""
        if self.master_host is None:
            if self.backlog is None:
                return None
            dbid = 0 if self.seldb == -1 else self.seldb
        else:
            dbid = self.upstream.stream_db()
            if dbid is None:
                return None
        return dbid, self.replid.encode(), self.master_repl_offset

    # -- the stream ------------------------------------------------------------------------------
    def update_sink(self) -> None:
        """Be a propagation sink exactly while we are a master with a backlog."""
        want = self.master_host is None and self.backlog is not None
        if want and not self._sink_attached:
            self.node.add_propagation_sink(self.propagate)
            self._sink_attached = True
        elif not want and self._sink_attached:
            self.node.remove_propagation_sink(self.propagate)
            self._sink_attached = False

    def propagate(self, dbid: int, argv: list[bytes]) -> None:
        """The propagation sink (replicationFeedSlaves): encode one write into the stream."""
        if self.master_host is not None or self.backlog is None:
            return
        data = encode_command(argv)
        if dbid != self.seldb:
            data = select_command(dbid) + data
            self.seldb = dbid
        self.feed(data)

    def feed(self, data: bytes) -> None:
        """Append bytes to the stream: the backlog, the offset, every replica's buffer."""
        backlog = self.backlog
        if backlog is None:
            return
        backlog.feed(data)
        self.master_repl_offset += len(data)
        if self.replicas.attached:
            self.replicas.feed(data)

    def feed_ping(self) -> None:
        self.feed(PING)

    def request_acks(self) -> None:
        """REPLCONF GETACK * into the stream, without changing its database."""
        self.feed(GETACK)

    # -- gates -------------------------------------------------------------------------------------
    def update_gates(self) -> None:
        """Re-read the gates' settings (on a role change and when they are configured); the
        count of good replicas is refreshed at once too (updateGoodSlaves)."""
        self.replicas.refresh_good()
        config = self.node.config
        self._read_only = bool(config["replica-read-only"])
        self._serve_stale = bool(config["replica-serve-stale-data"])
        wanted = config["min-replicas-to-write"]
        self._min_replicas = wanted if config["min-replicas-max-lag"] else 0
        if self.master_host is not None:
            gated = self._read_only or not self._serve_stale
        else:
            gated = bool(self._min_replicas)
        if gated != self.gated:
            self.gated = gated
            self.node.recompute_gates()

    def refuse_write(self, c, flags) -> bytes | None:
        """NOREPLICAS, then READONLY, for a write (processCommand's order)."""
        if not flags.write:
            return None
        if self.master_host is None:
            if self._min_replicas and self.replicas.good < self._min_replicas:
                return NOREPLICAS
            return None
        if self._read_only and not c.is_master:
            return READONLY
        return None

    def refuse_stale(self, c, flags) -> bytes | None:
        """MASTERDOWN: a replica whose link is down refuses commands without the stale flag."""
        if (
            not flags.stale
            and self.master_host is not None
            and not self._serve_stale
            and self.upstream.state != CONNECTED
        ):
            return MASTERDOWN
        return None

    # -- clients -----------------------------------------------------------------------------------
    def after_command(self, c) -> None:
        """``c`` ran a command: a later WAIT of ``c`` waits for the offset reached now.

        Redis 7.0 records it after every command a client runs (not only writes): a client
        that ran anything after other clients' writes waits for those too."""
        if self.backlog is not None:
            self.replicas.woff[c.id] = self.master_repl_offset

    # -- cron ----------------------------------------------------------------------------------------
    def cron(self) -> None:
        """Called by the node's cron (hz times a second)."""
        self.replicas.start_pending_fork()
        self.replicas.reap()
        self.failover.update()  # FAILOVER's timeout (Redis checks it before every sleep)
        if time.monotonic() - self._last_cron >= CRON_PERIOD:
            self._replication_cron()

    def _replication_cron(self) -> None:
        self._last_cron = time.monotonic()
        self.failover.update()
        self.upstream.cron()
        self.replicas.cron()
        self.cron_loops += 1

    def stop(self) -> None:
        """The node stops: close the links, end any transfer child."""
        self.upstream.close_link()
        self.replicas.kill_transfer()
