"""The node: one Vermilion server, embeddable in any asyncio program or thread.

Design note
-----------
``Node`` owns everything that is per server: the configuration, the databases, the command
table, the connected clients, the statistics, the clock and the random source. It is the
one place where later subsystems (persistence, replication, sentinel, cluster) are wired in.

Embedding::

    async with Node(port=0) as node:          # inside a running event loop
        r = redis.asyncio.Redis(port=node.port)

    with Node(port=0).running() as node:       # synchronous code: a background thread
        r = redis.Redis(port=node.port)

Port 0 asks the OS for a free port (``node.port`` tells which), on every bound address.
``start()`` listens first, then loads the dataset (persistence/loading.py): clients that
connect meanwhile get -LOADING; it returns (and so do both forms above) once loaded.

Cross-cutting events go through methods here rather than through the commands:
``key_modified`` (the dirty counter; WATCH and client tracking hook in here),
``key_expired`` (stats, ``expired`` notification, DEL propagation), ``notify`` (keyspace
notifications) and ``propagate`` (the single propagation point towards AOF and replicas).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import threading
import time
from contextlib import contextmanager

from .blocking import Blocking
from .commands.table import build_table
from .config import Config
from .connection import Client
from .dispatch import build_call, build_run_batch
from .evict import Evictor
from .keyspace import EXPIRE_TIME_PERCENT, Clock, Database, Stats
from .log import Logger
from .memory import Memory
from .persistence.aof import Aof
from .persistence.loading import run_steps_async
from .persistence.snapshots import Snapshots
from .pubsub import PubSub
from .shutdown import Shutdown
from .watch import Watches

VERMILION_VERSION = "0.1.0"
REDIS_VERSION = "7.0.15"

#: Samples kept for INFO's instantaneous_* metrics (STATS_METRIC_SAMPLES), one per 100 ms.
METRIC_SAMPLES = 16


class _Metric:
    __slots__ = ("samples", "idx", "last_time", "last_value")

    def __init__(self):
        self.samples = [0.0] * METRIC_SAMPLES
        self.idx = 0
        self.last_time = 0.0
        self.last_value = 0

    def track(self, now: float, value: int) -> None:
        if self.last_time:
            dt = now - self.last_time
            if dt > 0:
                self.samples[self.idx] = (value - self.last_value) / dt
                self.idx = (self.idx + 1) % METRIC_SAMPLES
        self.last_time = now
        self.last_value = value

    def average(self) -> float:
        return sum(self.samples) / METRIC_SAMPLES


class Node:
    """A Vermilion server. See the module docstring."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock=None,
        rng: random.Random | None = None,
        **params,
    ):
        self.config = config or Config()
        for name, value in params.items():
            # Keyword arguments are config parameters: Node(port=0, requirepass="x").
            name = name.replace("_", "-")
            if isinstance(value, bool):
                value = "yes" if value else "no"
            self.config.set(name, str(value), startup=True)
        self.clock = Clock(clock)
        self.rng = rng or random.Random()
        self.stats = Stats()
        self.log = Logger(self.config["logfile"], self.config["loglevel"])
        self.commands = build_table()
        self.dbs = [Database(i, self) for i in range(self.config["databases"])]
        self.clients: dict[int, Client] = {}
        self._next_client_id = 1
        self.run_id = "%040x" % random.getrandbits(160)
        self.pid = os.getpid()
        self.start_time = time.time()
        self.dirty = 0
        self.lastsave = int(time.time())
        self.monitors: list[Client] = []
        self.postponed: list[Client] = []
        #: Called with each client as it disconnects (pub/sub, blocking, WATCH clean up).
        self.disconnect_hooks: list = []
        #: Called with each database FLUSHDB/FLUSHALL is about to empty (WATCH, tracking).
        self.flush_hooks: list = []
        self.slowlog: list = []
        self.slowlog_next_id = 0
        self.latency_events: dict[str, list] = {}
        self.port = 0
        self.bound: list[tuple[str, int]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._cron_handle: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Event | None = None
        self._shutdown_started = False
        #: The startup load while it runs (the node listens meanwhile; stop() cancels it).
        self._load_task: asyncio.Task | None = None
        self.executable = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
        self.ops_metric = _Metric()
        self.net_in_metric = _Metric()
        self.net_out_metric = _Metric()
        self._cron_loops = 0
        self.pause_end = 0.0  # CLIENT PAUSE: monotonic time it ends; 0 when not paused
        self.pause_all = False
        self.stat_peak_memory = 0
        # State read on the hot path; recomputed when what it depends on changes.
        # Some gate or post-execution duty applies to every client (loading, pause,
        # maxmemory, propagation, MONITOR); folded into each client's ``gated`` flag.
        self.gated = False
        self.propagating = False  # some propagation sink is attached (AOF, replicas)
        self.propagation_sinks: list = []
        self.expire_hides_only = False
        self.notify_flags = 0
        self.loading = False
        #: The script running past busy-reply-threshold (server/scripting): commands get -BUSY.
        self.busy_script = None
        self.slowlog_ns = 0
        self.active_expire_enabled = True
        #: Clients blocked on keys and the keys ready to serve them (server/blocking.py).
        self.blocking = Blocking(self)
        #: WATCHed keys (server/watch.py); ``watched`` is its db -> key -> watchers map,
        #: empty while nobody watches: all the write path looks at.
        self.watches = Watches(self)
        self.watched = self.watches.by_db
        #: Pub/sub channels, patterns and shard channels (server/pubsub.py).
        self.pubsub = PubSub(self)
        #: RDB persistence: SAVE/BGSAVE, save points, loading (server/persistence/snapshots.py).
        self.rdb = Snapshots(self)
        #: Called by each connection with the reply bytes of a batch before they are sent
        #: (and with b"" before it closes); True means "held, sent later". Set while the
        #: AOF is on: the commands reach the file (and the disk under appendfsync always) first.
        self.before_reply = None
        #: The append-only file (server/persistence/aof.py).
        self.aof = Aof(self)
        #: SHUTDOWN / SIGTERM: the wait for replicas, the final save (server/shutdown.py).
        self.shutdown_seq = Shutdown(self)
        #: Master-replica replication (the replication package): role, backlog, replicas.
        from replication import Replication  # here: the package builds on server's modules

        self.replication = Replication(self)
        self.call = build_call(self)
        self.run_batch = build_run_batch(self)
        self._watch_config()
        #: used_memory (server/memory.py) and maxmemory eviction (server/evict.py).
        #: ``memory_tracking``: the write path keeps per-database memory accounts.
        self.memory_tracking = False
        self.memory = Memory(self)
        self.evictor = Evictor(self)

    # -- configuration hooks ---------------------------------------------------------------
    def _watch_config(self) -> None:
        cfg = self.config
        cfg.watch("slowlog-log-slower-than", lambda v: self._update_slowlog())
        cfg.watch("loglevel", self.log.set_level)
        cfg.watch("notify-keyspace-events", lambda v: self._update_notify())
        cfg.watch("maxmemory", lambda v: self.recompute_gates())
        cfg.watch("proto-max-bulk-len", self._update_bulk_len)
        cfg.watch("requirepass", lambda v: self._update_requirepass())
        self._update_slowlog()
        self._update_notify()
        self.recompute_gates()

    def _update_slowlog(self) -> None:
        v = self.config["slowlog-log-slower-than"]
        self.slowlog_ns = (1 << 62) if v < 0 else v * 1000

    def _update_notify(self) -> None:
        from .notify import flags_to_mask

        self.notify_flags = flags_to_mask(self.config["notify-keyspace-events"])

    def _update_bulk_len(self, value: int) -> None:
        for c in self.clients.values():
            c.reader.max_bulk_len = value

    def _update_requirepass(self) -> None:
        # Clients connected before a password was set stay authenticated, as in Redis.
        pass

    def recompute_gates(self) -> None:
        """Refresh the flags the dispatcher checks on every command."""
        self.gated = bool(
            self.loading
            or self.pause_end
            or self.config["maxmemory"]
            or self.propagating
            or self.monitors
            or self.rdb.writes_denied
            or self.busy_script is not None
            or self.replication.gated
        )
        for c in self.clients.values():
            c.update_gated()

    @property
    def requires_auth(self) -> bool:
        return bool(self.config["requirepass"])

    # -- clients -------------------------------------------------------------------------------
    def next_client_id(self) -> int:
        cid = self._next_client_id
        self._next_client_id += 1
        return cid

    def current_client_is_master(self) -> bool:
        return self.replication.applying

    def rdb_replication_info(self):
        """The replication AUX fields for an RDB file being written (persistence hook)."""
        return self.replication.rdb_info()

    # -- keyspace events -------------------------------------------------------------------------
    def key_modified(self, db: Database, key: bytes) -> None:
        """signalModifiedKey + the dirty counter: every write to a key comes through here.
        (``Database.set``/``replace_value``, the hottest writers, only bump ``dirty``
        themselves while no key is watched and memory is not tracked.)"""
        self.dirty += 1
        if self.watched:
            self.watches.touch(db, key)
        if self.memory_tracking:
            self.memory.modified(db, key)

    def db_flushed(self, db: Database) -> None:
        """FLUSHDB/FLUSHALL is about to empty ``db`` (signalFlushedDb: WATCH's
        touchAllWatchedKeysInDb needs the keys still there)."""
        for hook in self.flush_hooks:
            hook(db)

    def key_expired(self, db: Database, key: bytes) -> None:
        """A key was deleted because its time came (lazily or by the active cycle).

        Like deleteExpiredKeyAndPropagate, this does not count as a change (``dirty``): a
        write that only met an expired key is not propagated for it."""
        if self.notify_flags:
            self.notify(db, key, "expired", "x")
        if self.watched:
            self.watches.touch(db, key)
        if self.propagating:
            # propagateDeletion: UNLINK under lazyfree-lazy-expire. While a command runs,
            # this joins its unit (dispatch.execute): MULTI, DEL, the write, EXEC.
            self.propagate(db.id, [b"UNLINK" if self.config["lazyfree-lazy-expire"] else b"DEL", key])

    def notify(self, db: Database, key: bytes, event: str, cls: str) -> None:
        """Keyspace notification (notify.c notifyKeyspaceEvent)."""
        from .notify import notify

        notify(self, db, key, event, cls)

    def notify_keymiss(self, db: Database, key: bytes) -> None:
        from .notify import notify

        notify(self, db, key, "keymiss", "m")

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver a pub/sub message; returns the number of receivers."""
        return self.pubsub.publish(channel, message)

    def propagate(self, dbid: int, argv: list[bytes]) -> None:
        """The single propagation point towards the AOF and replicas.

        Every command that changed the dataset arrives here once, in its deterministic form
        (see dispatch.execute and ``client.rewrite``), with the database it ran in; MULTI/EXEC
        batches come from transactions.propagation_batch. Each sink (the AOF, the replication
        backlog) keeps its own notion of the selected database and encodes the command.
        """
        for sink in self.propagation_sinks:
            sink(dbid, argv)

    def add_propagation_sink(self, sink) -> None:
        """Start feeding ``sink(dbid, argv)``; writes now take the dispatcher's full path."""
        if sink not in self.propagation_sinks:
            self.propagation_sinks.append(sink)
        self.propagating = True
        self.recompute_gates()

    def remove_propagation_sink(self, sink) -> None:
        if sink in self.propagation_sinks:
            self.propagation_sinks.remove(sink)
        self.propagating = bool(self.propagation_sinks)
        self.recompute_gates()

    def free_memory_if_needed(self) -> bool:
        """Evict until under maxmemory; False if that is impossible (OOM)."""
        return self.evictor.free_memory_if_needed()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> Node:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        port = self.config["port"]
        backlog = self.config["tcp-backlog"]
        for addr in self.config["bind"]:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            try:
                server = await self.loop.create_server(
                    lambda: Client(self),
                    host,
                    port,
                    backlog=backlog,
                    reuse_address=True,
                    family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                )
            except OSError as exc:
                if optional:
                    continue
                await self._close_servers()
                reason = os.strerror(exc.errno) if exc.errno else exc.strerror
                raise OSError(exc.errno, f"Could not create server TCP listening socket {addr}:{port}: bind: {reason}") from exc
            self._servers.append(server)
            for sock in server.sockets:
                self.bound.append(sock.getsockname()[:2])
            if port == 0:
                port = server.sockets[0].getsockname()[1]
        self.port = port
        self.config.values["port"] = port
        self._schedule_cron()
        mode = "cluster" if self.config["cluster-enabled"] else "standalone"
        self.log.banner(mode, port, self.pid, self.config["always-show-logo"], REDIS_VERSION)
        self.log.warning("Server initialized")
        # The AOF when appendonly is on, else the RDB, while clients already get -LOADING.
        task = self._load_task = asyncio.ensure_future(run_steps_async(self.aof.load_data_from_disk_steps()))
        try:
            await task
        except asyncio.CancelledError:
            if self._load_task is None:
                return self  # stop() while loading (SHUTDOWN, SIGTERM): nothing more to start
            raise
        except Exception:  # DataLoadError: logged; the caller exits (python -m server: status 1)
            if self._cron_handle is not None:
                self._cron_handle.cancel()
                self._cron_handle = None
            for c in list(self.clients.values()):  # connected while it loaded
                c.close()
            await self._close_servers()
            raise
        finally:
            self._load_task = None
        self.replication.start()
        self.log.notice("Ready to accept connections")
        return self

    async def _close_servers(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            try:
                await server.wait_closed()
            except Exception:
                pass
        self._servers = []

    async def stop(self) -> None:
        """Stop listening, disconnect every client and stop the timers."""
        if self._cron_handle is not None:
            self._cron_handle.cancel()
            self._cron_handle = None
        if self._load_task is not None:
            task, self._load_task = self._load_task, None
            task.cancel()
        self.rdb.kill_child()
        self.replication.stop()
        self.aof.shutdown()
        for server in self._servers:
            server.close()
        for c in list(self.clients.values()):
            c.close()
        await self._close_servers()
        self.log.warning("Redis is now ready to exit, bye bye...")
        if self._stopped is not None:
            self._stopped.set()

    async def __aenter__(self) -> Node:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until SHUTDOWN (or stop())."""
        if self.loop is None:
            await self.start()
        assert self._stopped is not None
        await self._stopped.wait()

    def shutdown(self, reason: str = "") -> None:
        """Stop the node once the shutdown sequence (``shutdown_seq``, which logs "User
        requested shutdown..." and saves) allowed it."""
        if self._shutdown_started or self.loop is None:
            return
        self._shutdown_started = True
        if reason:
            self.log.warning(reason)
        self.loop.create_task(self.stop())

    @contextmanager
    def running(self):
        """Run this node on a background thread with its own uvloop loop (synchronous code)."""
        import uvloop

        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = uvloop.new_event_loop()
            asyncio.set_event_loop(loop)

            async def go() -> None:
                try:
                    await self.start()
                except BaseException as exc:  # report to the waiting thread
                    failure.append(exc)
                    ready.set()
                    return
                ready.set()
                await self.serve_forever()

            try:
                loop.run_until_complete(go())
            finally:
                loop.close()

        thread = threading.Thread(target=main, name=f"vermilion-{id(self):x}", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            # A node stopped already (SHUTDOWN) may be closing its loop: nothing to ask it.
            stopped = self._stopped is not None and self._stopped.is_set()
            if self.loop is not None and not self.loop.is_closed() and not stopped:
                try:
                    asyncio.run_coroutine_threadsafe(self.stop(), self.loop).result(10)
                except Exception:
                    pass
            thread.join(10)

    def save_for_shutdown(self) -> bool:
        """SHUTDOWN's save (called by the SHUTDOWN command when it must save)."""
        return self.rdb.save_for_shutdown()

    # -- cron (serverCron) ---------------------------------------------------------------------
    def _schedule_cron(self) -> None:
        hz = max(1, min(500, self.config["hz"]))
        assert self.loop is not None
        self._cron_handle = self.loop.call_later(1.0 / hz, self._cron)

    def _cron(self) -> None:
        try:
            self.cron()
        except Exception as exc:  # never let the timer die
            self.log.warning(f"cron error: {exc!r}")
        if self.loop is not None and not self._shutdown_started:
            self._schedule_cron()

    def cron(self) -> None:
        """Work done hz times a second: expiry, client timeouts, metrics, pause expiry."""
        self.clock.update()
        self._cron_loops += 1
        if self.loading:  # whileBlockedCron: no expiry, saves or replication mid-load
            return
        now = time.monotonic()
        if self.pause_end and now >= self.pause_end:
            self.unpause()
        if self.active_expire_enabled and not self.expire_hides_only:
            self.active_expire_cycle()
        self.clients_cron()
        self.rdb.cron()
        self.aof.cron()
        self.replication.cron()
        self.memory.cron()
        self.ops_metric.track(now, self.total_commands())
        self.net_in_metric.track(now, self.stats.total_net_input_bytes)
        self.net_out_metric.track(now, self.stats.total_net_output_bytes)

    def active_expire_cycle(self) -> None:
        """Redis's slow expire cycle, bounded to 25% of a cron period."""
        hz = max(1, self.config["hz"])
        budget = EXPIRE_TIME_PERCENT / 100.0 / hz
        start = time.monotonic()
        deadline = start + budget
        now_ms = self.clock.ms
        sampled = expired = 0
        for db in self.dbs:
            if not db.expires:
                continue
            s, e, timed_out = db.active_expire(now_ms, deadline, self.rng)
            sampled += s
            expired += e
            if timed_out:
                self.stats.expired_time_cap_reached_count += 1
                break
        if sampled:
            perc = expired / sampled
            self.stats.expired_stale_perc = perc * 0.05 + self.stats.expired_stale_perc * 0.95
        self.stats.expire_cycle_cpu_milliseconds += int((time.monotonic() - start) * 1000)

    def clients_cron(self) -> None:
        timeout = self.config["timeout"]
        if timeout:
            now = self.clock.ms
            for c in list(self.clients.values()):
                if c.is_idle_timed_out(now, timeout):
                    self.log.verbose("Closing idle client")
                    c.close()

    def total_commands(self) -> int:
        return sum(spec.calls for spec in self.commands.all_specs())

    # -- CLIENT PAUSE ----------------------------------------------------------------------------
    def pause(self, ms: int, all_commands: bool) -> None:
        end = time.monotonic() + ms / 1000.0
        # A new pause can only extend an earlier one, and ALL wins over WRITE.
        self.pause_end = max(self.pause_end, end)
        self.pause_all = self.pause_all or all_commands
        self.expire_hides_only = True
        self.recompute_gates()

    def unpause(self) -> None:
        self.pause_end = 0.0
        self.pause_all = False
        self.expire_hides_only = self.replication.is_replica  # replicas never expire keys
        self.recompute_gates()
        waiting, self.postponed = self.postponed, []
        for c in waiting:
            c.resume()
