"""Generic key commands (Redis 7.0 db.c, expire.c, object.c): DEL, UNLINK, EXISTS, TYPE,
KEYS, SCAN, RANDOMKEY, RENAME(NX), COPY, MOVE, SWAPDB, the EXPIRE and TTL families,
PERSIST, TOUCH, OBJECT, DBSIZE, FLUSHDB and FLUSHALL.

Design note
-----------
Each command follows its Redis implementation step by step, because the order of the
steps decides the reply: option errors before number errors before the key lookup
(``EXPIRE k abc foo`` is "Unsupported option foo"), and the *kind* of lookup decides the
side effects -- a read lookup counts a hit or miss and may fire ``keymiss``, a "no touch"
lookup (TTL, TYPE, EXISTS, OBJECT) keeps the key's access clock, a write lookup does
neither, and all of them expire a key whose time has passed. ``_read_notouch`` is
lookupKeyReadWithFlags(LOOKUP_NOTOUCH); ``db.get`` and ``db.get_for_write`` are the others.

Values of other types plug in through ``type_name`` and ``object_encoding``: a datatype
class declares ``redis_type`` (``b"zset"``) and may define ``object_encoding(config)``
and ``copy()``; the builtin containers map to the obvious types. Strings are ``bytes``,
or ``bytearray`` once changed in place, which is what OBJECT ENCODING reports as ``raw``.

Writes signal through the keyspace (``db.set``, ``db.delete``: dirty counter, WATCH),
fire Redis's keyspace events, and leave their deterministic form in ``c.rewrite`` when it
differs from what was sent (EXPIRE -> PEXPIREAT, an expire in the past -> DEL). SCAN's
cursor machinery lives in ``server/scan.py``; patterns in ``server/glob.py``.
"""

from __future__ import annotations

import re
from collections import deque

from protocol import encoder as enc
from protocol.encoder import OK, ONE, ZERO

from .. import errors as E
from ..errors import CommandError
from ..glob import compile_pattern
from ..keyspace import Clock
from ..scan import scan_keys
from .args import LLONG_MAX, LLONG_MIN, parse_int, to_int
from .connection import help_reply
from .spec import command

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
#: OBJ_SHARED_REFCOUNT, the refcount Redis reports for its shared integers 0..9999.
SHARED_REFCOUNT = INT_MAX
SHARED_INTEGERS = 10000
#: OBJ_ENCODING_EMBSTR_SIZE_LIMIT
EMBSTR_SIZE_LIMIT = 44

_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
_LRU_LFU_POLICIES = ("allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu")


# -- helpers ---------------------------------------------------------------------------------


def _copt(arg: bytes) -> bytes:
    """An option word as strcasecmp sees it: a C string (cut at NUL), lower-cased."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg.lower()


def _read_notouch(db, key: bytes, keymiss: bool = True):
    """lookupKeyReadWithFlags(LOOKUP_NOTOUCH [| LOOKUP_NONOTIFY]): expiry and hit/miss
    statistics, but the key's access clock is left alone."""
    v = db.peek(key)
    if v is None:
        db.stats.keyspace_misses += 1
        if keymiss and db.node.notify_flags:
            db.node.notify_keymiss(db, key)
    else:
        db.stats.keyspace_hits += 1
    return v


def _notify(c, db, key: bytes, event: str) -> None:
    node = c.node
    if node.notify_flags:
        node.notify(db, key, event, "g")


def _db_index(arg: bytes, message: str | None = None) -> int:
    """getIntFromObjectOrReply: a C int, or its two errors (or ``message`` for both)."""
    v = parse_int(arg)
    if v is None:
        raise CommandError(message or E.NOT_INTEGER)
    if v < INT_MIN or v > INT_MAX:
        raise CommandError(message or "value is out of range, value must between %d and %d" % (INT_MIN, INT_MAX))
    return v


def _db_by_index(c, index: int):
    """selectDb's range check: the database with this index."""
    dbs = c.node.dbs
    if index < 0 or index >= len(dbs):
        raise CommandError(E.DB_INDEX_OUT_OF_RANGE)
    return dbs[index]


_TYPE_NAMES = {
    bytes: b"string",
    bytearray: b"string",
    list: b"list",
    deque: b"list",
    dict: b"hash",
    set: b"set",
}


def type_name(value) -> bytes:
    """getObjectTypeName: ``none`` for a missing key, else the value's type."""
    if value is None:
        return b"none"
    name = _TYPE_NAMES.get(value.__class__)
    if name is None:
        name = value.redis_type
    return name


def string_encoding(v) -> bytes:
    """What tryObjectEncoding makes of a string: ``int`` for a canonical 64-bit integer
    of at most 20 characters, ``embstr`` up to 44 bytes, ``raw`` beyond, and ``raw`` for a
    value changed in place (bytearray)."""
    if v.__class__ is bytearray:
        return b"raw"
    n = len(v)
    if n <= 20 and parse_int(v) is not None:
        return b"int"
    return b"embstr" if n <= EMBSTR_SIZE_LIMIT else b"raw"


_DEFAULT_ENCODINGS = {
    b"list": b"quicklist",
    b"hash": b"hashtable",
    b"set": b"hashtable",
    b"zset": b"skiplist",
    b"stream": b"stream",
}


def object_encoding(value, config) -> bytes:
    """OBJECT ENCODING: strings here; other types answer through their own
    ``object_encoding(config)``, or get the encoding Redis uses for large values."""
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        return string_encoding(value)
    method = getattr(value, "object_encoding", None)
    if method is not None:
        return method(config)
    return _DEFAULT_ENCODINGS[type_name(value)]


def object_refcount(value, config) -> int:
    """Redis shares the integers 0..9999 (refcount INT_MAX) unless an LRU/LFU maxmemory
    policy needs per-key access data; every other value is referenced once."""
    if (
        value.__class__ is bytes
        and 0 < len(value) <= 4
        and value.isdigit()
        and (value[0] != 48 or len(value) == 1)
        and not (config["maxmemory"] and config["maxmemory-policy"] in _LRU_LFU_POLICIES)
    ):
        return SHARED_REFCOUNT
    return 1


def copy_value(value):
    """dupStringObject and friends: an independent copy (bytes are immutable)."""
    cls = value.__class__
    if cls is bytes:
        return value
    if cls is bytearray:
        return bytearray(value)
    return value.copy()


def lfu_decr_and_return(field: int, unix_seconds: int, decay_time: int) -> int:
    """LFUDecrAndReturn: the LFU counter (low 8 bits) after decaying it by the minutes
    elapsed since its last decrement time (high 16 bits)."""
    ldt = field >> 8
    counter = field & 255
    now = (unix_seconds // 60) & 65535
    elapsed = now - ldt if now >= ldt else 65535 - ldt + now
    periods = elapsed // decay_time if decay_time else 0
    return counter - periods if periods < counter else 0


# -- DEL UNLINK EXISTS TYPE TOUCH DBSIZE RANDOMKEY -------------------------------------------


def _delete_keys(c, argv):
    db = c.db
    node = c.node
    n = 0
    for i in range(1, len(argv)):
        key = argv[i]
        if db.delete(key):
            n += 1
            if node.notify_flags:
                node.notify(db, key, "del", "g")
    return enc.integer(n)


@command("del")
def del_(c, argv):
    return _delete_keys(c, argv)


@command("unlink")
def unlink(c, argv):
    # Values are freed when their last reference goes; there is no background thread to
    # hand them to, so UNLINK deletes exactly like DEL.
    return _delete_keys(c, argv)


@command("exists")
def exists(c, argv):
    db = c.db
    peek = db.peek
    n = 0
    for i in range(1, len(argv)):
        key = argv[i]
        if peek(key) is not None:
            n += 1
        elif db.node.notify_flags:
            db.node.notify_keymiss(db, key)
    stats = db.stats
    stats.keyspace_hits += n
    stats.keyspace_misses += len(argv) - 1 - n
    return enc.integer(n)


@command("type")
def type_(c, argv):
    return b"+%b\r\n" % type_name(_read_notouch(c.db, argv[1]))


@command("touch")
def touch(c, argv):
    get = c.db.get
    n = 0
    for i in range(1, len(argv)):
        if get(argv[i]) is not None:
            n += 1
    return enc.integer(n)


@command("dbsize")
def dbsize(c, argv):
    return enc.integer(len(c.db.data))


@command("randomkey")
def randomkey(c, argv):
    key = c.db.random_key(c.node.rng)
    if key is None:
        return c.proto.null
    return enc.bulk(key)


# -- KEYS SCAN -------------------------------------------------------------------------------


def _unexpired(db, keys: list[bytes]) -> list[bytes]:
    """keyIsExpired as a filter: drops keys past their time without deleting them (KEYS).
    Nothing counts as expired while loading."""
    expires = db.expires
    if not expires or db.node.loading:
        return keys
    now = db.clock.ms
    get = expires.get
    return [k for k in keys if not get(k, now) < now]


@command("keys")
def keys_(c, argv):
    db = c.db
    pattern = argv[1]
    if pattern == b"*":
        found = list(db.data)
    else:
        found = list(filter(compile_pattern(pattern), db.data))
    return enc.bulk_array(_unexpired(db, found))


_CURSOR = re.compile(rb"[+-]?[0-9]*")


def parse_cursor(arg: bytes) -> int:
    """parseScanCursorOrReply: strtoul over the C string, so ``-1`` wraps to 2**64-1, an
    empty string is 0, and leading spaces, trailing junk and overflow are refused."""
    text = arg.split(b"\0", 1)[0]
    if arg[:1].isspace() or _CURSOR.fullmatch(text) is None or text in (b"+", b"-"):
        raise CommandError("invalid cursor")
    digits = text.lstrip(b"+-")
    value = int(digits) if digits else 0
    if value > 0xFFFFFFFFFFFFFFFF:
        raise CommandError("invalid cursor")
    if text[:1] == b"-":
        value = -value & 0xFFFFFFFFFFFFFFFF
    return value


@command("scan")
def scan(c, argv):
    cursor = parse_cursor(argv[1])
    count = 10
    pattern = typename = None
    i, n = 2, len(argv)
    while i < n:
        opt = _copt(argv[i])
        if n - i < 2:
            raise CommandError(E.SYNTAX)
        if opt == b"count":
            count = to_int(argv[i + 1])
            if count < 1:
                raise CommandError(E.SYNTAX)
        elif opt == b"match":
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"type":
            typename = _copt(argv[i + 1])
        else:
            raise CommandError(E.SYNTAX)
        i += 2
    db = c.db
    cursor, found = scan_keys(db, cursor, count)
    if pattern is not None:
        found = list(filter(compile_pattern(pattern), found))
    if typename is not None:
        found = [k for k in found if type_name(_read_notouch(db, k)) == typename]
    if db.expires:
        expires = db.expires
        now = db.clock.ms
        found = [k for k in found if not (expires.get(k, now) < now and db.expire_now(k))]
    text = b"%d" % cursor
    return b"*2\r\n$%d\r\n%b\r\n%b" % (len(text), text, enc.bulk_array(found))


# -- RENAME COPY MOVE SWAPDB -----------------------------------------------------------------


def _carry_embstr_hint(src_db, src_key: bytes, dst_db, dst_key: bytes, value) -> None:
    """A string object moved or copied keeps its encoding (embstr stays embstr)."""
    if src_db.embstr_hint.get(src_key) is value:
        dst_db.embstr_hint[dst_key] = dst_db.data[dst_key]


def _rename(c, argv, nx: bool) -> bytes:
    db = c.db
    src, dst = argv[1], argv[2]
    value = db.get_for_write(src)
    if value is None:
        raise CommandError(E.NO_SUCH_KEY)
    if src == dst:
        return ZERO if nx else OK
    existing = db.get_for_write(dst)
    if existing is not None and nx:
        return ZERO
    node = c.node
    dirty = node.dirty
    expire = db.expires.get(src)
    if existing is not None:
        # Redis deletes the old key and adds the new one, so clients blocked on ``dst``
        # (waiting for a list where a string was) are woken by the new key.
        db.delete(dst)
    db.set(dst, value)
    if expire is not None:
        db.set_expire(dst, expire)
    _carry_embstr_hint(db, src, db, dst, value)
    db.delete(src)
    node.dirty = dirty + 1  # one change, as Redis counts it, though both keys were signalled
    _notify(c, db, src, "rename_from")
    _notify(c, db, dst, "rename_to")
    return ONE if nx else OK


@command("rename")
def rename(c, argv):
    return _rename(c, argv, False)


@command("renamenx")
def renamenx(c, argv):
    return _rename(c, argv, True)


@command("copy")
def copy(c, argv):
    src = dst = c.db
    replace = False
    j, n = 3, len(argv)
    while j < n:
        opt = _copt(argv[j])
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dst = _db_by_index(c, _db_index(argv[j + 1]))
            j += 1
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    if c.node.config["cluster-enabled"] and (src.id != 0 or dst.id != 0):
        raise CommandError("Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(E.SAME_OBJECT)
    value = src.get(key)
    if value is None:
        return ZERO
    expire = src.expires.get(key)
    existing = dst.get_for_write(newkey)
    if existing is not None:
        if not replace:
            return ZERO
        node = c.node
        dirty = node.dirty
        dst.delete(newkey)  # delete then add, as Redis does: wakes clients blocked on newkey
        node.dirty = dirty
    dst.set(newkey, copy_value(value))
    _carry_embstr_hint(src, key, dst, newkey, value)
    if expire is not None:
        dst.set_expire(newkey, expire)
    _notify(c, dst, newkey, "copy_to")
    return ONE


@command("move")
def move(c, argv):
    if c.node.config["cluster-enabled"]:
        raise CommandError("MOVE is not allowed in cluster mode")
    src = c.db
    dst = _db_by_index(c, _db_index(argv[2]))
    if src is dst:
        raise CommandError(E.SAME_OBJECT)
    key = argv[1]
    value = src.get_for_write(key)
    if value is None:
        return ZERO
    expire = src.expires.get(key)
    if dst.get_for_write(key) is not None:
        return ZERO
    node = c.node
    dirty = node.dirty
    dst.set(key, value)
    _carry_embstr_hint(src, key, dst, key, value)
    if expire is not None:
        dst.set_expire(key, expire)
    src.delete(key)
    node.dirty = dirty + 1
    _notify(c, src, key, "move_from")
    _notify(c, dst, key, "move_to")
    return ONE


@command("swapdb")
def swapdb(c, argv):
    node = c.node
    if node.config["cluster-enabled"]:
        raise CommandError("SWAPDB is not allowed in cluster mode")
    first = _db_index(argv[1], "invalid first DB index")
    second = _db_index(argv[2], "invalid second DB index")
    a = _db_by_index(c, first)
    b = _db_by_index(c, second)
    if a is not b:
        a.swap_contents(b)
    node.dirty += 1
    return OK


# -- FLUSHDB FLUSHALL ------------------------------------------------------------------------


def _flush_mode(argv) -> None:
    """getFlushCommandFlags: an optional SYNC or ASYNC, nothing else.

    Both free synchronously: dropping the dicts releases them at once, and there is no
    lazyfree thread whose work could overlap with commands in one Python process.
    """
    if len(argv) > 2 or (len(argv) == 2 and _copt(argv[1]) not in (b"sync", b"async")):
        raise CommandError(E.SYNTAX)


@command("flushdb")
def flushdb(c, argv):
    _flush_mode(argv)
    c.node.db_flushed(c.db)  # signalFlushedDb: before the keys go (WATCH looks at them)
    c.node.dirty += c.db.flush()
    c.force_propagate = c.node.propagating  # forceCommandPropagation: even when already empty
    return OK


@command("flushall")
def flushall(c, argv):
    _flush_mode(argv)
    node = c.node
    removed = 0
    for db in node.dbs:
        node.db_flushed(db)
        removed += db.flush()
    node.dirty += removed
    # flushAllDataAndResetRDB: a snapshot in the making is stale, and with save points the
    # empty dataset is saved at once (rdb_changes_since_last_save is 0 afterwards).
    rdb = node.rdb
    rdb.kill_child()
    if node.config["save"]:
        rdb.save()
    c.force_propagate = c.node.propagating  # forceCommandPropagation: even when already empty
    return OK


# -- EXPIRE family ---------------------------------------------------------------------------

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}
_SECONDS_MIN = -(-LLONG_MIN // 1000)  # LLONG_MIN / 1000 truncated towards zero, as in C


def _expire_flags(argv) -> int:
    """parseExtendedExpireArgumentsOrReply."""
    flags = 0
    for j in range(3, len(argv)):
        word = argv[j].split(b"\0", 1)[0]
        flag = _EXPIRE_FLAGS.get(word.lower())
        if flag is None:
            raise CommandError(b"Unsupported option " + word)
        flags |= flag
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError("NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        raise CommandError("GT and LT options at the same time are not compatible")
    return flags


def _expire(c, argv, basetime: int, seconds: bool, name: str) -> bytes:
    """expireGenericCommand."""
    flags = _expire_flags(argv) if len(argv) > 3 else 0
    when = to_int(argv[2])
    if seconds:
        if when > LLONG_MAX // 1000 or when < _SECONDS_MIN:
            raise CommandError(E.invalid_expire(name))
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise CommandError(E.invalid_expire(name))
    when += basetime
    db = c.db
    key = argv[1]
    if db.get_for_write(key) is None:
        return ZERO
    if flags:
        current = db.expires.get(key)
        if flags & _NX and current is not None:
            return ZERO
        if flags & _XX and current is None:
            return ZERO
        if flags & _GT and (current is None or when <= current):
            return ZERO
        if flags & _LT and current is not None and when >= current:
            return ZERO
    node = c.node
    if when <= node.clock.ms and not node.loading and not node.expire_hides_only:
        # Already in the past: the key goes now, and replicas get an explicit DEL.
        db.delete(key)
        if node.propagating:
            lazy = node.config["lazyfree-lazy-expire"]
            c.rewrite = [[b"UNLINK" if lazy else b"DEL", key]]
        _notify(c, db, key, "del")
        return ONE
    db.set_expire(key, when)
    node.key_modified(db, key)
    if node.propagating and name != "pexpireat":
        c.rewrite = [[b"PEXPIREAT", key, b"%d" % when, *argv[3:]]]
    _notify(c, db, key, "expire")
    return ONE


@command("expire")
def expire(c, argv):
    return _expire(c, argv, c.node.clock.ms, True, "expire")


@command("pexpire")
def pexpire(c, argv):
    return _expire(c, argv, c.node.clock.ms, False, "pexpire")


@command("expireat")
def expireat(c, argv):
    return _expire(c, argv, 0, True, "expireat")


@command("pexpireat")
def pexpireat(c, argv):
    return _expire(c, argv, 0, False, "pexpireat")


def _ttl(c, argv, in_ms: bool, absolute: bool) -> bytes:
    """ttlGenericCommand: -2 for no key, -1 for no expiry, else the (rounded) time."""
    db = c.db
    if _read_notouch(db, argv[1]) is None:
        return enc.MINUS_TWO
    when = db.expires.get(argv[1])
    if when is None:
        return enc.MINUS_ONE
    ttl = when if absolute else when - c.node.clock.ms
    if ttl < 0:
        ttl = 0
    return enc.integer(ttl if in_ms else (ttl + 500) // 1000)


@command("ttl")
def ttl(c, argv):
    return _ttl(c, argv, False, False)


@command("pttl")
def pttl(c, argv):
    return _ttl(c, argv, True, False)


@command("expiretime")
def expiretime(c, argv):
    return _ttl(c, argv, False, True)


@command("pexpiretime")
def pexpiretime(c, argv):
    return _ttl(c, argv, True, True)


@command("persist")
def persist(c, argv):
    db = c.db
    key = argv[1]
    if db.get_for_write(key) is None or not db.persist(key):
        return ZERO
    c.node.key_modified(db, key)
    _notify(c, db, key, "persist")
    return ONE


# -- OBJECT ----------------------------------------------------------------------------------


def _object_lookup(c, argv):
    """objectCommandLookup: NOTOUCH | NONOTIFY."""
    return _read_notouch(c.db, argv[2], keymiss=False)


@command("object|encoding")
def object_encoding_cmd(c, argv):
    value = _object_lookup(c, argv)
    if value is None:
        return c.proto.null
    if c.db.embstr_hint.get(argv[2]) is value:  # an INCRBYFLOAT result: never int-encoded
        return enc.bulk(b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw")
    return enc.bulk(object_encoding(value, c.node.config))


@command("object|refcount")
def object_refcount_cmd(c, argv):
    value = _object_lookup(c, argv)
    if value is None:
        return c.proto.null
    return enc.integer(object_refcount(value, c.node.config))


@command("object|idletime")
def object_idletime(c, argv):
    """Seconds since the key was last touched. (Redis's shared integers 0..9999 are one
    object for all keys, so there it is the time since *any* key holding that number was
    touched, or since the server started; here it is always the key's own clock.)"""
    value = _object_lookup(c, argv)
    if value is None:
        return c.proto.null
    if c.node.config["maxmemory-policy"] in _LFU_POLICIES:
        raise CommandError(
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to adjust."
        )
    db = c.db
    now = db.clock.lru
    lru = db.lru.get(argv[2], now)
    idle = now - lru if now >= lru else now + (Clock.LRU_MAX - lru)
    return enc.integer(idle)


@command("object|freq")
def object_freq(c, argv):
    value = _object_lookup(c, argv)
    if value is None:
        return c.proto.null
    config = c.node.config
    if config["maxmemory-policy"] not in _LFU_POLICIES:
        raise CommandError(
            "An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
            "that when switching between policies at runtime LRU and LFU data will take some "
            "time to adjust."
        )
    field = c.db.lru.get(argv[2], 0)
    return enc.integer(lfu_decr_and_return(field, c.node.clock.ms // 1000, config["lfu-decay-time"]))


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@command("object|help")
def object_help(c, argv):
    return help_reply(_OBJECT_HELP)
