"""Replication commands: REPLICAOF/SLAVEOF, SYNC, PSYNC, REPLCONF ACK/GETACK, WAIT, ROLE, FAILOVER.

Design note
-----------
Thin handlers over ``node.replication`` (the ``replication`` package), with Redis 7.0.15's
argument checks and texts (replication.c replicaofCommand, syncCommand, replconfCommand,
waitCommand, roleCommand, failoverCommand). FAILOVER only checks its arguments here; the
state machine is replication/failover.py.

REPLCONF itself is in ``persistence.py`` (the options a SYNC client announces); this module
replaces its ``ack`` and ``getack`` options through ``REPLCONF_OPTIONS``. SYNC is taken over
from that module: an ``rdb-only`` client (``redis-cli --rdb``) is still served by the
snapshot-only SYNC there; everyone else becomes a replica here, which takes the registry
entry over (``REGISTRY["sync"]``, one line below; ``persistence`` is imported first so the
order of COMMAND_MODULES does not matter).
"""

from __future__ import annotations

from protocol import encoder as enc
from protocol.encoder import OK
from replication.failover import NO_FAILOVER
from replication.master import ONLINE

from .. import errors as E
from ..clientinfo import info_line
from ..errors import CommandError
from . import persistence
from .args import parse_int
from .persistence import REPLCONF_OPTIONS, replica_request
from .spec import REGISTRY, command

WAIT_ON_REPLICA = (
    "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is "
    "configured to be writable (which is not the default) writes to replicas are just local and are not "
    "propagated."
)
_TIMEOUT_NOT_INTEGER = "timeout is not an integer or out of range"


# -- REPLICAOF / SLAVEOF ----------------------------------------------------------------------------


@command("replicaof")
def replicaof(c, argv):
    node = c.node
    repl = node.replication
    if node.config["cluster-enabled"]:
        raise CommandError("REPLICAOF not allowed in cluster mode.")
    if repl.failover.state != NO_FAILOVER:
        raise CommandError("REPLICAOF not allowed while failing over.")
    host, port_arg = argv[1], argv[2]
    if host.lower() == b"no" and port_arg.lower() == b"one":
        if repl.master_host is not None:
            repl.unset_master()
            node.log.notice("MASTER MODE enabled (user request from '%s')" % info_line(c, c, argv))
        return OK
    if c.is_replica:
        raise CommandError("Command is not valid when client is a replica.")
    port = parse_int(port_arg)
    if port is None or not 0 <= port <= 65535:
        raise CommandError("Invalid master port")
    host_text = host.decode("latin-1")
    if repl.master_host is not None and repl.master_host.lower() == host_text.lower() and repl.master_port == port:
        node.log.notice("REPLICAOF would result into synchronization with the master we are already connected "
                        "with. No operation performed.")
        return b"+OK Already connected to specified master\r\n"
    repl.set_master(host_text, port)
    node.log.notice("REPLICAOF %s:%d enabled (user request from '%s')" % (host_text, port, info_line(c, c, argv)))
    return OK


@command("slaveof")
def slaveof(c, argv):
    return replicaof(c, argv)


# -- SYNC / PSYNC -------------------------------------------------------------------------------------


def sync(c, argv):
    """SYNC: a full synchronisation without replication IDs (old replicas, redis-cli)."""
    if replica_request(c).rdb_only and not c.is_replica:
        return persistence.sync(c, argv)  # an RDB and nothing else: the snapshot-only SYNC
    return c.node.replication.replicas.sync(c, argv, replica_request(c))


REGISTRY["sync"] = (sync, REGISTRY["sync"][1])


@command("psync")
def psync(c, argv):
    return c.node.replication.replicas.sync(c, argv, replica_request(c))


# -- REPLCONF ACK / GETACK ------------------------------------------------------------------------------


def _opt_ack(c, req, value):
    """REPLCONF ACK <offset> [FACK <offset>]: a replica's applied offset; never a reply."""
    if c.is_replica:
        c.node.replication.replicas.ack(c, value)
    return b""


def _opt_getack(c, req, value):
    """REPLCONF GETACK *: our master wants our offset now (before this command's bytes)."""
    repl = c.node.replication
    if repl.master_host is not None and c.is_master:
        link = repl.upstream.link
        if link is not None:
            link.send_ack()
    return b""


REPLCONF_OPTIONS[b"ack"] = _opt_ack
REPLCONF_OPTIONS[b"getack"] = _opt_getack


# -- WAIT -----------------------------------------------------------------------------------------------


@command("wait")
def wait(c, argv):
    node = c.node
    repl = node.replication
    if repl.master_host is not None:
        raise CommandError(WAIT_ON_REPLICA)
    numreplicas = parse_int(argv[1])
    if numreplicas is None:
        raise CommandError(E.NOT_INTEGER)
    timeout = parse_int(argv[2])
    if timeout is None:
        raise CommandError(_TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise CommandError(E.TIMEOUT_NEGATIVE)
    deadline = node.clock.ms + timeout if timeout > 0 else 0
    return repl.replicas.wait(c, argv, numreplicas, deadline)


# -- FAILOVER --------------------------------------------------------------------------------------------


@command("failover")
def failover(c, argv):
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds] (failoverCommand)."""
    node = c.node
    repl = node.replication
    state = repl.failover
    if node.config["cluster-enabled"]:
        raise CommandError("FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.")
    if len(argv) == 2 and argv[1].lower() == b"abort":
        if state.state == NO_FAILOVER:
            raise CommandError("No failover in progress.")
        state.abort("Failover manually aborted")
        return OK
    host, port, timeout, force = _failover_args(argv)
    if state.state != NO_FAILOVER:
        raise CommandError("FAILOVER already in progress.")
    if repl.master_host is not None:
        raise CommandError("FAILOVER is not valid when server is a replica.")
    if not repl.replicas.attached:
        raise CommandError("FAILOVER requires connected replicas.")
    if force and (not timeout or host is None):
        raise CommandError("FAILOVER with force option requires both a timeout and target HOST and IP.")
    if host is not None:
        replica = repl.replicas.find(host, port)
        if replica is None:
            raise CommandError("FAILOVER target HOST and PORT is not a replica.")
        if replica.state != ONLINE:
            raise CommandError("FAILOVER target replica is not online.")
    state.start(host, port, timeout, force)
    return OK


def _failover_args(argv):
    """(host or None, port, timeout ms or 0, force), with failoverCommand's checks in its order."""
    host = None
    port = timeout = 0
    force = False
    n = len(argv)
    j = 1
    while j < n:
        word = argv[j].lower()
        if word == b"timeout" and j + 1 < n and not timeout:
            timeout = parse_int(argv[j + 1])
            if timeout is None:
                raise CommandError(E.NOT_INTEGER)
            if timeout <= 0:
                raise CommandError("FAILOVER timeout must be greater than 0")
            j += 1
        elif word == b"to" and j + 2 < n and host is None:
            port = parse_int(argv[j + 2])
            if port is None:
                raise CommandError(E.NOT_INTEGER)
            host = argv[j + 1].decode("latin-1")
            j += 2
        elif word == b"force" and not force:
            force = True
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    return host, port, timeout, force


# -- ROLE ------------------------------------------------------------------------------------------------


@command("role")
def role(c, argv):
    from replication.report import role_reply

    return role_reply(c.node)


__all__ = ["replicaof", "slaveof", "sync", "psync", "wait", "role", "failover", "enc"]
