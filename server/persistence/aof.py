"""The append-only file (``node.aof``): Redis 7.0's multi-part AOF (aof.c).

Design note
-----------
Layout, as Redis 7.0 writes it, in ``dir/appenddirname``: a manifest
(``<appendfilename>.manifest``, one ``file <name> seq <n> type b|h|i`` line per file), at most
one *base* file (``<appendfilename>.<seq>.base.rdb`` -- an RDB with the ``aof-base`` AUX field
-- or ``.base.aof`` in RESP when ``aof-use-rdb-preamble`` is off), *history* files waiting to be
deleted, and *incr* files (``.<seq>.incr.aof``) holding the commands written since the base,
replayed in order at startup. ``Manifest`` is the pure part (parse, format, the naming rules).

Feeding: ``feed(dbid, argv)`` is a propagation sink (``node.add_propagation_sink``): every write
arrives once, in its deterministic form, MULTI/EXEC batches included; it is encoded into
``buf`` (aof_buf) with a ``SELECT`` whenever the database changes, and ``#TS:<unix time>``
annotations when ``aof-timestamp-enabled`` is on. PUBLISH and SPUBLISH go to replicas only
(PROPAGATE_REPL in Redis) and are skipped.

Writing (flushAppendOnlyFile): Redis writes ``aof_buf`` in beforeSleep, before any reply of
the same event-loop iteration goes out. Here the node's ``before_reply(client, data)`` hook
is called by the connection for every batch of reply bytes (and with ``b""`` just before a
client closes):

* ``everysec`` / ``no``: the buffer is written (one ``write``) before the reply; ``everysec``
  asks the background fsync thread (Redis's bio) for an ``fdatasync`` about once a second and,
  when the previous one is still running, postpones the write for up to 2 s (then writes
  anyway and counts ``aof_delayed_fsync``), exactly like Redis. A SIGKILL therefore loses
  nothing acknowledged unless a write was postponed; a power loss loses ~1-2 s.
* ``always``: replies produced while the buffer holds unsynced commands are *held*; one
  callback at the end of the event-loop iteration (``call_soon``, scheduled by the first
  ``feed`` of the iteration) writes, ``fdatasync``s and then releases every held reply in
  order. That is Redis's group commit: all clients served in one iteration share one fsync,
  and no reply to any client (reads included) leaves before the writes it may have seen are
  on disk. A client about to close releases everything at once (its bytes must precede the
  close).

Nothing else waits for the disk: loading and rewrites aside, the event loop only pays for
``write`` (and for the fsync under ``always``, as Redis does).

Rewrite (BGREWRITEAOF, automatic growth rewrites, turning the AOF on at runtime): the parent
flushes, opens a new incr file at once and records it in the manifest, then forks; the child
writes ``temp-rewriteaof-bg-<pid>.aof`` in ``dir`` from its copy-on-write image of the
dataset (an RDB through ``node.rdb.write_snapshot``, or RESP commands: SET, RPUSH, SADD,
ZADD, HMSET by 64 items, PEXPIREAT, FUNCTION LOAD), fsyncs and exits. ``cron`` reaps it
(non-blocking ``waitpid``), renames the temp file to the next base name, marks the old base
and the incr files it covers as history, swaps in a new manifest atomically (temp file,
fsync, rename, directory fsync) and deletes the history files. Turning the AOF on at runtime
(``CONFIG SET appendonly yes``) writes into ``temp-<appendfilename>.incr`` until the first
rewrite succeeds (state WAIT_REWRITE), as Redis 7.0 does; while that first rewrite runs,
SHUTDOWN and SIGTERM are refused unless forced (``refuses_shutdown``): exiting would leave no
AOF holding the dataset.

Loading (loadAppendOnlyFiles): the base, then each incr file, each command executed by a
fake client straight through its handler (no gates, no propagation, no expiry while
``node.loading`` -- keyIsExpired's rule), MULTI ... EXEC queued and run at EXEC. The loaders
are generators of loading steps (loading.py): at startup the node answers -LOADING between
slices of REPLAY_SLICE commands, and an RDB base is parsed on a worker thread; DEBUG LOADAOF
runs them straight through (``load_files``). The state reads OFF meanwhile, as in Redis. A file that
starts with ``REDIS`` is loaded as an RDB first (``node.rdb``'s loader, keys whose time
passed included); RESP commands after it are replayed. Commands are parsed by hiredis while
the stream is plain arrays of bulk strings (1M SETs load in about Redis's time); from the
first thing it would not read as Redis does (an annotation, a lenient record, a truncated
tail), the exact reader ``read_commands`` takes over. It follows loadSingleAppendOnlyFile
byte for byte (``fgets`` lines of at most 1023 characters, ``atoi``/``strtol`` lengths, the
two bytes after an argument skipped unchecked) and knows the offsets truncation needs. A
truncated *last* file is cut back to the end of the last complete command when
``aof-load-truncated`` is on (an unfinished MULTI is rolled back to before the MULTI --
Redis only does that for a MULTI that ends cleanly; cutting inside a transaction would leave a
dangling MULTI that swallows the commands appended later); anything else -- a malformed
record, an unknown command, a truncated file that is not the last, a bad manifest, a bad RDB
base -- is logged with Redis's lines and startup fails (``DataLoadError``, exit status 1):
never a silently partial dataset. A single old-style ``appendonly.aof`` in ``dir`` is
migrated into the directory as the base, as Redis 7.0 does.
"""

from __future__ import annotations

import errno
import gc
import os
import re
import signal
import threading
import time
from collections import deque

from ..config import ConfigError, quote, split_args, strtoll
from ..errors import CommandError
from ..forking import before_fork, detach_child
from . import DataLoadError
from .loading import REPLAY_SLICE, run_steps
from .rdb import RdbError

# aof_state
OFF, ON, WAIT_REWRITE = 0, 1, 2

# loadSingleAppendOnlyFile / loadAppendOnlyFiles results
AOF_OK, AOF_NOT_EXIST, AOF_EMPTY, AOF_OPEN_ERR, AOF_FAILED, AOF_TRUNCATED = range(6)

#: Items per RPUSH / SADD / ZADD / HMSET in a RESP rewrite (AOF_REWRITE_ITEMS_PER_CMD).
ITEMS_PER_CMD = 64
#: fgets buffer of the loader (AOF_ANNOTATION_LINE_MAX_LEN): lines are read 1023 bytes at most.
LINE_MAX = 1024 - 1
#: Manifest lines longer than this are refused (MANIFEST_MAX_LINE).
MANIFEST_MAX_LINE = 1024
#: A rewrite child fsyncs its output every this many bytes when aof-rewrite-incremental-fsync
#: is on (REDIS_AUTOSYNC_BYTES).
AUTOSYNC_BYTES = 4 * 1024 * 1024
#: After this many consecutive failed rewrites, automatic ones back off (aofRewriteLimited).
REWRITE_LIMIT_THRESHOLD = 3
#: Seconds between two reports of failing AOF writes (AOF_WRITE_LOG_ERROR_RATE).
WRITE_ERROR_LOG_RATE = 30
REWRITE_LIMIT_MAX_MINUTES = 60

BASE, HISTORY, INCR = "b", "h", "i"

#: Commands propagated to replicas only (forceCommandPropagation(c, PROPAGATE_REPL)).
_REPL_ONLY = frozenset((b"publish", b"spublish"))


# -- the manifest ---------------------------------------------------------------------------------


class ManifestError(Exception):
    """A manifest Redis refuses to start with; ``line``/``linenum`` when a line is at fault."""

    def __init__(self, reason: str, linenum: int = 0, line: str | None = None):
        super().__init__(reason)
        self.reason, self.linenum, self.line = reason, linenum, line


class AofInfo:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name: str, seq: int, type_: str):
        self.name, self.seq, self.type = name, seq, type_

    def copy(self) -> AofInfo:
        return AofInfo(self.name, self.seq, self.type)

    def line(self) -> str:
        name = quote(self.name) if _needs_repr(self.name) else self.name
        return "file %s seq %d type %s\n" % (name, self.seq, self.type)


def _needs_repr(s: str) -> bool:
    """sdsneedsrepr: a backslash, a quote, or anything but printable ASCII other than space
    (C's isprint/isspace)."""
    return any(ch in '\\"' or not 33 <= ord(ch) <= 126 for ch in s)


class Manifest:
    """The list of AOF files (aofManifest): base, history and incr files, and the sequence
    numbers the next ones get."""

    def __init__(self):
        self.base: AofInfo | None = None
        self.history: list[AofInfo] = []
        self.incr: list[AofInfo] = []
        self.base_seq = 0
        self.incr_seq = 0
        self.dirty = False

    def copy(self) -> Manifest:
        m = Manifest()
        m.base = self.base.copy() if self.base else None
        m.history = [a.copy() for a in self.history]
        m.incr = [a.copy() for a in self.incr]
        m.base_seq, m.incr_seq, m.dirty = self.base_seq, self.incr_seq, self.dirty
        return m

    @property
    def empty(self) -> bool:
        return self.base is None and not self.incr

    def files(self) -> list[AofInfo]:
        """The files to load, in order: the base, then the incr files."""
        return ([self.base] if self.base else []) + self.incr

    # -- text ------------------------------------------------------------------------------------
    def format(self) -> str:
        """getAofManifestAsString: base first, then history, then incr files."""
        infos = ([self.base] if self.base else []) + self.history + self.incr
        return "".join(a.line() for a in infos)

    @classmethod
    def parse(cls, text: bytes) -> Manifest:
        """aofLoadManifestFromFile. Raises ManifestError with Redis's reason."""
        m = cls()
        maxseq = 0
        lines = _fgets_lines(text, MANIFEST_MAX_LINE)
        if not lines:
            raise ManifestError("Found an empty AOF manifest")
        for linenum, raw in enumerate(lines, 1):
            if raw[:1] == b"#":
                continue
            if b"\n" not in raw:
                raise ManifestError("The AOF manifest file contains too long line", linenum)
            line = raw.decode("latin-1").strip(" \t\r\n")
            if not line:
                raise ManifestError("Invalid AOF manifest file format", linenum, line)
            argv = split_args(line)
            if argv is None or len(argv) < 6 or len(argv) % 2:
                raise ManifestError("Invalid AOF manifest file format", linenum, line)
            name, seq, type_ = None, 0, ""
            for key, value in zip(argv[::2], argv[1::2]):
                key = key.lower()
                if key == "file":
                    name = value.split("\0", 1)[0]
                    if os.path.basename(name) != name:
                        raise ManifestError("File can't be a path, just a filename", linenum, line)
                elif key == "seq":
                    seq = strtoll(value)[0]  # atoll
                elif key == "type":
                    type_ = value[:1]
            if not name or not seq or not type_:
                raise ManifestError("Invalid AOF manifest file format", linenum, line)
            info = AofInfo(name, seq, type_)
            if type_ == BASE:
                if m.base is not None:
                    raise ManifestError("Found duplicate base file information", linenum, line)
                m.base = info
                m.base_seq = seq
            elif type_ == HISTORY:
                m.history.append(info)
            elif type_ == INCR:
                if seq <= maxseq:
                    raise ManifestError("Found a non-monotonic sequence number", linenum, line)
                m.incr.append(info)
                m.incr_seq = maxseq = seq
            else:
                raise ManifestError("Unknown AOF file type", linenum, line)
        return m

    # -- naming rules ----------------------------------------------------------------------------
    def new_base(self, filename: str, rdb_preamble: bool) -> str:
        """getNewBaseFileNameAndMarkPreAsHistory."""
        if self.base is not None:
            self.base.type = HISTORY
            self.history.insert(0, self.base)
        self.base_seq += 1
        suffix = ".rdb" if rdb_preamble else ".aof"
        self.base = AofInfo("%s.%d.base%s" % (filename, self.base_seq, suffix), self.base_seq, BASE)
        self.dirty = True
        return self.base.name

    def new_incr(self, filename: str) -> str:
        """getNewIncrAofName."""
        self.incr_seq += 1
        info = AofInfo("%s.%d.incr.aof" % (filename, self.incr_seq), self.incr_seq, INCR)
        self.incr.append(info)
        self.dirty = True
        return info.name

    def last_incr(self, filename: str) -> str:
        """getLastIncrAofName: the last incr file, or a new one."""
        return self.incr[-1].name if self.incr else self.new_incr(filename)

    def mark_rewritten_incr_as_history(self, keep_last: bool) -> None:
        """markRewrittenIncrAofAsHistory: the incr files a rewrite covered become history;
        the last one stays when it is the file being written (``keep_last``)."""
        if not self.incr:
            return
        covered = self.incr[:-1] if keep_last else self.incr
        self.incr = self.incr[-1:] if keep_last else []
        for info in reversed(covered):
            info.type = HISTORY
            self.history.insert(0, info)
        self.dirty = True


def _fgets_lines(text: bytes, size: int) -> list[bytes]:
    """What successive ``fgets(buf, size + 1)`` calls return: lines of at most ``size``
    bytes, each ending in a newline unless it was cut or is the last."""
    out = []
    pos, n = 0, len(text)
    while pos < n:
        nl = text.find(b"\n", pos, pos + size)
        end = nl + 1 if nl != -1 else min(n, pos + size)
        out.append(text[pos:end])
        pos = end
    return out


# -- the command stream ---------------------------------------------------------------------------


def encode_command(argv) -> bytes:
    """catAppendOnlyGenericCommand: a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        parts.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(parts)


_SELECT_CACHE = {i: b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(16)}


def select_command(dbid: int) -> bytes:
    cmd = _SELECT_CACHE.get(dbid)
    return cmd if cmd is not None else encode_command([b"SELECT", b"%d" % dbid])


class StreamTruncated(Exception):
    """The data ended in the middle of a record (loadSingleAppendOnlyFile's ``readerr`` at EOF)."""


class StreamFormatError(Exception):
    """A record is malformed (``fmterr``): Redis refuses to load such a file."""


def _atoi(b: bytes) -> int:
    """C atoi/strtol on a line: leading blanks, a sign, the longest run of digits."""
    s = b.lstrip(b" \t\n\r\x0b\x0c")
    i = 0
    if s[:1] in (b"+", b"-"):
        i = 1
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return 0
    return int(s[:j])


def read_commands(buf, pos: int):
    """Yield ``(argv, end)`` for each command of the RESP stream in ``buf`` from ``pos``
    (annotations skipped), ``end`` being the offset just after it. Raises StreamTruncated or
    StreamFormatError where loadSingleAppendOnlyFile goes to readerr/fmterr.

    Canonical header lines (``*3\\r\\n``, ``$5\\r\\n``) are matched by a regular expression;
    anything else goes through ``_line_number``, which reads the line as fgets + atoi do."""
    n = len(buf)
    argc_line = _ARGC_LINE.match
    len_line = _LEN_LINE.match
    while pos < n:
        m = argc_line(buf, pos)
        if m is not None:
            argc = int(m.group(1))
            pos = m.end()
        else:
            first = buf[pos]
            if first == 35:  # '#': an annotation
                nl = buf.find(b"\n", pos, pos + LINE_MAX)
                pos = nl + 1 if nl != -1 else min(n, pos + LINE_MAX)
                continue
            if first != 42:  # '*'
                raise StreamFormatError()
            argc, pos = _line_number(buf, pos, n)
        if argc < 1:
            raise StreamFormatError()
        argv = []
        for _ in range(argc):
            m = len_line(buf, pos)
            if m is not None:
                size = int(m.group(1))
                start = m.end()
            else:
                if pos >= n:
                    raise StreamTruncated()
                if buf[pos] != 36:  # '$'
                    raise StreamFormatError()
                size, start = _line_number(buf, pos, n)
                if size < 0:  # an unsigned length of exabytes: Redis dies allocating it
                    raise StreamFormatError()
            pos = start + size
            if pos > n:
                raise StreamTruncated()
            argv.append(buf[start:pos])
            pos += 2  # the CRLF, skipped unchecked
            if pos > n:
                raise StreamTruncated()
        yield argv, pos


_ARGC_LINE = re.compile(rb"\*(\d{1,9})\r\n")
_LEN_LINE = re.compile(rb"\$(\d{1,18})\r\n")


def _line_number(buf, pos: int, n: int) -> tuple[int, int]:
    """The number on the header line at ``pos`` (after its '*' or '$'), read as fgets (1023
    bytes at most) and atoi do, and the offset after the line. A lone marker at the very
    end of the data is a truncation (fgets returned one byte: ``buf[1] == '\\0'``)."""
    nl = buf.find(b"\n", pos, pos + LINE_MAX)
    end = nl + 1 if nl != -1 else min(n, pos + LINE_MAX)
    if end - pos == 1:
        raise StreamTruncated()
    return _atoi(buf[pos + 1 : end]), end


# -- the background fsync thread ------------------------------------------------------------------


class BackgroundFsync:
    """Redis's bio thread for the AOF: ``fdatasync`` jobs (everysec) and fsync-and-close of
    a file that was replaced. ``pending`` counts queued fsync jobs (aofFsyncInProgress,
    ``aof_pending_bio_fsync``); ``error`` is the OSError of a failed one (aof_bio_fsync_status)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._jobs: deque = deque()
        self._thread: threading.Thread | None = None
        self.pending = 0
        self.error: OSError | None = None

    def submit(self, fd: int, close: bool = False) -> None:
        with self._cond:
            self._jobs.append((fd, close))
            if not close:
                self.pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vermilion-aof-fsync", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                fd, close = self._jobs.popleft()
            if fd is None:
                return
            try:
                os.fdatasync(fd)
                if not close:
                    self.error = None
            except OSError as exc:
                if not close and exc.errno not in (errno.EBADF, errno.EINVAL):
                    self.error = exc
            if close:
                try:
                    os.close(fd)
                except OSError:
                    pass
            else:
                with self._cond:
                    self.pending -= 1

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued jobs and end the thread."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._jobs.append((None, False))
            self._cond.notify()
        thread.join(timeout)
        self._thread = None


# -- the AOF of one node --------------------------------------------------------------------------


class Aof:
    """See the module docstring."""

    def __init__(self, node):
        self.node = node
        self.state = OFF
        self.manifest = Manifest()
        self.fd = -1
        self.buf = bytearray()  # aof_buf
        self.selected_db = -1
        self.cur_timestamp = 0
        self.current_size = 0  # aof_current_size
        self.base_size = 0  # aof_rewrite_base_size
        self.last_incr_size = 0
        self.fsync_offset = 0
        self.last_fsync = 0
        self.flush_postponed_start = 0
        self.delayed_fsync = 0
        self.write_error: OSError | None = None  # aof_last_write_status / errno
        self._last_error_log = -WRITE_ERROR_LOG_RATE
        #: MISCONF: the reason writes are refused (a failed write or background fsync), or None.
        self.denied: str | None = None
        self.child_pid = 0
        self.rewrite_time_start = -1
        self.rewrite_time_last = -1
        self.rewrite_scheduled = False
        self.lastbgrewrite_ok = True
        self.rewrites = 0
        self.consecutive_failures = 0
        self._limit_delay_minutes = 0
        self._limit_until = 0
        self.bio = BackgroundFsync()
        #: Replies waiting for the next flush under ``appendfsync always``: (client, bytes).
        self.held: list | None = None
        self._flush_scheduled = False
        self._sink = self.feed
        node.config.watch("appendonly", self._on_appendonly)
        node.config.watch("appendfsync", lambda v: self._install_hook())
        #: aof-timestamp-enabled: #TS annotations (read on every write, so kept here).
        self.timestamps = node.config["aof-timestamp-enabled"]
        node.config.watch("aof-timestamp-enabled", self._set_timestamps)

    def _set_timestamps(self, value: bool) -> None:
        self.timestamps = value

    # -- paths ---------------------------------------------------------------------------------
    @property
    def filename(self) -> str:
        return self.node.config["appendfilename"]

    @property
    def dirname(self) -> str:
        config = self.node.config
        return os.path.join(config["dir"], config["appenddirname"])

    def path(self, name: str) -> str:
        return os.path.join(self.dirname, name)

    def _dir_path(self, name: str) -> str:
        return os.path.join(self.node.config["dir"], name)

    @property
    def manifest_name(self) -> str:
        return self.filename + ".manifest"

    @property
    def temp_incr_name(self) -> str:
        return "temp-" + self.filename + ".incr"

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, dbid: int, argv) -> None:
        """feedAppendOnlyFile: the propagation sink (on the write path: kept lean)."""
        name = argv[0]
        if len(name) in (7, 8) and name.lower() in _REPL_ONLY:
            return
        if self.state != ON and not self.child_pid:
            return  # WAIT_REWRITE before its rewrite could start: nothing is kept
        if not self._flush_scheduled:
            self._schedule_flush()
        buf = self.buf
        if self.timestamps:
            now = self.node.clock.ms // 1000
            if self.cur_timestamp < now:
                self.cur_timestamp = now
                buf += b"#TS:%d\r\n" % now
        if dbid != self.selected_db:
            buf += select_command(dbid)
            self.selected_db = dbid
        if len(argv) == 3:
            a, b, c = argv
            buf += b"*3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(a), a, len(b), b, len(c), c)
        else:
            buf += b"*%d\r\n" % len(argv)
            for a in argv:
                buf += b"$%d\r\n%b\r\n" % (len(a), a)

    def _schedule_flush(self) -> None:
        loop = self.node.loop
        if loop is not None:
            self._flush_scheduled = True
            loop.call_soon(self._before_sleep)

    def _before_sleep(self) -> None:
        """The end of an event-loop iteration that fed commands: write (and under
        ``always`` fsync) the buffer, then let the held replies go."""
        self._flush_scheduled = False
        try:
            if self.state != OFF:
                self.flush()
        finally:
            self._release()

    def _release(self) -> None:
        held, self.held = self.held, None
        if held:
            for client, data in held:
                client._send(data)

    def _write_before_reply(self, client, data: bytes) -> bool:
        """before_reply under everysec/no: the commands reach the kernel before the reply."""
        if self.buf:
            self.flush()
        return False

    def _hold_until_synced(self, client, data: bytes) -> bool:
        """before_reply under always: hold replies until the commands are on disk."""
        if client.closing:  # its bytes must go out before the connection closes
            if self.buf:
                self.flush()
            self._release()
            return False
        if self.held is not None:
            self.held.append((client, data))
            return True
        if not self.buf:
            return False
        self.held = [(client, data)]
        if not self._flush_scheduled:
            self._schedule_flush()
        return True

    def _install_hook(self) -> None:
        node = self.node
        if self.state == OFF:
            hook = None
        elif node.config["appendfsync"] == "always":
            hook = self._hold_until_synced
        else:
            hook = self._write_before_reply
        if hook is not self._hold_until_synced and self.held:
            if self.buf:
                self.flush(True)
            self._release()
        node.before_reply = hook

    # -- writing -------------------------------------------------------------------------------
    def flush(self, force: bool = False) -> None:
        """flushAppendOnlyFile."""
        if self.fd == -1:
            return
        config = self.node.config.values
        policy = config["appendfsync"]
        now = int(time.time())
        sync_in_progress = False
        if not self.buf:
            # everysec: fsync what was written even when nothing new came (Redis 7.0).
            if (
                policy == "everysec"
                and self.fsync_offset != self.current_size
                and now > self.last_fsync
                and not self.bio.pending
            ):
                self._try_fsync(policy, now, False)
            return
        if policy == "everysec":
            sync_in_progress = self.bio.pending > 0
            if sync_in_progress and not force:
                if self.flush_postponed_start == 0:
                    self.flush_postponed_start = now
                    return
                if now - self.flush_postponed_start < 2:
                    return
                self.delayed_fsync += 1
                self.node.log.notice(
                    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer "
                    "without waiting for fsync to complete, this may slow down Redis.")
        data = self.buf
        written = 0
        try:
            while written < len(data):
                written += os.write(self.fd, data[written:] if written else data)
        except OSError as exc:
            self._write_failed(exc, written, policy)
            return
        self.flush_postponed_start = 0
        if self.write_error is not None:
            self.node.log.warning("AOF write error looks solved, Redis can write again.")
            self.write_error = None
            self._update_denied()
        self.current_size += written
        self.last_incr_size += written
        data.clear()
        self._try_fsync(policy, now, sync_in_progress)

    def _try_fsync(self, policy: str, now: int, sync_in_progress: bool) -> None:
        if self.node.config.values["no-appendfsync-on-rewrite"] and self._child_active():
            return
        if policy == "always":
            try:
                os.fdatasync(self.fd)
            except OSError as exc:
                self.node.log.warning("Can't persist AOF for fsync error when the AOF fsync policy is "
                                      "'always': %s. Exiting..." % exc.strerror)
                os._exit(1)
            self.fsync_offset = self.current_size
            self.last_fsync = now
        elif policy == "everysec" and now > self.last_fsync:
            if not sync_in_progress:
                self.bio.submit(self.fd)
                self.fsync_offset = self.current_size
            self.last_fsync = now

    def _write_failed(self, exc: OSError, written: int, policy: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log > WRITE_ERROR_LOG_RATE:  # one report per 30 s, as Redis
            self._last_error_log = now
            log = self.node.log
        else:
            log = _SILENT
        if written:
            log.warning("Short write while writing to the AOF file: (nwritten=%d, expected=%d)"
                        % (written, len(self.buf)))
            try:
                os.ftruncate(self.fd, self.last_incr_size)
                written = 0  # nothing partial is left in the file
            except OSError as texc:
                log.warning("Could not remove short write from the append-only file.  Redis may refuse to "
                            "load the AOF the next time it starts.  ftruncate: %s" % texc.strerror)
            exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        else:
            log.warning("Error writing to the AOF file: %s" % exc.strerror)
        if policy == "always":
            self.node.log.warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. "
                                  "Exiting...")
            os._exit(1)
        self.write_error = exc
        self._update_denied()
        if written:
            self.current_size += written
            self.last_incr_size += written
            del self.buf[:written]

    def _update_denied(self) -> None:
        """writeCommandsDeniedByDiskError for the AOF: ``denied`` is the strerror text the
        dispatcher's MISCONF reply quotes, None while writes are fine."""
        exc = self.write_error or self.bio.error
        self.denied = None if exc is None or self.state == OFF else (exc.strerror or str(exc))

    # -- the manifest on disk ----------------------------------------------------------------
    def persist_manifest(self, manifest: Manifest) -> bool:
        """persistAofManifest / writeAofManifestFile: temp file, fsync, rename, dir fsync."""
        if not manifest.dirty:
            return True
        log = self.node.log
        tmp_name = "temp-" + self.manifest_name
        tmp = self.path(tmp_name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as exc:
            log.warning("Can't open the AOF manifest file %s: %s" % (tmp_name, exc.strerror))
            return False
        try:
            try:
                os.write(fd, manifest.format().encode("latin-1"))
            except OSError as exc:
                log.warning("Error trying to write the temporary AOF manifest file %s: %s"
                            % (tmp_name, exc.strerror))
                return False
            try:
                os.fsync(fd)
            except OSError as exc:
                log.warning("Fail to fsync the temp AOF file %s: %s." % (tmp_name, exc.strerror))
                return False
        finally:
            os.close(fd)
        try:
            os.replace(tmp, self.path(self.manifest_name))
        except OSError as exc:
            log.warning("Error trying to rename the temporary AOF manifest file %s into %s: %s"
                        % (tmp_name, self.manifest_name, exc.strerror))
            return False
        _fsync_dir(self.dirname)
        manifest.dirty = False
        return True

    def _make_dir(self) -> bool:
        try:
            os.makedirs(self.dirname, exist_ok=True)
            return True
        except OSError as exc:
            self.node.log.warning("Can't open or create append-only dir %s: %s"
                                  % (self.node.config["appenddirname"], exc.strerror))
            return False

    def load_manifest(self) -> None:
        """aofLoadManifestFromDisk (at startup, whatever ``appendonly`` says). A manifest
        that exists but cannot be read or parsed is fatal (DataLoadError)."""
        self.manifest = Manifest()
        if not os.path.isdir(self.dirname):
            self.node.log.debug("The AOF directory %s doesn't exist" % self.node.config["appenddirname"])
            return
        path = self.path(self.manifest_name)
        if not os.path.exists(path):
            self.node.log.debug("The AOF manifest file %s doesn't exist" % self.manifest_name)
            return
        log = self.node.log.warning
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as exc:
            log("Fatal error: can't open the AOF manifest file %s for reading: %s" % (path, exc.strerror))
            raise DataLoadError(str(exc)) from None
        try:
            self.manifest = Manifest.parse(text)
        except ManifestError as exc:
            log("\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
            if exc.line is not None:
                log("Reading the manifest file, at line %d\n" % exc.linenum)
                log(">>> '%s'\n" % exc.line)
            log("%s\n" % exc.reason)
            raise DataLoadError(exc.reason) from None

    def delete_history(self) -> bool:
        """aofDelHistoryFiles."""
        m = self.manifest
        if not m.history or self.node.config["aof-disable-auto-gc"]:
            return True
        for info in m.history:
            self.node.log.notice("Removing the history file %s in the background" % info.name)
            _unlink(self.path(info.name))
        m.history = []
        m.dirty = True
        return self.persist_manifest(m)

    # -- startup -------------------------------------------------------------------------------
    def load_data_from_disk_steps(self):
        """Startup (redis main: aofLoadManifestFromDisk, loadDataFromDisk,
        aofOpenIfNeededOnServerStart, aofDelHistoryFiles): the AOF when ``appendonly`` is on
        -- it wins over dump.rdb, which is then not read at all, as in Redis -- else the RDB;
        then the AOF is opened for appending. Raises DataLoadError (logged) on failure.
        A generator of loading steps (loading.py): the node answers while it runs."""
        node = self.node
        self.load_manifest()
        if node.config["appendonly"]:
            self.state = ON
            start = time.monotonic()
            ret = yield from self.load_files_steps()
            if ret in (AOF_FAILED, AOF_OPEN_ERR):
                raise DataLoadError("AOF loading failed")
            if ret != AOF_NOT_EXIST:
                node.log.notice("DB loaded from append only file: %.3f seconds" % (time.monotonic() - start))
        else:
            yield from node.rdb.load_steps()
        self.open_on_server_start()
        self.delete_history()

    def open_on_server_start(self) -> None:
        """aofOpenIfNeededOnServerStart: with the AOF on, make sure a base exists (an empty
        dataset gets one), open the last incr file for appending (or create one), persist
        the manifest, and start feeding."""
        if self.state != ON:
            return
        log = self.node.log
        if not self._make_dir():
            raise DataLoadError("AOF directory")
        m = self.manifest
        if m.empty:
            base = m.new_base(self.filename, self.node.config["aof-use-rdb-preamble"])
            if not self.rewrite_to(self.path(base)):
                raise DataLoadError("AOF base")
            log.notice("Creating AOF base file %s on server start" % base)
        had_incr = bool(m.incr)
        name = m.last_incr(self.filename)
        try:
            self.fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            log.warning("Can't open the append-only file %s: %s" % (name, exc.strerror))
            raise DataLoadError(str(exc)) from None
        if not self.persist_manifest(m):
            raise DataLoadError("AOF manifest")
        self.last_incr_size = _size(self.path(name))
        log.notice("%s AOF incr file %s on server start" % ("Opening" if had_incr else "Creating", name))
        self._attach()

    def _attach(self) -> None:
        self.node.add_propagation_sink(self._sink)
        self._install_hook()

    def _detach(self) -> None:
        self.node.remove_propagation_sink(self._sink)
        self.node.before_reply = None

    # -- loading -------------------------------------------------------------------------------
    def _maybe_upgrade(self) -> None:
        """The old single-file AOF in ``dir`` becomes the base of a new directory
        (aofUpgradePrepare), in the three situations loadAppendOnlyFiles checks."""
        m = self.manifest
        old = self._dir_path(self.filename)
        if not os.path.isfile(old):
            return
        if not (
            not os.path.isdir(self.dirname)
            or m.empty
            or (m.base is not None and not m.incr and m.base.name == self.filename
                and not os.path.exists(self.path(self.filename)))
        ):
            return
        if not self._make_dir():
            raise DataLoadError("AOF directory")
        m.base = AofInfo(self.filename, 1, BASE)
        m.base_seq = 1
        m.dirty = True
        if not self.persist_manifest(m):
            raise DataLoadError("AOF manifest")
        try:
            os.rename(old, self.path(self.filename))
        except OSError as exc:
            self.node.log.warning("Error trying to move the old AOF file %s into dir %s: %s"
                                  % (self.filename, self.node.config["appenddirname"], exc.strerror))
            raise DataLoadError(str(exc)) from None
        self.node.log.notice("Successfully migrated an old-style AOF file (%s) into the AOF directory (%s)."
                             % (self.filename, self.node.config["appenddirname"]))

    def load_files(self) -> int:
        """``load_files_steps`` run to the end on this thread (DEBUG LOADAOF)."""
        return run_steps(self.load_files_steps())

    def load_files_steps(self):
        """loadAppendOnlyFiles: the base, then every incr file, in manifest order."""
        node = self.node
        log = node.log
        self._maybe_upgrade()
        m = self.manifest
        if m.empty:
            return AOF_NOT_EXIST
        files = m.files()
        total = base_size = 0
        sizes = []
        for info in files:
            try:
                size = os.stat(self.path(info.name)).st_size
            except OSError as exc:
                log.warning("Unable to obtain the AOF file %s length. stat: %s" % (info.name, exc.strerror))
                return AOF_FAILED
            sizes.append(size)
            total += size
            if info is m.base:
                base_size = size
        if total == 0:
            return AOF_EMPTY
        progress = node.rdb.progress
        progress.begin(node, total)
        # Off while loading, as in Redis (INFO shows aof_enabled:0 meanwhile).
        state, self.state = self.state, OFF
        ret = AOF_OK
        offset = 0
        try:
            for i, info in enumerate(files):
                last = i == len(files) - 1
                start = time.monotonic()
                ret = yield from self._load_file_steps(info.name, offset)
                offset = progress.loaded_bytes = offset + sizes[i]
                if ret == AOF_OK or (ret == AOF_TRUNCATED and last):
                    log.notice("DB loaded from %s file %s: %.3f seconds"
                               % ("base" if info is m.base else "incr", info.name, time.monotonic() - start))
                if ret == AOF_EMPTY:
                    ret = AOF_OK
                if ret == AOF_TRUNCATED and not last:
                    ret = AOF_FAILED
                    log.warning("Fatal error: the truncated file is not the last file")
                if ret in (AOF_OPEN_ERR, AOF_FAILED):
                    return ret
        finally:
            self.state = state
            progress.end(node)
        self.current_size = total
        self.base_size = base_size
        self.fsync_offset = total
        return ret

    def _load_file_steps(self, name: str, offset: int):
        """loadSingleAppendOnlyFile; ``offset``: the bytes of the files before this one."""
        node = self.node
        log = node.log
        path = self.path(name)
        try:
            buf = yield lambda: _read(path)
        except FileNotFoundError as exc:
            log.warning("The append log file %s doesn't exist: %s" % (name, exc.strerror))
            return AOF_NOT_EXIST
        except OSError as exc:
            log.warning("Fatal error: can't open the append log file %s for reading: %s" % (name, exc.strerror))
            return AOF_OPEN_ERR
        if not buf:
            return AOF_EMPTY
        pos = 0
        if buf[:5] == b"REDIS":
            old_style = name == self.filename
            log.notice("Reading RDB preamble from AOF file..." if old_style
                       else "Reading RDB base file on AOF loading...")
            try:
                # rdbLoadRio with RDBFLAGS_AOF_PREAMBLE: keys whose time has passed are
                # loaded too, since the commands that follow assume they exist.
                progress = node.rdb.progress.rdb_callback(offset, node.rdb)
                result = yield lambda: node.rdb.parse(buf, drop_expired=False, progress=progress)
                node.rdb.progress.note_aux(result)
                node.rdb.install(result)
                pos = result.end
            except (RdbError, ValueError) as exc:
                self._report_rdb(exc)
                log.warning("Error reading the RDB preamble of the AOF file %s, AOF loading aborted" % name
                            if old_style else
                            "Error reading the RDB base file %s, AOF loading aborted" % name)
                return AOF_FAILED
            if result.checksum_disabled:
                log.warning("RDB file was saved with checksum disabled: no check performed.")
            log.notice("Done loading RDB, keys loaded: %d, keys expired: %d."
                       % (result.keys_loaded, result.keys_expired))
            if old_style:
                log.notice("Reading the remaining AOF tail...")
        return (yield from self._replay(name, path, buf, pos, offset))

    def _report_rdb(self, exc: Exception) -> None:
        """The lines rdbLoadRio logs for a bad RDB part."""
        report = getattr(self.node.rdb, "_report", None)
        if callable(report) and isinstance(exc, RdbError):
            report(exc, getattr(exc, "offset", 0))
        else:
            self.node.log.warning(str(exc))

    def _replay(self, name: str, path: str, buf: bytes, pos: int, offset: int = 0):
        """Run the RESP commands of ``buf`` from ``pos``; handle a truncated tail.

        The fast path parses with hiredis and needs no offsets. Whenever it cannot go on (an
        annotation, anything but a non-empty array of bulk strings, a truncated tail, an open
        MULTI at the end), the exact reader takes over: it walks the commands already run
        without running them again (to learn the offsets truncation needs), then goes on.
        Yields every REPLAY_SLICE commands or so (loading steps, loading.py)."""
        node = self.node
        log = node.log
        progress = node.rdb.progress
        runner = _Replayer(node)
        done = 0
        try:
            done, clean = yield from _replay_fast(buf, pos, runner, progress, offset)
            if clean and not runner.in_multi:
                return AOF_OK
            walker = _Replayer(node, dry=True)
            valid_up_to = valid_before_multi = pos
            truncated = False
            try:
                for i, (argv, end) in enumerate(read_commands(buf, pos)):
                    if (walker if i < done else runner).run(argv):
                        valid_before_multi = valid_up_to
                    valid_up_to = end
                    if not i % REPLAY_SLICE and i >= done:
                        progress.loaded_bytes = offset + end
                        yield
            except StreamTruncated:
                truncated = True
        except StreamFormatError:
            log.warning("Bad file format reading the append only file %s: make a backup of your AOF file, "
                        "then use ./redis-check-aof --fix <filename.manifest>" % name)
            return AOF_FAILED
        except _UnknownCommand as exc:
            log.warning("Unknown command '%s' reading the append only file %s" % (exc.args[0], name))
            return AOF_FAILED
        except Exception as exc:  # a command that cannot be replayed: never a partial dataset
            log.warning("Error replaying the append only file %s: %r" % (name, exc))
            return AOF_FAILED
        if runner.in_multi:
            log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s" % name)
            valid_up_to = valid_before_multi
            truncated = True
        if not truncated:
            return AOF_OK
        if node.config["aof-load-truncated"]:
            log.warning("!!! Warning: short read while loading the AOF file %s!!!" % name)
            log.warning("!!! Truncating the AOF %s at offset %d !!!" % (name, valid_up_to))
            try:
                os.truncate(path, valid_up_to)
            except OSError as exc:
                log.warning("Error truncating the AOF file %s: %s" % (name, exc.strerror))
            else:
                log.warning("AOF %s loaded anyway because aof-load-truncated is enabled" % name)
                return AOF_TRUNCATED
        log.warning("Unexpected end of file reading the append only file %s. You can: 1) Make a backup of "
                    "your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively "
                    "you can set the 'aof-load-truncated' configuration option to yes and restart the "
                    "server." % name)
        return AOF_FAILED

    # -- rewriting -----------------------------------------------------------------------------
    def _child_active(self) -> bool:
        """hasActiveChildProcess: ours or the RDB's."""
        return bool(self.child_pid or self.node.rdb.in_progress)

    def rewrite_to(self, path: str) -> bool:
        """rewriteAppendOnlyFile: write the dataset to ``temp-rewriteaof-<pid>.aof`` in
        ``dir``, fsync it and rename it to ``path``."""
        log = self.node.log
        tmp = self._dir_path("temp-rewriteaof-%d.aof" % os.getpid())
        try:
            f = open(tmp, "wb")
        except OSError as exc:
            log.warning("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): %s" % exc.strerror)
            return False
        try:
            with f:
                out = _SyncingWriter(f, self.node.config["aof-rewrite-incremental-fsync"])
                if self.node.config["aof-use-rdb-preamble"]:
                    self.node.rdb.write_snapshot(out.write, aof_base=True)
                else:
                    self.write_commands(out.write)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.warning("Write error writing append only file on disk: %s" % (exc.strerror or exc))
            _unlink(tmp)
            return False
        try:
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("Error moving temp append only file on the final destination: %s" % exc.strerror)
            _unlink(tmp)
            return False
        return True

    def write_commands(self, write) -> None:
        """rewriteAppendOnlyFileRio: the dataset as RESP commands."""
        node = self.node
        config = node.config
        delay = config["rdb-key-save-delay"]
        if config["aof-timestamp-enabled"]:
            self.cur_timestamp = int(time.time())
            write(b"#TS:%d\r\n" % self.cur_timestamp)
        hook = getattr(node, "function_libraries", None)
        libraries = list(hook()) if callable(hook) else list(node.rdb.loaded_functions)
        for code in libraries:
            write(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$%d\r\n%b\r\n" % (len(code), code))
        for dbid, db in enumerate(node.dbs):
            if not db.data:
                continue
            write(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n" % (len(str(dbid)), dbid))
            expires = db.expires
            chunk = []
            size = 0
            for key, value in db.data.items():
                record = rewrite_value(key, value)
                when = expires.get(key) if expires else None
                if when is not None:
                    record += b"*3\r\n$9\r\nPEXPIREAT\r\n$%d\r\n%b\r\n$%d\r\n%d\r\n" % (
                        len(key), key, len(str(when)), when)
                chunk.append(record)
                size += len(record)
                if size > 1 << 20:
                    write(b"".join(chunk))
                    chunk, size = [], 0
                if delay:
                    _delay(delay)
            if chunk:
                write(b"".join(chunk))

    def rewrite_background(self) -> bool:
        """rewriteAppendOnlyFileBackground."""
        node = self.node
        log = node.log
        if self._child_active():
            return False
        if not self._make_dir():
            self.lastbgrewrite_ok = False
            return False
        self.selected_db = -1
        self.flush(True)
        if not self._open_new_incr():
            self.lastbgrewrite_ok = False
            return False
        self.rewrites += 1
        before_fork()  # the child must not repeat unflushed output
        start = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as exc:
            self.lastbgrewrite_ok = False
            log.warning("Can't rewrite append only file in background: fork: %s" % exc.strerror)
            return False
        if pid == 0:
            self._child()  # never returns
        stats = node.stats
        stats.total_forks += 1
        stats.latest_fork_usec = int((time.perf_counter() - start) * 1_000_000)
        self.child_pid = pid
        log.notice("Background append only file rewriting started by pid %d" % pid)
        self.rewrite_scheduled = False
        self.rewrite_time_start = int(time.time())
        return True

    def _child(self) -> None:
        code = 1
        try:
            gc.disable()
            detach_child(self.node)
            tmp = "temp-rewriteaof-bg-%d.aof" % os.getpid()
            if self.rewrite_to(self._dir_path(tmp)):
                self.node.log.notice("Successfully created the temporary AOF base file %s" % tmp)
                code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)

    def _open_new_incr(self) -> bool:
        """openNewIncrAofForAppend."""
        if self.state == OFF:
            return True
        log = self.node.log
        temp = None
        if self.state == WAIT_REWRITE:
            name = self.temp_incr_name
        else:
            temp = self.manifest.copy()
            name = temp.new_incr(self.filename)
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as exc:
            log.warning("Can't open the append-only file %s: %s" % (name, exc.strerror))
            return False
        if temp is not None and not self.persist_manifest(temp):
            os.close(fd)
            return False
        log.notice("Creating AOF incr file %s on background rewrite" % name)
        if self.fd != -1:
            self.bio.submit(self.fd, close=True)
            self.fsync_offset = self.current_size
            self.last_fsync = int(time.time())
        self.fd = fd
        self.last_incr_size = 0
        if temp is not None:
            self.manifest = temp
        return True

    def kill_child(self) -> None:
        """killAppendOnlyChild."""
        pid = self.child_pid
        if not pid:
            return
        self.node.log.notice("Killing running AOF rewrite child: %d" % pid)
        try:
            os.kill(pid, signal.SIGUSR1)
            os.waitpid(pid, 0)
        except OSError:
            pass
        self._remove_temp_files(pid)
        self.child_pid = 0
        self.rewrite_time_start = -1

    def _remove_temp_files(self, pid: int) -> None:
        _unlink(self._dir_path("temp-rewriteaof-bg-%d.aof" % pid))
        _unlink(self._dir_path("temp-rewriteaof-%d.aof" % pid))

    def _child_done(self, status: int) -> None:
        """backgroundRewriteDoneHandler."""
        node = self.node
        log = node.log
        pid = self.child_pid
        self.child_pid = 0
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.notice("Background AOF rewrite terminated with success")
            self._install_rewrite(pid)
        elif os.WIFEXITED(status):
            self.lastbgrewrite_ok = False
            self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated with error")
        else:
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            if sig != signal.SIGUSR1:
                self.lastbgrewrite_ok = False
                self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated by signal %d" % sig)
        self._remove_temp_files(pid)
        if self.state == WAIT_REWRITE:
            self.buf.clear()
            log.notice("Removing the temp incr aof file %s in the background" % self.temp_incr_name)
            _unlink(self.path(self.temp_incr_name))
        self.rewrite_time_last = int(time.time()) - self.rewrite_time_start
        self.rewrite_time_start = -1
        if self.state == WAIT_REWRITE:
            self.rewrite_scheduled = True

    def _install_rewrite(self, pid: int) -> None:
        """The success half of backgroundRewriteDoneHandler."""
        log = self.node.log
        tmp = "temp-rewriteaof-bg-%d.aof" % pid
        temp = self.manifest.copy()
        base = temp.new_base(self.filename, self.node.config["aof-use-rdb-preamble"])
        base_path = self.path(base)
        if not self._rename(self._dir_path(tmp), base_path,
                            "Error trying to rename the temporary AOF base file %s into %s: %s", tmp):
            return
        log.notice("Successfully renamed the temporary AOF base file %s into %s" % (tmp, base))
        incr_path = None
        if self.state == WAIT_REWRITE:
            incr = temp.new_incr(self.filename)
            incr_path = self.path(incr)
            if not self._rename(self.path(self.temp_incr_name), incr_path,
                                "Error trying to rename the temporary AOF incr file %s into %s: %s",
                                self.path(self.temp_incr_name)):
                _unlink(base_path)
                return
            log.notice("Successfully renamed the temporary AOF incr file %s into %s" % (self.temp_incr_name, incr))
        temp.mark_rewritten_incr_as_history(keep_last=self.fd != -1)
        if not self.persist_manifest(temp):
            _unlink(base_path)
            if incr_path:
                _unlink(incr_path)
            self._rewrite_failed()
            return
        self.manifest = temp
        if self.fd != -1:
            self.selected_db = -1
            self.current_size = _size(base_path) + self.last_incr_size
            self.base_size = self.current_size
            self.fsync_offset = self.current_size
            self.last_fsync = int(time.time())
        self.delete_history()
        self.lastbgrewrite_ok = True
        self.consecutive_failures = 0
        log.notice("Background AOF rewrite finished successfully")
        if self.state == WAIT_REWRITE:
            self.state = ON

    def _rename(self, src: str, dst: str, message: str, shown: str) -> bool:
        try:
            os.rename(src, dst)
            return True
        except OSError as exc:
            self.node.log.warning(message % (shown, dst, exc.strerror))
            self._rewrite_failed()
            return False

    def _rewrite_failed(self) -> None:
        self.lastbgrewrite_ok = False
        self.consecutive_failures += 1

    def _rewrite_limited(self) -> bool:
        """aofRewriteLimited: back off 1, 2, 4 ... 60 minutes after 3 failures in a row."""
        if self.consecutive_failures < REWRITE_LIMIT_THRESHOLD:
            self._limit_delay_minutes = 0
            self._limit_until = 0
            return False
        now = int(time.time())
        if self._limit_until:
            if now < self._limit_until:
                return True
            self._limit_until = 0
            return False
        self._limit_delay_minutes = min(max(1, self._limit_delay_minutes * 2), REWRITE_LIMIT_MAX_MINUTES)
        self._limit_until = now + self._limit_delay_minutes * 60
        self.node.log.warning("Background AOF rewrite has repeatedly failed and triggered the limit, will "
                              "retry in %d minutes" % self._limit_delay_minutes)
        return True

    # -- BGREWRITEAOF --------------------------------------------------------------------------
    def bgrewrite_command(self, in_exec: bool) -> bytes:
        """bgrewriteaofCommand's replies."""
        if self.child_pid:
            raise CommandError("Background append only file rewriting already in progress")
        if self._child_active() or in_exec:
            self.rewrite_scheduled = True
            self.consecutive_failures = 0
            return b"+Background append only file rewriting scheduled\r\n"
        if self.rewrite_background():
            return b"+Background append only file rewriting started\r\n"
        raise CommandError("Can't execute an AOF background rewriting. Please check the server logs for more "
                           "information.")

    # -- cron ----------------------------------------------------------------------------------
    def cron(self) -> None:
        """The AOF duties of serverCron: reap the rewrite child, start a scheduled or
        automatic rewrite, retry postponed or failed writes, fsync idle data (everysec)."""
        if self.child_pid:
            try:
                pid, status = os.waitpid(self.child_pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child_pid, 1 << 8
            if pid:
                self._child_done(status)
        if not self._child_active():
            if self.rewrite_scheduled and not self._rewrite_limited():
                self.rewrite_background()
            elif self.state == ON and self._growth_rewrite_due():
                self.rewrite_background()
        if self.state != OFF:
            self.flush()
            if (self.bio.error is not None) != (self.denied is not None and self.write_error is None):
                self._update_denied()

    def _growth_rewrite_due(self) -> bool:
        config = self.node.config
        perc = config["auto-aof-rewrite-percentage"]
        if not perc or self.current_size <= config["auto-aof-rewrite-min-size"]:
            return False
        base = self.base_size or 1
        growth = self.current_size * 100 // base - 100
        if growth >= perc and not self._rewrite_limited():
            self.node.log.notice("Starting automatic rewriting of AOF on %d%% growth" % growth)
            return True
        return False

    # -- turning it on and off (CONFIG SET appendonly) -----------------------------------------
    def _on_appendonly(self, value: bool) -> None:
        if self.node.loop is None:  # startup configuration: load_data_from_disk_steps decides
            return
        if value and self.state == OFF:
            if not self.start():
                raise ConfigError("Unable to turn on AOF. Check server logs.")
        elif not value and self.state != OFF:
            self.stop()

    def start(self) -> bool:
        """startAppendOnly."""
        log = self.node.log
        self.state = WAIT_REWRITE
        if self.node.rdb.in_progress:
            self.rewrite_scheduled = True
            log.warning("AOF was enabled but there is already another background operation. An AOF background "
                        "was scheduled to start when possible.")
        else:
            if self.child_pid:
                log.warning("AOF was enabled but there is already an AOF rewriting in background. Stopping "
                            "background AOF and starting a rewrite now.")
                self.kill_child()
            if not self.rewrite_background():
                self.state = OFF
                log.warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite "
                            "operation. Check the above logs for more info about the error.")
                return False
        self.last_fsync = int(time.time())
        if self.bio.error is not None:
            log.warning("AOF reopen, just ignore the AOF fsync error in bio job")
            self.bio.error = None
        if self.write_error is not None:
            log.warning("AOF reopen, just ignore the last error.")
            self.write_error = None
        self._update_denied()
        self._attach()
        return True

    def restart_after_sync(self) -> bool:
        """restartAOFAfterSYNC, for the replication layer: a replica that loaded its
        master's dataset starts a new AOF from it (stop, then start with a rewrite)."""
        if self.state == OFF:
            return True
        self.stop()
        return self.start()

    def stop(self) -> None:
        """stopAppendOnly."""
        self.flush(True)
        self._release()
        if self.fd != -1:
            try:
                os.fsync(self.fd)
                self.fsync_offset = self.current_size
                self.last_fsync = int(time.time())
            except OSError as exc:
                self.node.log.warning("Fail to fsync the AOF file: %s" % exc.strerror)
            os.close(self.fd)
        self.fd = -1
        self.selected_db = -1
        self.state = OFF
        self.rewrite_scheduled = False
        self.last_incr_size = 0
        self.kill_child()
        self.buf.clear()
        self._detach()
        self._update_denied()

    def refuses_shutdown(self, force: bool) -> bool:
        """finishShutdown's first AOF check: while the *initial* AOF is being written (the
        rewrite that ``CONFIG SET appendonly yes`` started), exiting would leave no usable AOF,
        so SHUTDOWN and SIGTERM are refused unless forced. True (logged) when refused."""
        if not (self.child_pid and self.state == WAIT_REWRITE):
            return False
        log = self.node.log
        if force:
            log.warning("Writing initial AOF. Exit anyway.")
            return False
        log.warning("Writing initial AOF, can't exit.")
        log.warning("Errors trying to shut down the server. Check the logs for more information.")
        return True

    def shutdown(self) -> None:
        """prepareForShutdown's AOF part (and Node.stop): stop a rewrite child, write and
        fsync what is buffered, close the file, end the fsync thread."""
        log = self.node.log
        if self.child_pid:
            log.warning("There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if self.state != OFF and self.fd != -1:
            log.notice("Calling fsync() on the AOF file.")
            self.flush(True)
            self._release()
            try:
                os.fsync(self.fd)
            except OSError as exc:
                log.warning("Fail to fsync the AOF file: %s." % exc.strerror)
            os.close(self.fd)
            self.fd = -1
            self._detach()
        self.bio.stop()

    # -- DEBUG LOADAOF ---------------------------------------------------------------------------
    def debug_loadaof(self) -> None:
        """Flush, empty the dataset, load the AOF again (debug.c). A failure is fatal, as in
        Redis (it exits), since the dataset is gone."""
        node = self.node
        if self.state == ON:
            self.flush(True)
        for db in node.dbs:
            node.db_flushed(db)
            db.flush()
        propagating = self.state != OFF
        if propagating:
            node.remove_propagation_sink(self._sink)
        try:
            self.load_manifest()
            self.delete_history()
            ret = self.load_files()
        except DataLoadError:
            ret = AOF_FAILED
        finally:
            if propagating:
                node.add_propagation_sink(self._sink)
        if ret not in (AOF_OK, AOF_EMPTY, AOF_TRUNCATED, AOF_NOT_EXIST):
            node.log.warning("AOF loading failed: exiting")
            os._exit(1)
        node.log.warning("Append Only File loaded by DEBUG LOADAOF")

    # -- INFO ----------------------------------------------------------------------------------
    def info_fields(self) -> list[tuple[str, object]]:
        """The AOF fields of INFO persistence, in Redis's order; ``extra`` (current sizes and
        buffers) come after module_fork_* and only while the AOF is on."""
        running = bool(self.child_pid)
        ok = self.write_error is None and self.bio.error is None
        return [
            ("aof_enabled", int(self.state != OFF)),
            ("aof_rewrite_in_progress", int(running)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.rewrite_time_last),
            ("aof_current_rewrite_time_sec", int(time.time()) - self.rewrite_time_start if running else -1),
            ("aof_last_bgrewrite_status", "ok" if self.lastbgrewrite_ok else "err"),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            ("aof_last_write_status", "ok" if ok else "err"),
            ("aof_last_cow_size", 0),
        ]

    def info_size_fields(self) -> list[tuple[str, object]]:
        # server.aof_enabled (the appendonly setting), not the state: loading turns that off.
        if not self.node.config["appendonly"]:
            return []
        return [
            ("aof_current_size", self.current_size),
            ("aof_base_size", self.base_size),
            ("aof_pending_rewrite", int(self.rewrite_scheduled)),
            ("aof_buffer_length", len(self.buf)),
            ("aof_pending_bio_fsync", self.bio.pending),
            ("aof_delayed_fsync", self.delayed_fsync),
        ]


# -- replaying commands -------------------------------------------------------------------------


class _UnknownCommand(Exception):
    pass


class _Replayer:
    """The AOF loading client (createAOFClient): runs each command's handler directly, with
    no reply, no gates and no propagation; MULTI ... EXEC is queued and run at EXEC. A
    ``dry`` replayer follows MULTI/EXEC only (the exact reader walking commands already run)."""

    def __init__(self, node, dry: bool = False):
        from ..connection import Client
        from ..dispatch import resolve

        self.node = node
        self.dry = dry
        c = self.client = Client(node)
        c.authenticated = True
        c.deny_blocking = True
        c.addr = "aof"
        self.resolve = resolve
        self.lookup = node.commands.lookup
        self.multi = node.commands.get(b"multi")
        self.exec = node.commands.get(b"exec")
        self.queue: list | None = None

    @property
    def in_multi(self) -> bool:
        return self.queue is not None

    def run(self, argv: list) -> bool:
        """Execute one command; True when it opened a transaction (the point a rollback goes
        back to)."""
        spec = self.lookup.get(argv[0])
        if spec is None or spec.subcommands is not None:
            spec, error = self.resolve(self.node, argv)
            if spec is None:
                raise _UnknownCommand(argv[0].decode("latin-1"))
            if error is not None:
                return False  # an arity error is a reply to the fake client: nothing happens
        else:
            a = spec.arity
            if (len(argv) != a) if a > 0 else (len(argv) < -a):
                return False
        if spec is self.multi:
            if self.queue is None:
                self.queue = []
                return True
            return False  # "MULTI calls can not be nested"
        if spec is self.exec:
            queued, self.queue = self.queue, None
            if queued and not self.dry:
                for qspec, qargv in queued:
                    self._call(qspec, qargv)
            return False
        if self.queue is not None:
            self.queue.append((spec, argv))
        elif not self.dry:
            try:
                spec.handler(self.client, argv)
            except CommandError:
                pass
        return False

    def _call(self, spec, argv: list) -> None:
        try:
            spec.handler(self.client, argv)
        except CommandError:
            pass


#: Bytes fed to hiredis at a time by the fast replay path.
_FAST_CHUNK = 1 << 16
_PROBE = b"*1\r\n$1\r\nx\r\n"


def _replay_fast(buf: bytes, pos: int, runner: _Replayer, progress, offset: int):
    """Run the commands of ``buf[pos:]`` as parsed by hiredis, for as long as each is what
    the exact reader would read too (a non-empty array of bulk strings). Returns how many ran
    and whether that was all of the data, cleanly. A generator of loading steps: yields
    after every REPLAY_SLICE commands or so, ``offset`` + position going to ``progress``."""
    import hiredis

    reader = hiredis.Reader()
    data = memoryview(buf)
    n = len(buf)
    run = runner.run
    count = 0
    pause = REPLAY_SLICE
    try:
        while pos < n:
            reader.feed(data[pos : pos + _FAST_CHUNK])
            pos += _FAST_CHUNK
            while True:
                argv = reader.gets()
                if argv is False:
                    break
                if argv.__class__ is not list or not argv:
                    return count, False
                for a in argv:
                    if a.__class__ is not bytes:
                        return count, False
                run(argv)
                count += 1
            if count >= pause:
                pause = count + REPLAY_SLICE
                progress.loaded_bytes = offset + min(pos, n)
                yield
        # Did the data end on a command boundary? hiredis keeps a half-read reply to itself:
        # a probe command comes back alone only if nothing was pending.
        reader.feed(_PROBE)
        return count, reader.gets() == [b"x"]
    except hiredis.ProtocolError:
        return count, False


# -- small helpers --------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def rewrite_value(key: bytes, value) -> bytes:
    """The commands that rebuild one key (rewriteAppendOnlyFileRio's per-type rewriters)."""
    from ..datatypes.hash import RHash
    from ..datatypes.list import RList
    from ..datatypes.set import RSet
    from ..datatypes.zset import ZSet

    cls = value.__class__
    k = b"$%d\r\n%b\r\n" % (len(key), key)
    if cls is bytes or cls is bytearray:
        return b"*3\r\n$3\r\nSET\r\n%b$%d\r\n%b\r\n" % (k, len(value), value)
    if cls is RList:
        items = list(value.items)  # already in bulk-string form
        return b"".join(
            b"*%d\r\n$5\r\nRPUSH\r\n%b%b" % (2 + len(part), k, b"".join(part)) for part in _chunks(items)
        )
    if cls is RSet:
        members = [_bulk(m) for m in value.ordered()]
        return b"".join(b"*%d\r\n$4\r\nSADD\r\n%b%b" % (2 + len(p), k, b"".join(p)) for p in _chunks(members))
    if cls is ZSet:
        pairs = [_bulk(b"%.17g" % score) + _bulk(member) for member, score in value.items()]
        return b"".join(b"*%d\r\n$4\r\nZADD\r\n%b%b" % (2 + 2 * len(p), k, b"".join(p)) for p in _chunks(pairs))
    if cls is RHash:
        pairs = [_bulk(f) + _bulk(v) for f, v in value.items()]
        return b"".join(b"*%d\r\n$5\r\nHMSET\r\n%b%b" % (2 + 2 * len(p), k, b"".join(p)) for p in _chunks(pairs))
    raise TypeError("cannot rewrite a %s value" % cls.__name__)


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def _chunks(items: list):
    for i in range(0, len(items), ITEMS_PER_CMD):
        yield items[i : i + ITEMS_PER_CMD]


class _SyncingWriter:
    """A file writer that fsyncs every AUTOSYNC_BYTES when asked (rioSetAutoSync)."""

    __slots__ = ("f", "autosync", "unsynced")

    def __init__(self, f, autosync: bool):
        self.f = f
        self.autosync = autosync
        self.unsynced = 0

    def write(self, data) -> None:
        self.f.write(data)
        if self.autosync:
            self.unsynced += len(data)
            if self.unsynced >= AUTOSYNC_BYTES:
                self.f.flush()
                os.fdatasync(self.f.fileno())
                self.unsynced = 0


class _Silent:
    """A logger that drops everything (rate-limited reports)."""

    def warning(self, message: str) -> None:
        pass


_SILENT = _Silent()


def _delay(usec: int) -> None:
    if usec > 0:
        time.sleep(usec / 1e6)
    else:
        for _ in range(-usec):
            pass


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
