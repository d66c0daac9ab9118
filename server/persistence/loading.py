"""Loading the dataset at startup while the node already answers (``node.loading``).

Design note
-----------
Redis listens before it loads: while the RDB file or the AOF is read, clients get
``-LOADING`` for every command without the ``loading`` flag (the dispatcher's gate) and
INFO persistence shows ``loading:1`` with the ``loading_*`` progress fields.

The loaders (snapshots.py, aof.py) are written once, as generators of *steps*:

* ``yield None`` -- a slice of work is done: let the event loop answer clients (the AOF
  replay yields every REPLAY_SLICE commands);
* ``yield fn`` -- run ``fn()`` (reading and parsing a whole RDB file) and send back its
  result, or throw its exception into the generator.

``run_steps`` drives such a generator synchronously (DEBUG LOADAOF, DEBUG RELOAD: Redis
blocks there too); ``run_steps_async`` drives it at startup: ``fn`` runs on a daemon
thread (the parse builds a LoadResult of its own, nothing shared with the loop; the loop
thread installs it), and the loop runs between slices. ``Progress`` is what INFO reports;
its ``abandoned`` flag (the node stopped while loading) makes the worker give up.
"""

from __future__ import annotations

import asyncio
import threading
import time

#: AOF commands replayed between two turns of the event loop.
REPLAY_SLICE = 4096


class LoadAbandoned(Exception):
    """The node stopped while its dataset was still being loaded."""


class Progress:
    """startLoading / loadingAbsProgress / stopLoading: the loading_* INFO fields."""

    def __init__(self):
        self.start_time = 0
        self.total_bytes = 0
        self.loaded_bytes = 0
        self.rdb_used_mem = 0
        self.abandoned = False

    def begin(self, node, total_bytes: int) -> None:
        self.start_time = int(time.time())
        self.total_bytes = total_bytes
        self.loaded_bytes = 0
        self.rdb_used_mem = 0
        self.abandoned = False
        node.loading = True
        node.recompute_gates()

    def end(self, node) -> None:
        """Loading is over, done or given up: a worker still parsing stops at its next call."""
        self.abandoned = True
        node.loading = False
        node.recompute_gates()

    def rdb_callback(self, base: int, snapshots):
        """The parser's progress callback for an RDB read from offset ``base`` on (runs on
        the worker thread): bytes, keys so far, the file's used-mem AUX field."""

        def progress(pos: int, result) -> None:
            if self.abandoned:
                raise LoadAbandoned()
            self.loaded_bytes = base + pos
            snapshots.keys_loaded = result.keys_loaded
            if not self.rdb_used_mem:
                self.note_aux(result)

        return progress

    def note_aux(self, result) -> None:
        """The used-mem AUX field of a parsed RDB (loading_rdb_used_mem)."""
        used = result.aux.get(b"used-mem")
        if used is not None and used.isdigit():
            self.rdb_used_mem = int(used)

    def info_fields(self) -> list:
        """The fields genRedisInfoString adds while loading."""
        total, loaded = self.total_bytes, self.loaded_bytes
        perc = loaded / total * 100 if total else 0.0
        remaining = total - loaded if total else 1
        elapsed = int(time.time()) - self.start_time
        eta = 1 if elapsed <= 0 else elapsed * remaining // (loaded + 1)
        return [
            ("loading_start_time", self.start_time),
            ("loading_total_bytes", total),
            ("loading_rdb_used_mem", self.rdb_used_mem),
            ("loading_loaded_bytes", loaded),
            ("loading_loaded_perc", "%.2f" % perc),
            ("loading_eta_seconds", eta),
        ]


def _resume(gen, value, error):
    """Resume a loader generator with the last step's value or error: ``(False, next
    step)``, or ``(True, its return value)`` once it is done."""
    try:
        return False, (gen.throw(error) if error is not None else gen.send(value))
    except StopIteration as stop:
        return True, stop.value


def run_steps(gen):
    """Drive a loader generator on the calling thread; its return value."""
    value = error = None
    while True:
        done, step = _resume(gen, value, error)
        if done:
            return step
        value = error = None
        if step is not None:
            try:
                value = step()
            except Exception as exc:
                error = exc


async def run_steps_async(gen):
    """Drive a loader generator on the running loop, ``fn`` steps on a worker thread.
    Cancelled (the node stops), it closes the generator: its ``finally`` clauses end the
    loading state."""
    try:
        return await _drive(gen)
    except asyncio.CancelledError:
        gen.close()
        raise


async def _drive(gen):
    value = error = None
    while True:
        done, step = _resume(gen, value, error)
        if done:
            return step
        value = error = None
        if step is None:
            await asyncio.sleep(0)
            continue
        try:
            value = await in_thread(step)
        except Exception as exc:
            error = exc


async def in_thread(fn):
    """``fn()`` on a daemon thread (an abandoned load never keeps the process alive)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(value, error) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = fn(), None
        except BaseException as exc:  # handed to the loop thread
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=work, name="vermilion-loading", daemon=True).start()
    return await future
