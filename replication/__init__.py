"""Master-replica replication: the PSYNC protocol of Redis 7.0, in both roles.

What lives where
----------------
``backlog.py``   the backlog: the stream's most recent bytes by offset (pure)
``psync.py``     the master's PSYNC decision: continue from the backlog, or resync (pure)
``handshake.py`` the replica's handshake and payload reader as a sans-IO state machine (pure)
``rdbinfo.py``   the replication AUX fields of RDB files (repl-stream-db, repl-id, repl-offset)
``manager.py``   ``Replication`` (``node.replication``): IDs, offsets, the backlog, the
                 propagation sink, role changes, the dispatcher's gates, the cron
``master.py``    the master side: SYNC/PSYNC, replicas' states and buffers, output limits,
                 ACKs, WAIT, min-replicas
``transfer.py``  full-sync payloads written by a forked child: disk (BGSAVE) and diskless
``replica.py``   the replica side: the link to our master, loading its payload, applying
                 and proxying its stream, ACKs
``failover.py``  the master's FAILOVER state machine: pause writes, wait for the target's
                 ACK, demote ourselves with ``PSYNC ... FAILOVER``, or abort
``report.py``    INFO replication and ROLE

The commands (REPLICAOF/SLAVEOF, SYNC, PSYNC, REPLCONF ACK/GETACK, WAIT, ROLE, FAILOVER) are in
``server/commands/replication.py``; the node creates ``Replication`` and calls it from its
cron, its gates and its startup (``server/node.py``). Only public pieces of ``server`` are
used: the client connection, the dispatcher through ``node.call``, the snapshot machinery
(``node.rdb``), the blocking framework, the config and the log.
"""

from . import report  # noqa: F401  (registers INFO's replication section)
from .manager import Replication

__all__ = ["Replication"]
