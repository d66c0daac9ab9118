"""The master's side of FAILOVER: hand the master role to a replica without losing writes.

Design note
-----------
``Failover`` (``node.replication.failover``) is Redis 7.0's failover state machine
(replication.c failoverCommand, updateFailoverStatus, abortFailover, clearFailoverState):

``no-failover``           nothing going on;
``waiting-for-sync``      client writes are paused; we wait until the target replica (or,
                          without TO, any replica) has acknowledged our whole stream
                          (``ack_off == master_repl_offset``). A TIMEOUT aborts the failover
                          -- or, with FORCE, goes on regardless;
``failover-in-progress``  we became a replica of the target (``Replication.set_master``);
                          its handshake sends ``PSYNC <replid> <offset> FAILOVER``
                          (replication/handshake.py), which makes the target promote itself.
                          A ``+CONTINUE``/``+FULLRESYNC`` reply ends the failover (writes
                          resume -- and get READONLY now); any other reply aborts it and we
                          become a master again.

``update`` is Redis's updateFailoverStatus: it runs with the node's cron (hz times a
second, for the timeout) and right after an ACK arrives (scheduled, as Redis runs it
before sleeping: the switch disconnects clients). The write pause rides on the node's
CLIENT PAUSE (``node.pause``): a pause that lasts until the failover ends, re-asserted if
CLIENT UNPAUSE lifts it meanwhile; a client pause that was running before the failover is
restored when it ends.
"""

from __future__ import annotations

import time

NO_FAILOVER = "no-failover"
WAIT_FOR_SYNC = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"

#: How long the failover's write pause lasts on the node's clock: until we lift it.
_FOREVER_MS = 10**12


class Failover:
    """See the module docstring."""

    def __init__(self, repl):
        self.repl = repl
        self.node = repl.node
        self.state = NO_FAILOVER
        self.host: str | None = None  # target_replica_host (None: any replica, until chosen)
        self.port = 0
        self.end_ms = 0  # failover_end_time (0: no TIMEOUT)
        self.force = False
        self._prior_pause = (0.0, False)
        self._update_scheduled = False

    @property
    def in_progress(self) -> bool:
        return self.state == IN_PROGRESS

    # -- starting ---------------------------------------------------------------------------
    def start(self, host: str | None, port: int, timeout_ms: int, force: bool) -> None:
        """failoverCommand's end, once the arguments were accepted."""
        node = self.node
        if host is not None:
            self.host, self.port = host, port
            node.log.notice("FAILOVER requested to %s:%d." % (host, port))
        else:
            node.log.notice("FAILOVER requested to any replica.")
        if timeout_ms:
            self.end_ms = int(time.time() * 1000) + timeout_ms
        self.force = force
        self.state = WAIT_FOR_SYNC
        self._prior_pause = (node.pause_end, node.pause_all)
        node.pause(_FOREVER_MS, False)

    # -- progress -------------------------------------------------------------------------------
    def schedule_update(self) -> None:
        """An ACK arrived: check once this event is handled (never inside the ACK itself)."""
        if self.state == WAIT_FOR_SYNC and not self._update_scheduled and self.node.loop is not None:
            self._update_scheduled = True
            self.node.loop.call_soon(self._scheduled_update)

    def _scheduled_update(self) -> None:
        self._update_scheduled = False
        self.update()

    def update(self) -> None:
        """updateFailoverStatus."""
        if self.state != WAIT_FOR_SYNC:
            return
        node = self.node
        repl = self.repl
        if not node.pause_end:  # CLIENT UNPAUSE cannot end a failover's pause
            node.pause(_FOREVER_MS, False)
        if self.end_ms and self.end_ms <= int(time.time() * 1000):
            if self.force:
                node.log.notice("FAILOVER to %s:%d time out exceeded, failing over." % (self.host, self.port))
                self._switch()
            else:
                self.abort("Replica never caught up before timeout")
            return
        offset = repl.master_repl_offset
        if self.host is not None:
            replica = repl.replicas.find(self.host, self.port)
        else:
            replica = next((r for r in repl.replicas.attached if r.ack_off == offset), None)
            if replica is not None:
                self.host, self.port = replica.address, replica.port
        if replica is not None and replica.ack_off == offset:
            node.log.notice("Failover target %s:%d is synced, failing over." % (self.host, self.port))
            self._switch()

    def _switch(self) -> None:
        self.state = IN_PROGRESS
        self.repl.set_master(self.host, self.port)

    # -- the end ----------------------------------------------------------------------------------
    def psync_answered(self) -> None:
        """The target accepted our PSYNC ... FAILOVER (partial or full): we are its replica."""
        if self.state == IN_PROGRESS:
            self.clear()

    def abort(self, reason: str) -> None:
        """abortFailover."""
        if self.state == NO_FAILOVER:
            return
        log = self.node.log
        if self.host is not None:
            log.notice("FAILOVER to %s:%d aborted: %s" % (self.host, self.port, reason))
        else:
            log.notice("FAILOVER to any replica aborted: %s" % reason)
        if self.state == IN_PROGRESS:
            self.repl.unset_master()
        self.clear()

    def clear(self) -> None:
        """clearFailoverState: forget the target and lift the write pause."""
        self.state = NO_FAILOVER
        self.host = None
        self.port = 0
        self.end_ms = 0
        self.force = False
        node = self.node
        prior_end, prior_all = self._prior_pause
        self._prior_pause = (0.0, False)
        node.unpause()
        remaining_ms = (prior_end - time.monotonic()) * 1000
        if prior_end and remaining_ms > 0:
            node.pause(int(remaining_ms), prior_all)  # a CLIENT PAUSE from before goes on
