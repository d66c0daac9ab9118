"""RDB snapshots of one node (``node.rdb``): SAVE, BGSAVE, save points, loading.

Design note
-----------
``Snapshots`` owns the state Redis keeps in ``server.*`` for RDB persistence (rdb.c,
server.c serverCron/checkChildrenDone) and does the work around the format code of
``rdb.py``:

* ``save()``: a foreground snapshot, written to ``temp-<pid>.rdb`` in ``dir``, fsynced and
  renamed over ``dir/dbfilename`` (SAVE, SHUTDOWN, DEBUG RELOAD, FLUSHALL's save).
* ``bgsave()``: ``os.fork()``; the child writes the same way from its copy-on-write image
  of the dataset and leaves with ``os._exit`` (0 = success), the parent's event loop never
  waits for it. The child first detaches from the parent's machinery: default handlers for
  SIGTERM/SIGINT/SIGUSR1 (the loop's signal wake-up fd is shared with the parent), its own
  copies of the listening sockets closed, a log of its own (role ``C``). ``cron()`` -- run
  by the node's cron, ``hz`` times a second, as serverCron does -- reaps the child with a
  non-blocking ``waitpid``, records the outcome, runs the waiters (SYNC requests), and when
  no child runs checks the ``save`` points and a scheduled BGSAVE. A child killed with
  SIGUSR1 (SHUTDOWN, FLUSHALL) is not an error, as in Redis.
* ``load_steps()`` / ``reload()``: read the file, parse it completely, then install
  the databases in one step; any error leaves the dataset as it was and is logged with
  Redis's lines. At startup the caller turns ``DataLoadError`` into exit status 1.
  ``load_steps()`` is the startup load as loading steps (loading.py): the node drives it
  with the read and parse on a worker thread, answering -LOADING meanwhile; ``progress``
  holds INFO's loading_* fields.

The change counter: ``node.dirty`` only grows (the dispatcher compares it around each
command), so "changes since the last save" is ``node.dirty - dirty_at_last_save``.

``writes_denied`` is MISCONF: the last BGSAVE failed, ``stop-writes-on-bgsave-error`` is on
and save points exist (writeCommandsDeniedByDiskError). It feeds the dispatcher's gates
through ``node.recompute_gates``.
"""

from __future__ import annotations

import gc
import os
import signal
import time

from ..forking import before_fork, detach_child
from . import DataLoadError
from .loading import Progress
from .rdb import (
    AccessClock,
    LoadLimits,
    LoadResult,
    RdbChecksumError,
    RdbError,
    RdbFormatError,
    RdbShortRead,
    RdbWriter,
    SaveOptions,
    aux_fields,
    load,
)

#: Seconds between BGSAVE attempts after a failed one (CONFIG_BGSAVE_RETRY_DELAY).
BGSAVE_RETRY_DELAY = 5

_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
_LRU_POLICIES = ("allkeys-lru", "volatile-lru")


class Snapshots:
    """See the module docstring."""

    def __init__(self, node):
        self.node = node
        self.child_pid = 0
        self.child_start = 0.0
        self.child_keys = 0  # current_save_keys_total
        self.dirty_at_last_save = 0
        self.dirty_before_bgsave = 0
        self.lastbgsave_try = 0
        self.lastbgsave_ok = True
        self.last_bgsave_seconds = -1
        self.saves = 0  # rdb_saves
        self.bgsave_scheduled = False
        self.keys_loaded = 0
        self.keys_expired = 0
        #: The load in progress at startup (INFO's loading_* fields).
        self.progress = Progress()
        #: FUNCTION payloads of the last loaded file, while no scripting layer took them.
        self.loaded_functions: list[bytes] = []
        #: Called with (ok, path) when a BGSAVE started after they asked ends (SYNC):
        #: ``waiters`` wait for the next one to start, ``_served`` for the running one.
        self.waiters: list = []
        self._served: list = []
        self.writes_denied = False
        #: What each client announced with REPLCONF before SYNC (commands/persistence.py).
        self.requests: dict = {}
        node.disconnect_hooks.append(lambda c: self.requests.pop(c.id, None))
        node.config.watch("save", lambda v: self.update_write_gate())
        node.config.watch("stop-writes-on-bgsave-error", lambda v: self.update_write_gate())

    # -- paths and options ---------------------------------------------------------------
    @property
    def path(self) -> str:
        config = self.node.config
        return os.path.join(config["dir"], config["dbfilename"])

    def _temp_path(self, pid: int) -> str:
        return os.path.join(self.node.config["dir"], "temp-%d.rdb" % pid)

    def _access_records(self):
        """F8/F9 records under an LRU or LFU maxmemory policy (rdbSaveKeyValuePair)."""
        node = self.node
        policy = node.config["maxmemory-policy"]
        if policy in _LFU_POLICIES:
            from ..commands.keys import lfu_decr_and_return

            now = int(time.time())
            decay = node.config["lfu-decay-time"]
            return "lfu", lambda field: lfu_decr_and_return(field or 0, now, decay)
        if policy in _LRU_POLICIES:
            clock = node.clock.lru
            lru_max = node.clock.LRU_MAX

            def idle(field):
                if field is None:
                    return 0
                return clock - field if clock >= field else clock + (lru_max - field)

            return "lru", idle
        return None

    def load_limits(self) -> LoadLimits:
        return LoadLimits.from_config(self.node.config)

    # -- writing -------------------------------------------------------------------------
    def write_snapshot(self, write, *, data: bool = True, functions: bool = True, aof_base: bool = False) -> int:
        """Write a whole RDB through ``write(chunk)``; returns the number of keys.
        ``aof_base``: the RDB preamble of an AOF base file (AUX ``aof-base`` 1)."""
        node = self.node
        config = node.config
        writer = RdbWriter(
            SaveOptions.from_config(config),
            write,
            checksum=config["rdbchecksum"],
            lru=self._access_records(),
            key_delay_us=config["rdb-key-save-delay"],
        )
        writer.header(aux_fields(int(time.time()), self._used_memory(), self._replication_info(), aof_base))
        if functions:
            writer.functions(self._function_libraries())
        if data:
            for dbid, db in enumerate(node.dbs):
                writer.database(dbid, db)
        writer.finish()
        return writer.keys

    def snapshot_bytes(self, *, data: bool = True, functions: bool = True) -> bytes:
        """The RDB in memory (small snapshots: DEBUG, tests, function-only transfers)."""
        chunks: list[bytes] = []
        self.write_snapshot(lambda chunk: chunks.append(bytes(chunk)), data=data, functions=functions)
        return b"".join(chunks)

    def _used_memory(self) -> int:
        try:
            from ..info import memory_figures

            return int(memory_figures(self.node)["used"])
        except Exception:  # an estimate for an AUX field must never fail a save
            return 0

    def _replication_info(self):
        hook = getattr(self.node, "rdb_replication_info", None)
        return hook() if callable(hook) else None

    def _function_libraries(self):
        hook = getattr(self.node, "function_libraries", None)
        return list(hook()) if callable(hook) else list(self.loaded_functions)

    def write_file(self, path: str) -> int:
        """rdbSave: write ``temp-<pid>.rdb``, fsync, rename over ``path``. Raises OSError
        after logging Redis's message."""
        log = self.node.log
        tmp = self._temp_path(os.getpid())
        try:
            f = open(tmp, "wb")
        except OSError as exc:
            log.warning("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s"
                        % (os.path.basename(tmp), self.node.config["dir"], exc.strerror))
            raise
        try:
            with f:
                keys = self.write_snapshot(f.write)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.warning("Write error saving DB on disk: %s" % (exc.strerror or exc))
            _unlink(tmp)
            raise
        try:
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("Error moving temp DB file %s on the final destination %s (in server root dir %s): %s"
                        % (os.path.basename(tmp), os.path.basename(path), self.node.config["dir"], exc.strerror))
            _unlink(tmp)
            raise
        return keys

    def _saved(self, dirty: int) -> None:
        self.dirty_at_last_save = dirty
        self.node.lastsave = int(time.time())
        self.lastbgsave_ok = True
        self.update_write_gate()

    def save(self) -> bool:
        """SAVE: a foreground snapshot. False (logged) on failure."""
        node = self.node
        self.saves += 1
        dirty = node.dirty
        try:
            self.write_file(self.path)
        except OSError:
            return False
        node.log.notice("DB saved on disk")
        self._saved(dirty)
        return True

    # -- BGSAVE --------------------------------------------------------------------------
    @property
    def in_progress(self) -> bool:
        return bool(self.child_pid)

    def other_child_active(self) -> bool:
        """Another subsystem's fork child runs (an AOF rewrite): hasActiveChildProcess. It
        tells through the optional ``node.active_child()`` hook."""
        hook = getattr(self.node, "active_child", None)
        return bool(hook()) if callable(hook) else False

    def bgsave(self) -> bool:
        """rdbSaveBackground: fork a child that saves. False if that cannot start."""
        node = self.node
        if self.child_pid or self.other_child_active():
            return False
        self.saves += 1
        self.dirty_before_bgsave = node.dirty
        self.lastbgsave_try = int(time.time())
        path = self.path
        before_fork()  # the child must not repeat unflushed output
        start = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as exc:
            self.lastbgsave_ok = False
            self.update_write_gate()
            node.log.warning("Can't save in background: fork: %s" % exc.strerror)
            return False
        if pid == 0:
            self._child(path)  # never returns
        stats = node.stats
        stats.total_forks += 1
        stats.latest_fork_usec = int((time.perf_counter() - start) * 1_000_000)
        self.child_pid = pid
        self._served, self.waiters = self.waiters, []
        self.child_start = time.time()
        self.child_keys = sum(len(db.data) for db in node.dbs)
        node.log.notice("Background saving started by pid %d" % pid)
        return True

    def _child(self, path: str) -> None:
        """The forked child: save, then leave without running any of the parent's code."""
        code = 1
        try:
            gc.disable()  # no finalizers of the parent's objects may run here
            detach_child(self.node)
            self.write_file(path)
            self.node.log.notice("DB saved on disk")
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)

    def cron(self) -> None:
        """checkChildrenDone and the save points of serverCron."""
        if self.child_pid:
            try:
                pid, status = os.waitpid(self.child_pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child_pid, 1 << 8  # lost: count it as a failure
            if pid:
                self._child_done(status)
            return
        if self.other_child_active():
            return
        now = int(time.time())
        retry_ok = now - self.lastbgsave_try > BGSAVE_RETRY_DELAY or self.lastbgsave_ok
        if self.waiters:
            self._bgsave_for_waiters()
            return
        if self.bgsave_scheduled and retry_ok:
            if self.bgsave():
                self.bgsave_scheduled = False
            return
        changes = self.node.dirty - self.dirty_at_last_save
        for seconds, wanted in self.node.config["save"]:
            if changes >= wanted and now - self.node.lastsave > seconds and retry_ok:
                self.node.log.notice("%d changes in %d seconds. Saving..." % (wanted, seconds))
                self.bgsave()
                break

    def _child_done(self, status: int) -> None:
        """backgroundSaveDoneHandlerDisk."""
        node = self.node
        pid = self.child_pid
        self.child_pid = 0
        ok = False
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            node.log.notice("Background saving terminated with success")
            self._saved(self.dirty_before_bgsave)
            ok = True
        elif os.WIFEXITED(status):
            node.log.warning("Background saving error")
            self.lastbgsave_ok = False
        else:
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            node.log.warning("Background saving terminated by signal %d" % sig)
            _unlink(self._temp_path(pid))
            if sig != signal.SIGUSR1:
                self.lastbgsave_ok = False
        self.last_bgsave_seconds = int(time.time() - self.child_start)
        self.update_write_gate()
        served, self._served = self._served, []
        for waiter in served:
            waiter(ok, self.path)

    def kill_child(self) -> None:
        """killRDBChild + rdbRemoveTempFile (SHUTDOWN, FLUSHALL, stop)."""
        pid = self.child_pid
        if not pid:
            return
        self.node.log.warning("There is a child saving an .rdb. Killing it!")
        try:
            os.kill(pid, signal.SIGUSR1)
            os.waitpid(pid, 0)
        except OSError:
            pass
        self.child_pid = 0
        _unlink(self._temp_path(pid))
        self._fail_waiters()

    def request_rdb(self, callback) -> None:
        """Call ``callback(ok, path)`` once a BGSAVE started after this request has ended
        (a SYNC waiting for its snapshot). A BGSAVE already running was started before the
        request, so it does not serve it: the next one starts from the cron once the child
        is gone."""
        self.waiters.append(callback)
        if not self.child_pid and not self.other_child_active():
            self._bgsave_for_waiters()

    def _bgsave_for_waiters(self) -> None:
        if not self.bgsave():
            self._fail_waiters()

    def _fail_waiters(self) -> None:
        waiters = self._served + self.waiters
        self._served, self.waiters = [], []
        for waiter in waiters:
            waiter(False, self.path)

    # -- SHUTDOWN ------------------------------------------------------------------------
    def save_for_shutdown(self) -> bool:
        """prepareForShutdown's RDB part: stop a running BGSAVE, then save."""
        self.kill_child()
        self.node.log.notice("Saving the final RDB snapshot before exiting.")
        return self.save()

    def shutdown_on_signal(self, signame: str) -> bool:
        """SIGTERM/SIGINT with the ``shutdown-on-sigterm`` / ``shutdown-on-sigint`` flags,
        through the node's shutdown sequence (server/shutdown.py). True when the node is
        stopping; False while it waits for replicas, or when the final save failed (or the
        initial AOF is still being written) without ``force``: the server keeps running."""
        from ..shutdown import EXITING

        flags = self.node.config["shutdown-on-%s" % signame.lower()].split()
        return self.node.shutdown_seq.request(flags) == EXITING

    # -- MISCONF -------------------------------------------------------------------------
    def update_write_gate(self) -> None:
        config = self.node.config
        denied = bool(not self.lastbgsave_ok and config["stop-writes-on-bgsave-error"] and config["save"])
        if denied != self.writes_denied:
            self.writes_denied = denied
            self.node.recompute_gates()

    # -- loading -------------------------------------------------------------------------
    def parse(self, buf: bytes, *, drop_expired: bool = True, log: bool = True, progress=None) -> LoadResult:
        """Parse a whole file with the node's settings (raises RdbError). ``progress``: see
        rdb.load (Progress.rdb_callback)."""
        node = self.node
        config = node.config
        node.clock.update()
        clock = AccessClock(config["maxmemory-policy"] in _LFU_POLICIES, node.clock.lru, node.clock.ms // 1000)
        return load(
            buf,
            self.load_limits(),
            dbnum=len(node.dbs),
            now_ms=node.clock.ms,
            clock=clock,
            drop_expired=drop_expired and self._is_master(),
            verify_checksum=config["rdbchecksum"],
            key_delay_us=config["key-load-delay"],
            log=self._log_line if log else None,
            progress=progress,
        )

    def _log_line(self, level: str, message: str) -> None:
        getattr(self.node.log, level)(message)

    def _is_master(self) -> bool:
        return self.node.config["replicaof"] is None

    def install(self, result: LoadResult, merge: bool = False) -> None:
        """Put a parsed file's databases in place (dbAddRDBLoad for every key). Empty
        databases take the loaded dicts as they are; others get the keys added, a key that
        exists being replaced only with ``merge``. Raises RdbError before changing anything
        if a key would be duplicated without ``merge``."""
        node = self.node
        if not merge:
            for dbid, loaded in result.dbs.items():
                db = node.dbs[dbid]
                if db.data and loaded.data:
                    for key in loaded.data:
                        if key in db.data:
                            raise RdbError("RDB has duplicated key '%s' in DB %d" % (key.decode("latin-1"), dbid))
        for dbid, loaded in result.dbs.items():
            if not loaded.data:
                continue
            db = node.dbs[dbid]
            if not db.data:
                db.flush()
                db.data, db.expires, db.lru = loaded.data, loaded.expires, loaded.lru
                continue
            for key, value in loaded.data.items():
                db.data[key] = value
                when = loaded.expires.get(key)
                if when is None:
                    db.expires.pop(key, None)
                else:
                    db.expires[key] = when
                db.lru[key] = loaded.lru[key]
                if db.scan_index is not None:
                    db.scan_index.add(key)
        self.keys_loaded = result.keys_loaded
        self.keys_expired = result.keys_expired
        self._restore_functions(result.functions)

    def _restore_functions(self, payloads: list[bytes]) -> None:
        hook = getattr(self.node, "restore_functions", None)
        if callable(hook):
            hook(payloads)
            self.loaded_functions = []
        else:
            self.loaded_functions = list(payloads)

    def _report(self, exc: RdbError, offset: int) -> None:
        """The lines Redis logs when a file fails to load (rdbLoadRio / rdbReportError)."""
        log = self.node.log.warning
        if isinstance(exc, RdbFormatError):
            log(str(exc))
            if not str(exc).startswith("FATAL"):
                log("Fatal error loading the DB: Invalid argument. Exiting.")
            return
        if isinstance(exc, RdbChecksumError):
            log("Wrong RDB checksum expected: (%x) but got (%x). Aborting now." % (exc.expected, exc.got))
        elif isinstance(exc, RdbShortRead):
            log("Short read or OOM loading DB. Unrecoverable error, aborting now.")
        log("Internal error in RDB reading offset %d, function at rdb.py -> %s" % (offset, exc))
        log("Terminating server after rdb file reading failure.")

    def read_and_parse(self, path: str, progress=None) -> LoadResult:
        """Read and parse ``path``; RdbError (logged) if it is not loadable."""
        with open(path, "rb") as f:
            buf = f.read()
        try:
            return self.parse(buf, progress=progress)
        except RdbError as exc:
            self._report(exc, getattr(exc, "offset", 0))
            raise

    def load_steps(self):
        """loadDataFromDisk for the RDB: a missing file is an empty dataset; anything else
        that prevents loading raises DataLoadError after logging why. A generator of loading
        steps (loading.py): one, reading and parsing the file."""
        node = self.node
        start = time.monotonic()
        path = self.path
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return  # an empty dataset, and no loading state at all
        except OSError:
            size = 0  # open() below says why
        progress = self.progress
        progress.begin(node, size)
        try:
            callback = progress.rdb_callback(0, self)
            try:
                result = yield lambda: self.read_and_parse(path, callback)
            except FileNotFoundError:
                return
            except OSError as exc:
                node.log.warning("Fatal error loading the DB: %s. Exiting." % exc.strerror)
                raise DataLoadError(str(exc)) from None
            except RdbError as exc:
                raise DataLoadError(str(exc)) from None
            try:
                self.install(result)
            except (RdbError, ValueError) as exc:
                node.log.warning("Fatal error loading the DB: %s. Exiting." % exc)
                raise DataLoadError(str(exc)) from None
        finally:
            progress.end(node)
        self._log_done(result)
        node.log.notice("DB loaded from disk: %.3f seconds" % (time.monotonic() - start))

    def _log_done(self, result: LoadResult) -> None:
        log = self.node.log
        if result.checksum_disabled:
            log.warning("RDB file was saved with checksum disabled: no check performed.")
        if result.empty_keys_skipped:
            log.warning("Done loading RDB, keys loaded: %d, keys expired: %d, empty keys skipped: %d."
                        % (result.keys_loaded, result.keys_expired, result.empty_keys_skipped))
        else:
            log.notice("Done loading RDB, keys loaded: %d, keys expired: %d."
                       % (result.keys_loaded, result.keys_expired))

    def reload(self, *, save: bool = True, flush: bool = True, merge: bool = False) -> str | None:
        """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: None on success, else the error text."""
        node = self.node
        if save and not self.save():
            return ""  # shared.err: "-ERR"
        if flush:
            for db in node.dbs:
                node.db_flushed(db)
                db.flush()
        try:
            result = self.read_and_parse(self.path)
            self.install(result, merge=merge)
        except (OSError, RdbError, ValueError) as exc:
            node.log.warning("Error trying to load the RDB dump: %s" % exc)
            return "Error trying to load the RDB dump"
        self._log_done(result)
        node.log.warning("DB reloaded by DEBUG RELOAD")
        return None

    # -- INFO --------------------------------------------------------------------------------
    def info_fields(self) -> dict:
        """The RDB fields of INFO persistence that depend on this object."""
        running = bool(self.child_pid)
        return {
            "current_save_keys_total": self.child_keys if running else 0,
            "rdb_changes_since_last_save": self.node.dirty - self.dirty_at_last_save,
            "rdb_bgsave_in_progress": int(running),
            "rdb_last_save_time": self.node.lastsave,
            "rdb_last_bgsave_status": "ok" if self.lastbgsave_ok else "err",
            "rdb_last_bgsave_time_sec": self.last_bgsave_seconds,
            "rdb_current_bgsave_time_sec": int(time.time() - self.child_start) if running else -1,
            "rdb_saves": self.saves,
            "rdb_last_load_keys_expired": self.keys_expired,
            "rdb_last_load_keys_loaded": self.keys_loaded,
        }


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
