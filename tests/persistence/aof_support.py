"""Helpers for the AOF and crash tests: ``python -m server`` and ``redis-server`` processes on
a data directory of the test's choosing, startups that must fail, a reader of AOF
directories, and a write load from several clients that records every acknowledgement.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.servers import REDIS_SERVER, free_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
REDIS_CHECK_AOF = shutil.which("redis-check-aof") or "/usr/bin/redis-check-aof"
START_TIMEOUT = 20.0


def client(port: int, db: int = 0, **kw) -> redis.Redis:
    """A redis-py client that does not retry: redis-py 8 retries a failed connection ten
    times with backoff, which turns "the server is gone" into seconds of waiting."""
    kw.setdefault("socket_timeout", 10)
    return redis.Redis(port=port, db=db, retry=Retry(NoBackoff(), 0), **kw)


class ServerProcess:
    """A server subprocess; ``log()`` reads its log file."""

    def __init__(self, kind: str, port: int, proc: subprocess.Popen, logfile: Path):
        self.kind, self.port, self.proc, self.logfile = kind, port, proc, logfile

    def client(self, db: int = 0, **kw) -> redis.Redis:
        return client(self.port, db, **kw)

    def log(self) -> str:
        """The log file, then anything the process wrote on stderr."""
        text = ""
        for path in (self.logfile, Path(str(self.logfile) + ".stderr")):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                pass
        return text

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (an orderly shutdown), then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


def _command(kind: str, port: int, directory, logfile, args) -> list[str]:
    common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--logfile", str(logfile),
              "--save", "", "--enable-debug-command", "yes", *[str(a) for a in args]]
    if kind == "redis":
        return [REDIS_SERVER, *common]
    return [sys.executable, "-m", "server", *common]


def spawn(kind: str, directory, *args, logname: str | None = None) -> ServerProcess:
    """Start ``kind`` ("redis" or "vermilion") on ``directory`` without waiting."""
    port = free_port()
    logfile = Path(directory).parent / (logname or "%s-%d.log" % (kind, port))
    with open(str(logfile) + ".stderr", "wb") as err:  # tracebacks, if any
        proc = subprocess.Popen(_command(kind, port, directory, logfile, args), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err)
    return ServerProcess(kind, port, proc, logfile)


def wait_ready(sp: ServerProcess, timeout: float = START_TIMEOUT) -> None:
    """Until PING answers (not -LOADING); fails with the log if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if sp.proc.poll() is not None:
            raise AssertionError("%s exited with %s:\n%s" % (sp.kind, sp.proc.returncode, sp.log()[-3000:]))
        try:
            r = sp.client()
            try:
                if r.ping():
                    return
            finally:
                r.close()
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            pass
        if time.monotonic() > deadline:
            sp.kill9()
            raise AssertionError("%s did not start:\n%s" % (sp.kind, sp.log()[-3000:]))
        time.sleep(0.03)


def ready_or_exited(sp: ServerProcess, timeout: float = START_TIMEOUT) -> bool:
    """Wait until the server answers PING (True) or exits (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sp.proc.poll() is not None:
            return False
        try:
            r = sp.client()
            try:
                if r.ping():
                    return True
            finally:
                r.close()
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            pass
        time.sleep(0.03)
    raise AssertionError("%s neither started nor exited:\n%s" % (sp.kind, sp.log()[-3000:]))


@contextmanager
def server(kind: str, directory, *args):
    """A running server on ``directory``; stopped (SIGTERM) at the end."""
    sp = spawn(kind, directory, *args)
    try:
        wait_ready(sp)
        yield sp
    finally:
        sp.stop()


def failed_start(kind: str, directory, *args, timeout: float = START_TIMEOUT) -> tuple[int, str]:
    """Start ``kind`` on ``directory`` expecting it to refuse: (exit status, log)."""
    sp = spawn(kind, directory, *args)
    try:
        sp.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        sp.kill9()
        raise AssertionError("%s started although it should not have:\n%s" % (kind, sp.log()[-3000:]))
    return sp.proc.returncode, sp.log()


def log_messages(log: str) -> list[str]:
    """The messages of a Redis-format log (``pid:R date time mark message``), without the
    prefix; multi-line messages are kept whole."""
    out = []
    for line in log.splitlines():
        m = re.match(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.\-*#] (.*)$", line)
        if m:
            out.append(m.group(1))
        elif out:
            out[-1] += "\n" + line
    return out


def check_aof(path, *options: str) -> subprocess.CompletedProcess:
    """redis-check-aof (``--fix`` gets its confirmation)."""
    return subprocess.run([REDIS_CHECK_AOF, *options, str(path)], capture_output=True, text=True, timeout=60,
                          input="y\n")


def manifest_lines(aof_dir) -> list[str]:
    return Path(aof_dir, "appendonly.aof.manifest").read_text().splitlines()


def incr_files(aof_dir) -> list[Path]:
    """The incr files listed in the manifest, in order."""
    names = [line.split()[1] for line in manifest_lines(aof_dir) if line.endswith("type i")]
    return [Path(aof_dir, n) for n in names]


def wait_rewrite_done(r: redis.Redis, timeout: float = 20.0) -> dict:
    """Until no AOF rewrite runs or is scheduled; returns INFO persistence."""
    def done():
        i = r.info("persistence")
        return i if not i["aof_rewrite_in_progress"] and not i["aof_rewrite_scheduled"] else None

    return wait_for(done, timeout, what="the AOF rewrite")


class WriteLoad:
    """Several clients writing unique keys (``w<client>:<n>`` -> ``<n>``) as fast as they
    can, each recording the monotonic time of every acknowledged write, until ``stop()``
    or until the server dies. ``acked`` maps key -> acknowledgement time."""

    def __init__(self, port: int, clients: int = 4, pipeline: int = 1, payload: int = 16):
        self.port = port
        self.clients = clients
        self.pipeline = pipeline
        self.payload = b"x" * payload
        self.acked: dict[bytes, float] = {}
        self.sent: set[bytes] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def start(self) -> WriteLoad:
        for t in self._threads:
            t.start()
        return self

    def _run(self, ident: int) -> None:
        r = client(self.port, socket_timeout=5)
        n = 0
        try:
            while not self._stop.is_set():
                keys = [b"w%d:%d" % (ident, n + i) for i in range(self.pipeline)]
                n += self.pipeline
                with self._lock:
                    self.sent.update(keys)
                if self.pipeline == 1:
                    r.set(keys[0], self.payload + keys[0])
                else:
                    p = r.pipeline(transaction=False)
                    for k in keys:
                        p.set(k, self.payload + k)
                    p.execute()
                now = time.monotonic()
                with self._lock:
                    for k in keys:
                        self.acked[k] = now
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass  # the server was killed
        finally:
            r.close()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def wait_acked(self, count: int, timeout: float = 20.0) -> None:
        wait_for(lambda: len(self.acked) >= count, timeout, what="%d acknowledged writes" % count)


def present_keys(r: redis.Redis, keys) -> set[bytes]:
    """Which of ``keys`` exist (and hold the value WriteLoad wrote)."""
    keys = list(keys)
    found = set()
    for i in range(0, len(keys), 1000):
        part = keys[i : i + 1000]
        for k, v in zip(part, r.mget(part)):
            if v is not None:
                assert v.endswith(k), "key %r holds %r" % (k, v)
                found.add(k)
    return found


def file_size(path) -> int:
    return os.stat(path).st_size


# -- system calls, as strace sees them -----------------------------------------------------------

STRACE = shutil.which("strace") or "/usr/bin/strace"
#: The calls the fsync-policy tests follow: data in from clients, replies out, AOF writes and syncs.
TRACED_CALLS = "read,recvfrom,write,writev,sendto,sendmsg,fsync,fdatasync"
_SYSCALL = re.compile(r"^(\d+) +(\w+)\((\d+)<([^>]*)>(.*)$")
_RESULT = re.compile(r"= (-?\d+)")


class Syscall:
    """One traced call: thread id, name, the fd's target (``socket:[...]`` or a path), the
    rest of the line as strace printed it (data shown up to 24 bytes, escaped) and the
    result (None while unfinished)."""

    __slots__ = ("tid", "name", "target", "args", "result")

    def __init__(self, tid: int, name: str, target: str, args: str, result: int | None):
        self.tid, self.name, self.target, self.args, self.result = tid, name, target, args, result

    @property
    def on_socket(self) -> bool:
        return self.target.startswith("socket:")

    @property
    def on_incr_file(self) -> bool:
        return self.target.endswith(".incr.aof")

    def __repr__(self) -> str:
        return "%d %s(%s) = %s" % (self.tid, self.name, self.target, self.result)


def spawn_traced(kind: str, directory, trace_file, *args) -> ServerProcess:
    """``spawn`` under ``strace -f`` (every thread; seccomp-bpf so untraced calls run at full
    speed; ``-y`` names each fd's file or socket). The ServerProcess's ``proc`` is strace's:
    SIGKILL it and the server dies with it."""
    port = free_port()
    logfile = Path(directory).parent / ("%s-%d.log" % (kind, port))
    command = [STRACE, "-f", "--seccomp-bpf", "-y", "-s", "24", "-e", "trace=" + TRACED_CALLS, "-o", str(trace_file),
               *_command(kind, port, directory, logfile, args)]
    with open(str(logfile) + ".stderr", "wb") as err:
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    return ServerProcess(kind, port, proc, logfile)


def read_trace(trace_file) -> list[Syscall]:
    """The calls on file descriptors, in the order strace saw them start (an
    ``<unfinished ...>`` line counts at its start; its ``resumed`` half is skipped)."""
    calls = []
    for line in Path(trace_file).read_text(errors="replace").splitlines():
        m = _SYSCALL.match(line)
        if m is None:
            continue
        rest = m.group(5)
        results = _RESULT.findall(rest) if "<unfinished" not in rest else []
        calls.append(Syscall(int(m.group(1)), m.group(2), m.group(4), rest, int(results[-1]) if results else None))
    return calls


def traced_child_pid(sp: ServerProcess) -> int:
    """The server under ``spawn_traced``'s strace (strace's only child)."""
    pid = sp.proc.pid
    children = wait_for(lambda: Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split(),
                          what="strace to start the server")
    return int(children[0])


def kill_traced(sp: ServerProcess) -> None:
    """SIGKILL the traced server (not strace: a dead tracer would only detach), then wait
    for strace to write its last lines and exit."""
    try:
        os.kill(traced_child_pid(sp), signal.SIGKILL)
    except (ProcessLookupError, AssertionError, OSError):
        pass
    try:
        sp.proc.wait(20)
    except subprocess.TimeoutExpired:
        sp.kill9()
