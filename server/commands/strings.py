"""String commands (Redis 7.0 t_string.c): GET, SET and family, MGET/MSET, APPEND, ranges,
counters, INCRBYFLOAT and LCS.

Design note
-----------
A string value is ``bytes``; commands that change a string in place (APPEND, SETRANGE, and
the bitmap commands) keep a ``bytearray`` instead -- Redis's "raw" encoding -- and grow it
where it lies, so the key keeps its TTL and repeated appends stay linear. Any other class in
the keyspace is another type and gets WRONGTYPE.

What is easy to get wrong, and how it is handled here:

* Option words are C strings to Redis: ``NX\\0junk`` is ``NX`` (``copt``).
* Argument errors, lookups and type checks happen in Redis's order, because the order decides
  which error a bad request gets (``GETEX missing EX -1`` is a null, not an error).
* A write looks the key up for writing first (``lookup_write``), so a key whose TTL has passed
  is expired -- with its ``expired`` event -- before being replaced, as setKey does.
* Expire arguments go through ``expire_at_ms`` with Redis's overflow rules.
* Keyspace events are fired exactly where t_string.c fires them; ``node.notify`` is only
  called when notifications are enabled.
* Commands that must not be replayed as sent (relative TTLs, ``SET ... GET``, INCRBYFLOAT)
  leave their deterministic form in ``client.rewrite`` while the node propagates.
* INCRBYFLOAT computes in x87 ``long double`` through ``datatypes.longdouble``.
* LCS uses a bit-parallel row recurrence (Hyyrö) on Python integers, then walks back
  through the rows exactly as Redis walks its table, so IDX ranges match byte for byte.
"""

from __future__ import annotations

from itertools import islice

from protocol import encoder as enc
from protocol.encoder import BULK_HEADERS as _BULK_HEADERS
from protocol.encoder import EMPTY_BULK, OK, ONE, ZERO

from .. import errors as E
from ..datatypes import longdouble
from ..errors import CommandError
from ..keyspace import Database
from .args import LLONG_MAX, LLONG_MIN, parse_int, to_int
from .spec import command

# -- shared helpers (also used by bitmaps.py) ------------------------------------------------


def copt(arg: bytes) -> bytes:
    """An option word as Redis compares it: a C string (cut at NUL), upper-cased."""
    if b"\0" in arg:
        arg = arg[: arg.index(b"\0")]
    return arg.upper()


def is_string(v) -> bool:
    return v.__class__ is bytes or v.__class__ is bytearray


def string_or_none(v):
    """``v`` if it is a string or missing; WRONGTYPE for any other type (checkType)."""
    if v is None or v.__class__ is bytes or v.__class__ is bytearray:
        return v
    raise CommandError(E.WRONGTYPE)


def lookup_write(db, key: bytes):
    """lookupKeyWrite for a string command: expires first, then WRONGTYPE for other types."""
    return string_or_none(db.get_for_write(key))


def check_length(c, size: int) -> None:
    """checkStringLength: the master's stream is exempt from proto-max-bulk-len."""
    if size > c.node.config["proto-max-bulk-len"] and not c.is_master:
        raise CommandError(E.STRING_TOO_LONG)


def notify(c, key: bytes, event: str, cls: str = "$") -> None:
    node = c.node
    if node.notify_flags:
        node.notify(c.db, key, event, cls)


def rewrite(c, *argvs: list[bytes]) -> None:
    """Propagate these commands instead of the one executed (only matters while propagating)."""
    if c.node.propagating:
        c.rewrite = list(argvs)


def unshare(db, key: bytes, v):
    """The key's value as a ``bytearray`` (dbUnshareStringValue): a value that was ``bytes``
    is swapped for a raw copy without signalling a change, as Redis does."""
    if v.__class__ is bytearray:
        return v
    ba = bytearray(v)
    db.data[key] = ba
    if db.node.memory_tracking:  # a bytearray costs more: the account re-costs it (server/memory.py)
        db.node.memory.unshared(db, key, v)
    return ba


def set_key(db, key: bytes, value, keepttl: bool = False) -> None:
    """setKey: lookupKeyWrite (a key past its TTL is expired first), then store and signal."""
    if db.expires and key in db.expires:
        db.get_for_write(key)
    db.set(key, value, keepttl)


def _bulk(v) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(v), v)


def _get_reply(c, key: bytes) -> bytes:
    """getGenericCommand: the value (or null), WRONGTYPE for other types."""
    v = c.db.get(key)
    if v is None:
        return c.proto.null
    if v.__class__ is bytes or v.__class__ is bytearray:
        return b"$%d\r\n%b\r\n" % (len(v), v)
    raise CommandError(E.WRONGTYPE)


# -- GET / SET -----------------------------------------------------------------------------


def get_run(c, reqs: list, i: int, out: list) -> int:
    """GET's run handler (see ``CommandSpec.run``): serves ``reqs[i:]`` while they are GETs
    of keys that hold ``bytes`` or are missing, and returns the index of the first request
    it left. It is GET's own path with ``Database.get`` inlined and the lookups hoisted out
    of the loop: anything else -- a key past its TTL, another type, a bytearray, keyspace
    notifications, an LFU database -- stops the run, and ``get`` serves it.
    """
    db = c.db
    if db.__class__ is not Database or not db.touch or db.node.notify_flags:
        return i
    data = db.data
    expires = db.expires
    lru = db.lru
    now_lru = db.clock.lru
    now_ms = db.clock.ms
    null = c.proto.null
    name = reqs[i][0]
    append = out.append
    j = i
    misses = 0
    for argv in islice(reqs, i, None):
        if len(argv) != 2 or argv[0] != name:
            break
        key = argv[1]
        v = data.get(key)
        if v is None:
            misses += 1
            append(null)
        else:
            if v.__class__ is not bytes:
                break
            if expires:
                when = expires.get(key)
                if when is not None and when < now_ms:
                    break
            lru[key] = now_lru
            n = len(v)
            # The reply in three pieces: the connection joins its batch's replies anyway.
            append(_BULK_HEADERS[n] if n < 1024 else b"$%d\r\n" % n)
            append(v)
            append(b"\r\n")
        j += 1
    stats = db.stats
    stats.keyspace_hits += j - i - misses
    stats.keyspace_misses += misses
    return j


@command("get", run=get_run)
def get(c, argv):
    v = c.db.get(argv[1])
    if v is None:
        return c.proto.null
    if v.__class__ is bytes or v.__class__ is bytearray:
        n = len(v)
        if n < 1024:
            return _BULK_HEADERS[n] + v + b"\r\n"
        return b"$%d\r\n%b\r\n" % (n, v)
    raise CommandError(E.WRONGTYPE)


# SET / GETEX option flags (t_string.c OBJ_*).
_NX = 1 << 0
_XX = 1 << 1
_EX = 1 << 2
_PX = 1 << 3
_KEEPTTL = 1 << 4
_GET = 1 << 5
_EXAT = 1 << 6
_PXAT = 1 << 7
_PERSIST = 1 << 8
_EXPIRES = _EX | _PX | _EXAT | _PXAT
_EXPIRE_WORDS = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}


def _parse_extended(argv: list[bytes], first: int, is_set: bool) -> tuple[int, bytes | None]:
    """parseExtendedStringArgumentsOrReply: (flags, expire argument) or a syntax error.

    The same expire option may repeat (the last wins); two different ones, KEEPTTL/PERSIST
    with an expire, or NX with XX are syntax errors.
    """
    flags = 0
    expire = None
    n = len(argv)
    j = first
    while j < n:
        opt = copt(argv[j])
        bit = _EXPIRE_WORDS.get(opt)
        if bit is not None:
            if j + 1 >= n or flags & (_KEEPTTL | _PERSIST | (_EXPIRES & ~bit)):
                raise CommandError(E.SYNTAX)
            flags |= bit
            expire = argv[j + 1]
            j += 2
            continue
        if is_set and opt == b"NX" and not flags & _XX:
            flags |= _NX
        elif is_set and opt == b"XX" and not flags & _NX:
            flags |= _XX
        elif is_set and opt == b"GET":
            flags |= _GET
        elif is_set and opt == b"KEEPTTL" and not flags & (_PERSIST | _EXPIRES):
            flags |= _KEEPTTL
        elif not is_set and opt == b"PERSIST" and not flags & (_EXPIRES | _KEEPTTL):
            flags |= _PERSIST
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    return flags, expire


def expire_at_ms(c, arg: bytes, flags: int, cmdname: str) -> int:
    """getExpireMillisecondsOrReply: the absolute expiry in ms.

    Seconds that would overflow when multiplied, non-positive values, and relative times
    that overflow once "now" is added are all ``invalid expire time``.
    """
    v = parse_int(arg)
    if v is None:
        raise CommandError(E.NOT_INTEGER)
    seconds = flags & (_EX | _EXAT)
    if v <= 0 or (seconds and v > LLONG_MAX // 1000):
        raise CommandError(E.invalid_expire(cmdname))
    if seconds:
        v *= 1000
    if flags & (_EX | _PX):
        v += c.node.clock.ms
        if v > LLONG_MAX:  # wraps negative in C
            raise CommandError(E.invalid_expire(cmdname))
    return v


def _set_generic(c, argv, flags, key, value, expire, cmdname, ok=OK, abort=None) -> bytes:
    """setGenericCommand: SET, SETNX, SETEX and PSETEX."""
    when = expire_at_ms(c, expire, flags, cmdname) if expire is not None else 0
    reply = _get_reply(c, key) if flags & _GET else None
    db = c.db
    found = db.get_for_write(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        if reply is not None:
            return reply
        return abort if abort is not None else c.proto.null
    db.set(key, value, bool(flags & _KEEPTTL))
    notify(c, key, "set")
    if expire is not None:
        db.set_expire(key, when)
        rewrite(c, [b"SET", key, value, b"PXAT", b"%d" % when])
        notify(c, key, "expire", "g")
    elif reply is not None:
        # Propagate without GET (it may be repeated).
        rewrite(c, argv[:3] + [a for a in argv[3:] if copt(a) != b"GET"])
    return reply if reply is not None else ok


def set_run(c, reqs: list, i: int, out: list) -> int:
    """SET's run handler (see ``CommandSpec.run``): serves ``reqs[i:]`` while they are plain
    ``SET key value`` of keys without a TTL, and returns the index of the first request it
    left. It is ``Database.set`` inlined for the state a cache is usually in
    (``Database.write_run_state``); otherwise it serves nothing.
    """
    db = c.db
    state = db.write_run_state()
    if state is None:
        return i
    data, expires, lru, now_lru = state
    hint = db.embstr_hint  # SET never adds to it: empty now, empty through the run
    name = reqs[i][0]
    j = i
    for argv in islice(reqs, i, None):
        if len(argv) != 3 or argv[0] != name:
            break
        key = argv[1]
        if expires and key in expires:
            break  # set_ expires it first, or drops its TTL
        data[key] = argv[2]
        if hint:
            hint.pop(key, None)
        lru[key] = now_lru
        j += 1
    out += [OK] * (j - i)
    db.node.dirty += j - i
    return j


@command("set", run=set_run)
def set_(c, argv):
    if len(argv) == 3:
        db = c.db
        key = argv[1]
        if db.expires and key in db.expires:
            db.get_for_write(key)
        db.set(key, argv[2])
        if c.node.notify_flags:
            c.node.notify(db, key, "set", "$")
        return OK
    flags, expire = _parse_extended(argv, 3, True)
    return _set_generic(c, argv, flags, argv[1], argv[2], expire, "set")


@command("setnx")
def setnx(c, argv):
    return _set_generic(c, argv, _NX, argv[1], argv[2], None, "setnx", ONE, ZERO)


@command("setex")
def setex(c, argv):
    return _set_generic(c, argv, _EX, argv[1], argv[3], argv[2], "setex")


@command("psetex")
def psetex(c, argv):
    return _set_generic(c, argv, _PX, argv[1], argv[3], argv[2], "psetex")


def already_expired(c, when: int) -> bool:
    """checkAlreadyExpired: a past time deletes the key, except while loading or on a replica."""
    node = c.node
    return when <= node.clock.ms and not node.loading and node.config["replicaof"] is None


@command("getex")
def getex(c, argv):
    flags, expire = _parse_extended(argv, 2, False)
    db = c.db
    key = argv[1]
    v = db.get(key)
    if v is None:
        return c.proto.null
    if v.__class__ is not bytes and v.__class__ is not bytearray:
        raise CommandError(E.WRONGTYPE)
    when = expire_at_ms(c, expire, flags, "getex") if expire is not None else 0
    reply = _bulk(v)
    if flags & (_EXAT | _PXAT) and already_expired(c, when):
        db.delete(key)
        lazy = c.node.config["lazyfree-lazy-expire"]
        rewrite(c, [b"UNLINK" if lazy else b"DEL", key])
        notify(c, key, "del", "g")
    elif expire is not None:
        db.set_expire(key, when)
        c.node.key_modified(db, key)
        rewrite(c, [b"PEXPIREAT", key, b"%d" % when])
        notify(c, key, "expire", "g")
    elif flags & _PERSIST and db.persist(key):
        c.node.key_modified(db, key)
        rewrite(c, [b"PERSIST", key])
        notify(c, key, "persist", "g")
    return reply


@command("getdel")
def getdel(c, argv):
    key = argv[1]
    reply = _get_reply(c, key)
    if c.db.delete(key):
        lazy = c.node.config["lazyfree-lazy-user-del"]
        rewrite(c, [b"UNLINK" if lazy else b"DEL", key])
        notify(c, key, "del", "g")
    return reply


@command("getset")
def getset(c, argv):
    key = argv[1]
    reply = _get_reply(c, key)
    set_key(c.db, key, argv[2])
    notify(c, key, "set")
    rewrite(c, [b"SET", key, argv[2]])
    return reply


# -- several keys --------------------------------------------------------------------------


@command("mget")
def mget(c, argv):
    get = c.db.get
    null = c.proto.null
    out = [b"*%d\r\n" % (len(argv) - 1)]
    for key in argv[1:]:
        v = get(key)
        if v is None or (v.__class__ is not bytes and v.__class__ is not bytearray):
            out.append(null)
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(v), v))
    return b"".join(out)


def _mset(c, argv, name: str) -> None:
    if len(argv) % 2 == 0:
        raise CommandError(E.wrong_arity(name))
    db = c.db
    node = c.node
    state = db.write_run_state()
    if state is not None:
        # set_key inlined, as in set_run; a key with a TTL still goes through set_key.
        data, expires, lru, now_lru = state
        hint = db.embstr_hint
        inline = 0
        for i in range(1, len(argv), 2):
            key = argv[i]
            if expires and key in expires:
                set_key(db, key, argv[i + 1])
                continue
            data[key] = argv[i + 1]
            if hint:
                hint.pop(key, None)
            lru[key] = now_lru
            inline += 1
        node.dirty += inline
        return
    for i in range(1, len(argv), 2):
        key = argv[i]
        set_key(db, key, argv[i + 1])
        if node.notify_flags:
            node.notify(db, key, "set", "$")


@command("mset")
def mset(c, argv):
    _mset(c, argv, "mset")
    return OK


@command("msetnx")
def msetnx(c, argv):
    if len(argv) % 2 == 1:
        get_for_write = c.db.get_for_write
        for i in range(1, len(argv), 2):
            if get_for_write(argv[i]) is not None:
                return ZERO
    _mset(c, argv, "msetnx")
    return ONE


# -- in-place edits and reads --------------------------------------------------------------


@command("append")
def append(c, argv):
    db = c.db
    key, tail = argv[1], argv[2]
    v = lookup_write(db, key)
    if v is None:
        db.set(key, tail)
        total = len(tail)
    else:
        total = len(v) + len(tail)
        check_length(c, total)
        if v.__class__ is bytearray:
            v += tail
            c.node.key_modified(db, key)
        else:
            db.replace_value(key, bytearray(v) + tail)
    notify(c, key, "append")
    return enc.integer(total)


@command("strlen")
def strlen(c, argv):
    v = string_or_none(c.db.get(argv[1]))
    return ZERO if v is None else enc.integer(len(v))


@command("getrange")
def getrange(c, argv):
    start = to_int(argv[2])
    end = to_int(argv[3])
    v = string_or_none(c.db.get(argv[1]))
    if v is None:
        return EMPTY_BULK
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return EMPTY_BULK
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return EMPTY_BULK
    return _bulk(v[start : end + 1])


@command("substr")
def substr(c, argv):
    return getrange(c, argv)


@command("setrange")
def setrange(c, argv):
    offset = to_int(argv[2])
    if offset < 0:
        raise CommandError("offset is out of range")
    db = c.db
    key, value = argv[1], argv[3]
    v = lookup_write(db, key)
    if v is None:
        if not value:
            return ZERO
        check_length(c, offset + len(value))
        buf = bytearray(offset)
        buf += value
        db.set(key, buf)
    else:
        if not value:
            return enc.integer(len(v))
        check_length(c, offset + len(value))
        buf = unshare(db, key, v)
        if len(buf) < offset:
            buf.extend(bytes(offset - len(buf)))
        buf[offset : offset + len(value)] = value
        c.node.key_modified(db, key)
    notify(c, key, "setrange")
    return enc.integer(len(buf))


# -- counters ------------------------------------------------------------------------------


def _incr_by(c, key: bytes, delta: int) -> bytes:
    """incrDecrCommand: the stored value must be a strict 64-bit integer; keeps the TTL."""
    db = c.db
    v = db.get_for_write(key)
    if v is None:
        value = delta
        db.set(key, b"%d" % value)
    else:
        if v.__class__ is not bytes and v.__class__ is not bytearray:
            raise CommandError(E.WRONGTYPE)
        old = parse_int(v)
        if old is None:
            raise CommandError(E.NOT_INTEGER)
        value = old + delta
        if value > LLONG_MAX or value < LLONG_MIN:
            raise CommandError(E.OVERFLOW)
        db.replace_value(key, b"%d" % value)
    if c.node.notify_flags:
        c.node.notify(db, key, "incrby", "$")
    return enc.integer(value)


def _counter_run(delta: int):
    """The run handler of INCR (``delta`` 1) or DECR (-1), see ``CommandSpec.run``: serves
    ``reqs[i:]`` while they step keys that are missing or hold a plain decimal ``bytes``
    of at most 18 digits (no overflow possible) and have no TTL; ``_incr_by`` inlined, with
    ``Database.get_for_write``/``set``/``replace_value``, for the state ``set_run`` serves.
    """
    integer = enc.integer

    def run(c, reqs: list, i: int, out: list) -> int:
        db = c.db
        state = db.write_run_state()
        if state is None:
            return i
        data, expires, lru, now_lru = state
        hint = db.embstr_hint  # counters never add to it: empty now, empty through the run
        name = reqs[i][0]
        append = out.append
        j = i
        for argv in islice(reqs, i, None):
            if len(argv) != 2 or argv[0] != name:
                break
            key = argv[1]
            v = data.get(key)
            if v is None:
                value = delta
            elif (
                v.__class__ is bytes
                and v.isdigit()
                and len(v) < 19
                and (v[0] != 48 or len(v) == 1)
                and not (expires and key in expires)
            ):
                value = int(v) + delta
            else:
                break
            data[key] = b"%d" % value
            if hint:
                hint.pop(key, None)
            lru[key] = now_lru
            append(integer(value))
            j += 1
        db.node.dirty += j - i
        return j

    return run


@command("incr", run=_counter_run(1))
def incr(c, argv):
    return _incr_by(c, argv[1], 1)


@command("decr", run=_counter_run(-1))
def decr(c, argv):
    return _incr_by(c, argv[1], -1)


@command("incrby")
def incrby(c, argv):
    return _incr_by(c, argv[1], to_int(argv[2]))


@command("decrby")
def decrby(c, argv):
    delta = to_int(argv[2])
    if delta == LLONG_MIN:
        raise CommandError("decrement would overflow")
    return _incr_by(c, argv[1], -delta)


@command("incrbyfloat")
def incrbyfloat(c, argv):
    db = c.db
    key = argv[1]
    v = lookup_write(db, key)
    current = (0, 0) if v is None else longdouble.parse(bytes(v))
    if current is None:
        raise CommandError(E.NOT_FLOAT)
    increment = longdouble.parse(argv[2])
    if increment is None:
        raise CommandError(E.NOT_FLOAT)
    total = longdouble.add(current, increment)
    if not longdouble.is_finite(total):
        raise CommandError(E.NAN_OR_INF)
    text = longdouble.format_human(total)
    if v is None:
        db.set(key, text)
    else:
        db.replace_value(key, text)
    if len(text) <= 20 and text.lstrip(b"-").isdigit():
        # An integer-looking result stays embstr in Redis (no tryObjectEncoding here).
        hints = db.embstr_hint
        if len(hints) >= 4096:
            hints.clear()
        hints[key] = text
    notify(c, key, "incrbyfloat")
    # Replicas and the AOF get the result, so float formatting can never make them differ.
    rewrite(c, [b"SET", key, text, b"KEEPTTL"])
    return _bulk(text)


# -- LCS -----------------------------------------------------------------------------------


def lcs_rows(a: bytes, b: bytes, keep: bool) -> list[int]:
    """Bit-parallel LCS rows (Hyyrö 2004). Row i is an int whose bit j-1 is clear exactly
    where LCS(a[:i], b[:j]) grows by one over LCS(a[:i], b[:j-1]); so
    LCS(i, j) = j - popcount(row_i & (2**j - 1)). Only the last row unless ``keep``."""
    mask = (1 << len(b)) - 1
    match: dict[int, int] = {}
    for j, ch in enumerate(b):
        match[ch] = match.get(ch, 0) | (1 << j)
    row = mask
    rows = [row] if keep else []
    for ch in a:
        u = row & match.get(ch, 0)
        row = ((row + u) | (row - u)) & mask
        if keep:
            rows.append(row)
    if not keep:
        rows.append(row)
    return rows


def lcs_walk(a: bytes, b: bytes, rows: list[int], minmatchlen: int):
    """Walk back from (len(a), len(b)) as lcsCommand does: returns the LCS string and the
    emitted ranges ((a_start, a_end), (b_start, b_end), length), longest-index first."""
    alen, blen = len(a), len(b)

    def lcs(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    idx = lcs(alen, blen)
    result = bytearray(idx)
    ranges = []
    i, j = alen, blen
    a_start = alen  # alen means "no range open"
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if lcs(i - 1, j) > lcs(i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != alen:
                emit = True
        if emit:
            length = a_end - a_start + 1
            if minmatchlen == 0 or length >= minmatchlen:
                ranges.append(((a_start, a_end), (b_start, b_end), length))
            a_start = alen
    return bytes(result), ranges


@command("lcs")
def lcs(c, argv):
    db = c.db
    va = db.get(argv[1])
    vb = db.get(argv[2])
    if (va is not None and not is_string(va)) or (vb is not None and not is_string(vb)):
        raise CommandError("The specified keys must contain string values")
    a = b"" if va is None else bytes(va)
    b = b"" if vb is None else bytes(vb)
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(argv):
        opt = copt(argv[j])
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and j + 1 < len(argv):
            minmatchlen = max(to_int(argv[j + 1]), 0)
            j += 1
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    if getlen and getidx:
        raise CommandError("If you want both the length and indexes, please just use IDX.")
    # Redis refuses when its (alen+1)*(blen+1) table of uint32 would pass the bulk limit.
    if (len(a) + 1) * (len(b) + 1) * 4 > c.node.config["proto-max-bulk-len"]:
        raise CommandError("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    if getlen:
        row = lcs_rows(a, b, keep=False)[-1]
        return enc.integer(len(b) - row.bit_count())
    text, ranges = lcs_walk(a, b, lcs_rows(a, b, keep=True), minmatchlen)
    if not getidx:
        return _bulk(text)
    out = [c.proto.map_header(2), b"$7\r\nmatches\r\n", b"*%d\r\n" % len(ranges)]
    for (a0, a1), (b0, b1), length in ranges:
        out.append(b"*%d\r\n*2\r\n:%d\r\n:%d\r\n*2\r\n:%d\r\n:%d\r\n" % (2 + withmatchlen, a0, a1, b0, b1))
        if withmatchlen:
            out.append(b":%d\r\n" % length)
    out.append(b"$3\r\nlen\r\n:%d\r\n" % len(text))
    return b"".join(out)
