"""Full synchronisation payloads: the RDB a replica receives, written by a forked child.

Design note
-----------
Two ways, as in Redis (startBgsaveForReplication):

* ``DiskTransfer`` -- repl-diskless-sync no, or a replica without ``capa eof``: an ordinary
  BGSAVE of ``dir/dbfilename`` through the snapshot machinery (``node.rdb.request_rdb``:
  the fork happens at once since we only ask while no child runs); when it ends, each
  replica gets ``$<len>\\r\\n`` and the file's bytes.
* ``SocketTransfer`` -- diskless: a child of our own writes ``$EOF:<mark>\\r\\n``, the RDB
  and the mark into a pipe; the parent's event loop relays what it reads to every replica
  of the transfer (rdbSaveToSlavesSockets + rdbPipeReadHandler). Reading the pipe pauses
  while a replica's socket buffer is full, so one slow replica slows the child down instead
  of growing our memory. The child's exit status says whether the payload is complete.

Either way the dataset is the child's copy-on-write image at the fork, which is the moment
the replicas' ``+FULLRESYNC <replid> <offset>`` was taken: every write after it is in their
stream buffers (replication/master.py).
"""

from __future__ import annotations

import gc
import os
import signal
import time

from server.forking import before_fork, detach_child

#: How much of the pipe is read at once.
_READ_SIZE = 1 << 20
#: Stop reading the pipe while a replica has more than this unsent (and resume below half).
_HIGH_WATER = 8 << 20
#: How often a paused relay checks the replicas' buffers again, and a finished one the child.
_POLL = 0.005


class DiskTransfer:
    """An RDB file written by BGSAVE for the replicas in ``targets`` (see the module docstring)."""

    kind = "disk"

    def __init__(self, node, on_done):
        self.node = node
        self.on_done = on_done  # on_done(transfer, ok, payload bytes or None)
        self.targets: list = []
        self.pid = 0

    def start(self) -> bool:
        rdb = self.node.rdb
        if rdb.in_progress:
            return False
        rdb.request_rdb(self._done)
        if not rdb.in_progress or self._done in rdb.waiters:
            return False  # the fork failed (request_rdb already told _done)
        self.pid = rdb.child_pid
        return True

    def _done(self, ok: bool, path: str) -> None:
        if not self.pid:
            return  # the fork failed inside start(), which reports it
        payload = None
        if ok:
            try:
                with open(path, "rb") as f:
                    payload = f.read()
            except OSError as exc:
                self.node.log.warning("SYNC failed. Can't open/stat DB after BGSAVE: %s" % exc.strerror)
                ok = False
        self.on_done(self, ok, payload)

    @property
    def running(self) -> bool:
        return bool(self.pid) and self.node.rdb.child_pid == self.pid

    def kill(self) -> None:
        """Nothing to do: the BGSAVE belongs to the snapshot machinery and its file is kept."""


class SocketTransfer:
    """A diskless transfer: see the module docstring."""

    kind = "socket"

    def __init__(self, node, targets: list, mark: bytes, data: bool, functions: bool, on_done):
        self.node = node
        self.targets = targets
        self.mark = mark
        self.data = data
        self.functions = functions
        self.on_done = on_done  # on_done(transfer, ok)
        self.pid = 0
        self._fd = -1
        self._reading = False
        self._eof = False
        self.sent = 0
        self.started = 0.0

    # -- the child ---------------------------------------------------------------------------
    def start(self) -> bool:
        node = self.node
        try:
            rfd, wfd = os.pipe()
        except OSError as exc:
            node.log.warning("Can't save in background: pipe: %s" % exc.strerror)
            return False
        before_fork()  # the child must not repeat unflushed output
        start = time.perf_counter()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(rfd)
            os.close(wfd)
            node.log.warning("Can't save in background: fork: %s" % exc.strerror)
            return False
        if pid == 0:
            os.close(rfd)
            self._child(wfd)  # never returns
        os.close(wfd)
        stats = node.stats
        stats.total_forks += 1
        stats.latest_fork_usec = int((time.perf_counter() - start) * 1_000_000)
        self.pid = pid
        self.started = time.time()
        self._fd = rfd
        os.set_blocking(rfd, False)
        node.log.notice("Background RDB transfer started by pid %d" % pid)
        self._resume()
        return True

    def _child(self, fd: int) -> None:
        code = 1
        try:
            gc.disable()  # no finalizers of the parent's objects may run here
            detach_child(self.node)
            os.set_blocking(fd, True)

            def write(chunk) -> None:
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]

            write(b"$EOF:" + self.mark + b"\r\n")
            self.node.rdb.write_snapshot(write, data=self.data, functions=self.functions)
            write(self.mark)
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)

    # -- the relay ----------------------------------------------------------------------------
    def _resume(self) -> None:
        if not self._reading and self._fd >= 0:
            self.node.loop.add_reader(self._fd, self._readable)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self.node.loop.remove_reader(self._fd)
            self._reading = False
            self.node.loop.call_later(_POLL, self._check_drained)

    def _check_drained(self) -> None:
        if self._fd < 0:
            return
        if all(r.transport_buffered() < _HIGH_WATER // 2 for r in self.targets):
            self._resume()
        else:
            self.node.loop.call_later(_POLL, self._check_drained)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pipe()
            self._eof = True
            self.node.log.warning(
                "Diskless rdb transfer, done reading from pipe, %d replicas still up." % len(self.targets)
            )
            self.reap()
            return
        self.sent += len(data)
        for r in self.targets:
            r.write(data)
        if any(r.transport_buffered() > _HIGH_WATER for r in self.targets):
            self._pause()

    def _close_pipe(self) -> None:
        if self._fd >= 0:
            if self._reading:
                self.node.loop.remove_reader(self._fd)
                self._reading = False
            os.close(self._fd)
            self._fd = -1

    def reap(self) -> None:
        """Collect the child once the pipe is drained; report the outcome."""
        if not self.pid or not self._eof:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 1 << 8
        if not pid:
            self.node.loop.call_later(_POLL, self.reap)
            return
        self.pid = 0
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if ok:
            self.node.log.notice("Background RDB transfer terminated with success")
        elif os.WIFEXITED(status):
            self.node.log.warning("Background transfer error")
        else:
            self.node.log.warning("Background transfer terminated by signal %d" % os.WTERMSIG(status))
        self.on_done(self, ok)

    @property
    def running(self) -> bool:
        return bool(self.pid)

    def drop_target(self, replica) -> None:
        """A replica of this transfer went away; with none left the child is killed."""
        if replica in self.targets:
            self.targets.remove(replica)
        if not self.targets and self.pid:
            self.node.log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
            self.kill()

    def kill(self) -> None:
        self._close_pipe()
        pid, self.pid = self.pid, 0
        if pid:
            try:
                os.kill(pid, signal.SIGUSR1)
                os.waitpid(pid, 0)
            except OSError:
                pass
