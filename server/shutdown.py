"""The shutdown sequence of a node (``node.shutdown_seq``): SHUTDOWN, SIGTERM, SIGINT.

Design note
-----------
This is Redis 7.0's prepareForShutdown / finishShutdown / abortShutdown (server.c), with its
log lines and replies:

* ``request(flags)`` (prepareForShutdown) logs ``User requested shutdown...`` first. When
  replicas are attached and some has not acknowledged ``master_repl_offset`` yet, and neither
  ``now`` nor ``shutdown-timeout 0`` says otherwise, it asks them for an ACK (``REPLCONF
  GETACK``), pauses writes and waits up to ``shutdown-timeout`` seconds: a timer checks, ``hz``
  times a second as serverCron does, whether they caught up or the time is over, then
  finishes. Otherwise it finishes at once.
* ``finish()`` (finishShutdown) reports lagging replicas, refuses while the initial AOF is
  written (unless ``force``), saves the final RDB when asked to or when save points exist
  (a failed save is fatal to the shutdown unless ``force``), removes the pid file, and stops
  the node (``Redis is now ready to exit, bye bye...``).
* A failed finish, or ``abort()`` (SHUTDOWN ABORT), cancels: writes resume and every client
  blocked in SHUTDOWN gets ``-ERR Errors trying to SHUTDOWN. Check logs.``.

The outcome of ``request`` is ``EXITING``, ``WAITING`` (the SHUTDOWN client blocks until the
end) or ``FAILED`` (logged; the caller replies the error). Flags are lowercase words:
``save``, ``nosave``, ``now``, ``force``.
"""

from __future__ import annotations

import os
import time

EXITING = "exiting"
WAITING = "waiting"
FAILED = "failed"

#: What a client blocked in SHUTDOWN hears when the shutdown fails or is aborted.
SHUTDOWN_FAILED = "Errors trying to SHUTDOWN. Check logs."
#: The blocking registry's type for clients blocked in SHUTDOWN (BLOCKED_SHUTDOWN).
BLOCKED_SHUTDOWN = "shutdown"


class Shutdown:
    """See the module docstring."""

    def __init__(self, node):
        self.node = node
        self.flags: frozenset = frozenset()
        #: time.monotonic() when the wait for replicas ends; 0 while none is pending
        #: (server.shutdown_mstime).
        self.deadline = 0.0
        self._timer = None
        self._pause_before = (0.0, False)

    @property
    def pending(self) -> bool:
        return self.deadline != 0.0

    # -- prepareForShutdown ----------------------------------------------------------------
    def request(self, flags) -> str:
        node = self.node
        if self.pending:
            return WAITING
        flags = set(flags)
        if node.loading:  # never overwrite the file with a half-loaded dataset
            flags.discard("save")
            flags.add("nosave")
        self.flags = frozenset(flags)
        node.log.warning("User requested shutdown...")
        if "now" not in flags and node.config["shutdown-timeout"] and not self._replicas_in_sync():
            self._wait_for_replicas()
            return WAITING
        return EXITING if self.finish() else FAILED

    def _replicas(self):
        return self.node.replication.replicas.attached

    def _replicas_in_sync(self) -> bool:
        """isReadyToShutdown: every replica acknowledged the whole stream."""
        offset = self.node.replication.master_repl_offset
        return all(r.ack_off == offset for r in self._replicas())

    def _wait_for_replicas(self) -> None:
        node = self.node
        self.deadline = time.monotonic() + node.config["shutdown-timeout"]
        repl = node.replication
        if not node.pause_end and repl.master_host is None:  # replicationFeedSlaves: masters only
            repl.request_acks()
        self._pause_before = (node.pause_end, node.pause_all)
        node.pause(1 << 40, False)  # writes wait until the end (PAUSE_DURING_SHUTDOWN)
        node.log.notice("Waiting for replicas before shutting down.")
        self._schedule()

    def _schedule(self) -> None:
        hz = max(1, min(500, self.node.config["hz"]))
        self._timer = self.node.loop.call_later(1.0 / hz, self._tick)

    def _tick(self) -> None:
        """serverCron's check of a pending shutdown."""
        self._timer = None
        if not self.pending:
            return
        if time.monotonic() >= self.deadline or self._replicas_in_sync():
            self.finish()  # on failure it cancels (and logs); the server keeps running
        if self.pending:
            self._schedule()

    # -- finishShutdown ----------------------------------------------------------------------
    def finish(self) -> bool:
        """True when the node is stopping; False (logged, cancelled) when it must not."""
        node = self.node
        flags = self.flags
        self._report_replicas()
        if node.aof.refuses_shutdown("force" in flags):  # logs its own lines
            self._cancel()
            return False
        if "save" in flags or (node.config["save"] and "nosave" not in flags):
            if not self._save():
                if "force" not in flags:
                    node.log.warning("Error trying to save the DB, can't exit.")
                    return self._fail()
                node.log.warning("Error trying to save the DB. Exit anyway.")
        self._remove_pidfile()
        self.deadline = 0.0
        node.shutdown()
        return True

    def _report_replicas(self) -> None:
        replicas = self._replicas()
        if not replicas:
            return
        from replication.master import ONLINE, STATE_NAMES

        offset = self.node.replication.master_repl_offset
        now = int(time.time())
        lagging = 0
        for r in replicas:
            if r.ack_off != offset:
                lagging += 1
                lag = now - r.ack_time if r.state == ONLINE else 0
                self.node.log.warning(
                    "Lagging replica %s reported offset %d behind master, lag=%d, state=%s."
                    % (r.name, offset - r.ack_off, lag, STATE_NAMES.get(r.state, r.state)))
        self.node.log.notice("%d of %d replicas are in sync when shutting down."
                             % (len(replicas) - lagging, len(replicas)))

    def _save(self) -> bool:
        try:
            return self.node.rdb.save_for_shutdown() is not False
        except Exception as exc:  # a bug here must not make the server unstoppable
            self.node.log.warning("Error saving the DB before shutdown: %r" % exc)
            return False

    def _remove_pidfile(self) -> None:
        pidfile = self.node.config["pidfile"]
        if pidfile and os.path.exists(pidfile):
            self.node.log.notice("Removing the pid file.")
            try:
                os.unlink(pidfile)
            except OSError:
                pass

    def _fail(self) -> bool:
        self.node.log.warning("Errors trying to shut down the server. Check the logs for more information.")
        self._cancel()
        return False

    # -- cancelShutdown / abortShutdown --------------------------------------------------------
    def abort(self) -> bool:
        """SHUTDOWN ABORT: False when no shutdown is pending."""
        if not self.pending:
            return False
        self._cancel()
        self.node.log.notice("Shutdown manually aborted.")
        return True

    def _cancel(self) -> None:
        node = self.node
        was_pending = self.pending
        self.deadline = 0.0
        self.flags = frozenset()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._reply_to_blocked()
        if was_pending:  # unpauseClients(PAUSE_DURING_SHUTDOWN): an earlier pause goes on
            end, pause_all = self._pause_before
            if end and end > time.monotonic():
                node.pause_end, node.pause_all = end, pause_all
                node.recompute_gates()
            else:
                node.unpause()

    def _reply_to_blocked(self) -> None:
        """replyToClientsBlockedOnShutdown."""
        from .dispatch import count_error
        from .errors import err

        node = self.node
        for c in list(node.clients.values()):
            waiter = c.block
            if waiter is not None and waiter.redis_type == BLOCKED_SHUTDOWN:
                reply = err(SHUTDOWN_FAILED)
                count_error(node, reply)
                node.blocking.finish(c, reply)
