"""CLIENT LIST / CLIENT INFO lines, client types and the CLIENT KILL filters.

Design note
-----------
One line per client, in Redis 7.0's field order (networking.c catClientInfoString)::

    id=5 addr=127.0.0.1:47782 laddr=127.0.0.1:6379 fd=8 name= age=0 idle=0 flags=N db=0
    sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384
    rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 events=r cmd=client|info user=default
    redir=-1 resp=2

What has a real counterpart here is real (ids, addresses, ages, flags, db, subscriptions,
MULTI queue, last command, user, protocol). Buffer sizes describe C allocations we do not
have; they are given the values an idle Redis client shows, and for the client that is
running the command the sizes its request would occupy, so tools that parse or sum them
see the familiar picture.

Other modules keep the state these lines read; the optional attributes (tracking) are
read with ``getattr`` so this module does not depend on them.
"""

from __future__ import annotations

import time

# Client types (getClientTypeByName / getClientType).
NORMAL, REPLICA, PUBSUB, MASTER = "normal", "replica", "pubsub", "master"
_TYPE_NAMES = {b"normal": NORMAL, b"slave": REPLICA, b"replica": REPLICA, b"pubsub": PUBSUB, b"master": MASTER}

#: Query buffer size of a client between requests (PROTO_IOBUF_LEN, as sdsavail shows it).
_QBUF_SIZE = 20474
#: Reply buffer: while replying (the running client) and idle.
_RBUF_ACTIVE = 16384
_RBUF_IDLE = 1024
#: Fixed per-client overhead reported in tot-mem (the client struct and its lists).
_CLIENT_STRUCT = 798


def type_by_name(name: bytes) -> str | None:
    """``normal|slave|replica|pubsub|master`` (any case) -> type, or None."""
    return _TYPE_NAMES.get(name.lower())


def client_type(c) -> str:
    if c.is_master:
        return MASTER
    if c.is_replica and not c.is_monitor:
        return REPLICA
    if c.subscriptions:
        return PUBSUB
    return NORMAL


def subscription_counts(c) -> tuple[int, int, int]:
    """(channels, patterns, shard channels) for sub= psub= ssub= (server/pubsub.py keeps
    them on the client, None until the first subscription)."""
    return len(c.channels or ()), len(c.patterns or ()), len(c.shard_channels or ())


def flags(c) -> str:
    """The flags= letters, in Redis's order (7.2's ``T`` for no-touch included)."""
    f = ""
    if c.is_monitor:
        f += "O"
    elif c.is_replica:
        f += "S"
    if c.is_master:
        f += "M"
    if c.subscriptions:
        f += "P"
    if c.multi is not None:
        f += "x"
    if c.blocked or c.postponed:  # a CLIENT PAUSE'd client is blocked too (BLOCKED_POSTPONE)
        f += "b"
    if getattr(c, "tracking", False):
        f += "t"
    if c.dirty_cas:  # a WATCHed key changed: EXEC will fail
        f += "d"
    if c.closing:
        f += "c"
    if getattr(c, "readonly_mode", False):
        f += "r"
    if c.no_evict:
        f += "e"
    if c.no_touch:
        f += "T"
    return f or "N"


def last_command_name(c) -> str:
    """cmd=: the full name of the client's last command (``client|list``), or NULL."""
    last = c.last_cmd
    if isinstance(last, list):  # the whole argv, when the connection keeps it
        argv = last
    elif isinstance(last, (bytes, bytearray)) and last != b"NULL":
        argv = [bytes(last)]
    else:
        return "NULL"
    return command_fullname(c.node, argv)


def command_fullname(node, argv: list[bytes]) -> str:
    """The full name of the command ``argv`` names (``config|get``), or NULL."""
    spec = node.commands.get(argv[0])
    if spec is None:
        return "NULL"
    if spec.subcommands is not None and len(argv) > 1:
        sub = spec.subcommands.get(argv[1].lower())
        return sub.fullname if sub is not None else "NULL"
    return spec.fullname


def request_size(argv: list[bytes]) -> int:
    """Bytes of ``argv`` as a RESP multibulk request (what its query buffer held)."""
    n = len(b"*%d\r\n" % len(argv))
    for a in argv:
        n += len(b"$%d\r\n" % len(a)) + len(a) + 2
    return n


def info_line(c, current=None, current_argv: list[bytes] | None = None) -> str:
    """One CLIENT LIST line (without the newline). ``current`` is the client asking; its
    line describes the request being executed (``current_argv``)."""
    now = time.time()
    sub, psub, ssub = subscription_counts(c)
    running = c is current and current_argv is not None
    if running:
        qbuf = request_size(current_argv)
        qbuf_free = _QBUF_SIZE - qbuf if qbuf < _QBUF_SIZE else 0
        argv_mem = sum(len(a) for a in current_argv)
        rbs = rbp = _RBUF_ACTIVE
        cmd = command_fullname(c.node, current_argv)
    else:
        qbuf = c.reader.pending()
        qbuf_free = max(_QBUF_SIZE - qbuf, 0)
        argv_mem = 0
        rbs, rbp = _RBUF_IDLE, 0
        cmd = last_command_name(c)
    multi = -1 if c.multi is None else len(c.multi)
    # Redis 7.0 counts each queued command's argument bytes plus one pointer per argument.
    multi_mem = 0 if c.multi is None else sum(len(a) + 8 for _, argv in c.multi for a in argv)
    tot_mem = qbuf + qbuf_free + rbs + argv_mem + multi_mem + _CLIENT_STRUCT + 32 * (sub + psub + ssub)
    redir = getattr(c, "tracking_redirect", None)
    user = c.user.decode("latin-1") if isinstance(c.user, bytes) else str(c.user)
    name = c.name.decode("latin-1") if c.name else ""
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={name} "
        f"age={int(now - c.created)} idle={(c.node.clock.ms - c.last_interaction) // 1000} flags={flags(c)} "
        f"db={c.db.id} sub={sub} psub={psub} ssub={ssub} multi={multi} qbuf={qbuf} "
        f"qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem={multi_mem} rbs={rbs} rbp={rbp} "
        f"obl=0 oll=0 omem=0 tot-mem={tot_mem} events=r cmd={cmd} user={user} "
        f"redir={-1 if redir is None else redir} resp={c.resp}"
    )


def client_list(clients, current, current_argv, ctype: str | None = None) -> bytes:
    """CLIENT LIST [TYPE t]: one line per client, each ending in a newline."""
    lines = []
    for cl in clients:
        if ctype is not None and client_type(cl) != ctype:
            continue
        lines.append(info_line(cl, current, current_argv) + "\n")
    return "".join(lines).encode("latin-1")
