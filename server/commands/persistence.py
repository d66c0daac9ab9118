"""Persistence commands: SAVE, BGSAVE, LASTSAVE, DUMP, RESTORE, DEBUG RELOAD, and the
SYNC / REPLCONF subset that ``redis-cli --rdb`` needs.

Design note
-----------
The work is in ``server/persistence`` (``node.rdb`` is the ``Snapshots`` object); these
handlers parse arguments in Redis's order and answer with Redis's texts (rdb.c saveCommand,
bgsaveCommand; cluster.c dumpCommand, restoreCommand; debug.c; replication.c).

SYNC and REPLCONF are the minimal master side of a full synchronisation: REPLCONF records
what the client announced (``capa eof``, ``rdb-only``, ``rdb-filter-only``, its port and
address) in a ``ReplicaRequest`` kept per client in ``node.rdb.requests``; SYNC answers
with a disk-style transfer, ``$<length>\\r\\n`` and the RDB bytes (no CRLF after), from a
BGSAVE started for it (the event loop keeps serving while the child writes), or at once from
memory when the client filtered the data out. An ``rdb-only`` client (redis-cli --rdb) is
done then and the connection closes after the payload. A client that wants the command
stream too is handed to ``node.attach_replica(client)`` when the replication layer provides
it. REPLCONF options are dispatched through ``REPLCONF_OPTIONS`` so that layer can add or
replace option handlers (``ack``, ``getack``) without touching this module.
"""

from __future__ import annotations

from protocol import encoder as enc
from protocol.encoder import OK

from .. import errors as E
from ..config import split_args
from ..errors import CommandError
from ..persistence.rdb import LoadLimits, RdbError, SaveOptions, dump_payload, load_payload, verify_payload
from .admin import debug_subcommand
from .args import parse_int
from .spec import command

# -- SAVE BGSAVE LASTSAVE --------------------------------------------------------------------

BGSAVE_IN_PROGRESS = "Background save already in progress"
ANOTHER_CHILD = ("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
                 "order to schedule a BGSAVE whenever possible.")
_ERR = b"-ERR"  # shared.err: a bare "-ERR" (the reason is in the log)


@command("save")
def save(c, argv):
    rdb = c.node.rdb
    if rdb.in_progress:
        raise CommandError(BGSAVE_IN_PROGRESS)
    if rdb.save():
        return OK
    raise CommandError(_ERR)


@command("bgsave")
def bgsave(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(E.SYNTAX)
    rdb = c.node.rdb
    if rdb.in_progress:
        raise CommandError(BGSAVE_IN_PROGRESS)
    # Inside EXEC the fork waits for the cron (server.in_exec), as it does behind another
    # child process when SCHEDULE allows it.
    if c.deny_blocking or rdb.other_child_active():
        if not (schedule or c.deny_blocking):
            raise CommandError(ANOTHER_CHILD)
        rdb.bgsave_scheduled = True
        return b"+Background saving scheduled\r\n"
    if rdb.bgsave():
        return b"+Background saving started\r\n"
    raise CommandError(_ERR)


@command("lastsave")
def lastsave(c, argv):
    return enc.integer(c.node.lastsave)


# -- DUMP RESTORE ------------------------------------------------------------------------------

_TTL_NEGATIVE = "Invalid TTL value, must be >= 0"
_IDLETIME_NEGATIVE = "Invalid IDLETIME value, must be >= 0"
_FREQ_RANGE = "Invalid FREQ value, must be >= 0 and <= 255"
_BAD_PAYLOAD = "DUMP payload version or checksum are wrong"
_BAD_FORMAT = "Bad data format"
_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")


@command("dump")
def dump(c, argv):
    value = c.db.get(argv[1])
    if value is None:
        return c.proto.null
    return enc.bulk(dump_payload(value, SaveOptions.from_config(c.node.config)))


def _restore_options(argv) -> tuple[bool, bool, int, int]:
    """(replace, absttl, idle seconds or -1, LFU frequency or -1), in restoreCommand's order."""
    replace = absttl = False
    idle = freq = -1
    j = 4
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle is None:
                raise CommandError(E.NOT_INTEGER)
            if idle < 0:
                raise CommandError(_IDLETIME_NEGATIVE)
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[j + 1])
            if freq is None:
                raise CommandError(E.NOT_INTEGER)
            if not 0 <= freq <= 255:
                raise CommandError(_FREQ_RANGE)
            j += 1
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    return replace, absttl, idle, freq


@command("restore")
def restore(c, argv):
    replace, absttl, idle, freq = _restore_options(argv)
    node = c.node
    db = c.db
    key = argv[1]
    if not replace and db.get_for_write(key) is not None:
        raise CommandError(E.BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl is None:
        raise CommandError(E.NOT_INTEGER)
    if ttl < 0:
        raise CommandError(_TTL_NEGATIVE)
    payload = argv[3]
    if not verify_payload(payload):
        raise CommandError(_BAD_PAYLOAD)
    try:
        value = load_payload(payload, LoadLimits.from_config(node.config))
    except RdbError:
        value = None
    if value is None:
        raise CommandError(_BAD_FORMAT)
    deleted = replace and db.delete(key)
    if ttl and not absttl:
        ttl += node.clock.ms
    if ttl and ttl <= node.clock.ms and not node.loading and node.config["replicaof"] is None:
        # checkAlreadyExpired: the key would be gone at once; only a replaced key is deleted.
        if deleted:
            c.rewrite = [[b"DEL", key]]
            node.notify(db, key, "del", "g")
        return OK
    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            c.rewrite = [[*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"]]
    _set_access(node, db, key, idle, freq)
    node.notify(db, key, "restore", "g")
    return OK


def _set_access(node, db, key: bytes, idle: int, freq: int) -> None:
    """objectSetLRUOrLFU: IDLETIME under a non-LFU policy, FREQ under an LFU one."""
    from ..persistence.rdb import AccessClock

    lfu = node.config["maxmemory-policy"] in _LFU_POLICIES
    if (lfu and freq >= 0) or (not lfu and idle >= 0):
        clock = AccessClock(lfu, node.clock.lru, node.clock.ms // 1000)
        db.lru[key] = clock.field(idle, freq)


# -- DEBUG RELOAD ------------------------------------------------------------------------------


@debug_subcommand("reload", 2)
def debug_reload(c, argv):
    flush = save_first = True
    merge = False
    for opt in argv[2:]:
        word = opt.lower()
        if word == b"merge":
            merge = True
        elif word == b"noflush":
            flush = False
        elif word == b"nosave":
            save_first = False
        else:
            raise CommandError("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    error = c.node.rdb.reload(save=save_first, flush=flush, merge=merge)
    if error is None:
        return OK
    raise CommandError(error or _ERR)


# -- REPLCONF SYNC (the part redis-cli --rdb uses) ------------------------------------------------

#: NET_HOST_STR_LEN: the longest ip-address a replica may announce.
_HOST_MAX = 256


class ReplicaRequest:
    """What a client announced with REPLCONF before SYNC."""

    __slots__ = ("port", "ip", "capa_eof", "capa_psync2", "rdb_only", "exclude_data", "exclude_functions")

    def __init__(self):
        self.port = 0
        self.ip = b""
        self.capa_eof = self.capa_psync2 = False
        self.rdb_only = False
        self.exclude_data = self.exclude_functions = False


def replica_request(c) -> ReplicaRequest:
    requests = c.node.rdb.requests
    req = requests.get(c.id)
    if req is None:
        req = requests[c.id] = ReplicaRequest()
    return req


def _opt_listening_port(c, req, value):
    port = parse_int(value)
    if port is None:
        raise CommandError(E.NOT_INTEGER)
    req.port = port


def _opt_ip_address(c, req, value):
    if len(value) >= _HOST_MAX:
        raise CommandError("REPLCONF ip-address provided by replica instance is too long: %d bytes" % len(value))
    req.ip = value


def _opt_capa(c, req, value):
    capa = value.lower()
    if capa == b"eof":
        req.capa_eof = True
    elif capa == b"psync2":
        req.capa_psync2 = True
    # Unknown capabilities are ignored: replicas announce what they can do.


def _opt_no_reply(c, req, value):
    """ACK / GETACK from a client that is not a replica of ours: no reply at all."""
    return b""


def _opt_rdb_only(c, req, value):
    v = parse_int(value)
    if v is None:
        raise CommandError(E.NOT_INTEGER)
    if not 0 <= v <= 1:
        raise CommandError("value is out of range, value must between 0 and 1")
    req.rdb_only = bool(v)


def _opt_rdb_filter_only(c, req, value):
    filters = split_args(value.decode("latin-1"))
    if filters is None:
        raise CommandError("Missing rdb-filter-only values")
    req.exclude_data = req.exclude_functions = True  # an include filter: nothing unless named
    for name in filters:
        if name.lower() == "functions":
            req.exclude_functions = False
        else:
            raise CommandError("Unsupported rdb-filter-only option: %s" % name)


#: option -> handler(client, request, value); a handler returning bytes ends the command
#: with that reply. The replication layer adds its own (ack, getack).
REPLCONF_OPTIONS = {
    b"listening-port": _opt_listening_port,
    b"ip-address": _opt_ip_address,
    b"capa": _opt_capa,
    b"ack": _opt_no_reply,
    b"getack": _opt_no_reply,
    b"rdb-only": _opt_rdb_only,
    b"rdb-filter-only": _opt_rdb_filter_only,
}


@command("replconf")
def replconf(c, argv):
    if len(argv) % 2 == 0:
        raise CommandError(E.SYNTAX)
    req = replica_request(c)
    for j in range(1, len(argv), 2):
        handler = REPLCONF_OPTIONS.get(argv[j].lower())
        if handler is None:
            raise CommandError("Unrecognized REPLCONF option: %s" % argv[j].decode("latin-1"))
        reply = handler(c, req, argv[j + 1])
        if reply is not None:
            return reply
    return OK


@command("sync")
def sync(c, argv):
    """Full synchronisation, old style (no replication id or offset): the RDB as a
    disk-style bulk transfer. See the module docstring."""
    if c.is_replica:
        return b""  # already being served: ignored, as in Redis
    node = c.node
    req = replica_request(c)
    c.is_replica = True
    node.log.notice("Replica %s asks for synchronization" % _replica_name(c, req))
    if req.exclude_data:
        _send_rdb(c, req, node.rdb.snapshot_bytes(data=False, functions=not req.exclude_functions))
        return b""
    node.log.notice("Starting BGSAVE for SYNC with target: disk")

    def done(ok: bool, path: str) -> None:
        if c.closed:
            return
        if not ok:
            node.log.warning("SYNC failed. BGSAVE child returned an error")
            c.close()
            return
        try:
            with open(path, "rb") as f:
                payload = f.read()
        except OSError as exc:
            node.log.warning("SYNC failed. Can't open/stat DB after BGSAVE: %s" % exc.strerror)
            c.close()
            return
        _send_rdb(c, req, payload)

    node.rdb.request_rdb(done)
    return b""


def _send_rdb(c, req: ReplicaRequest, payload: bytes) -> None:
    """sendBulkToSlave: ``$<len>\\r\\n`` then the bytes; then the client is done (rdb-only)
    or becomes a replica of the replication layer."""
    c.reply_async(b"$%d\r\n" % len(payload))
    c.reply_async(payload)
    node = c.node
    node.log.notice("Synchronization with replica %s succeeded" % _replica_name(c, req))
    attach = getattr(node, "attach_replica", None)
    if req.rdb_only:
        if c.out is not None:  # inside the client's batch: close once the batch is sent
            c.closing = True
            c.interrupt = True
        else:
            c.close()
    elif callable(attach):
        attach(c)


def _replica_name(c, req: ReplicaRequest) -> str:
    """replicationGetSlaveName: ip:port as announced, else the connection's address."""
    host = req.ip.decode("latin-1") if req.ip else c.addr.rsplit(":", 1)[0]
    return "%s:%d" % (host, req.port) if req.port else c.addr or host
