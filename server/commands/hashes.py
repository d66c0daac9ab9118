"""Hashes (Redis 7.0 t_hash.c): HSET, HSETNX, HGET, HMGET, HMSET, HDEL, HLEN, HSTRLEN,
HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD and HSCAN.

Design note
-----------
Values are ``RHash`` (``server/datatypes/hash.py``): a dict in insertion order with a
``listpack`` flag that follows Redis's one-way conversion rules, so OBJECT ENCODING and
the order of HGETALL/HKEYS/HVALS/HSCAN/HRANDFIELD match Redis wherever Redis's order is
deterministic (a listpack hash).

Handlers follow t_hash.c step by step, because the order of its steps decides the reply:
HSET checks its argument count before the key, HINCRBY parses the increment before
creating the key (lookupWriteOrCreate), HRANDFIELD parses its count and options before
the lookup. The four write lookups that create a missing hash (HSET, HMSET, HSETNX,
HINCRBY*) share ``_write_or_create``.

Bookkeeping: each write signals the key once and moves the dirty counter by what Redis
adds (one per field set or deleted), fires Redis's event (``hset`` for HSET, HMSET and
HSETNX; ``hdel``, then ``del`` when the hash is emptied and deleted; ``hincrby``;
``hincrbyfloat``). HINCRBYFLOAT is propagated as ``HSET key field <result>`` so replicas
never redo the long-double arithmetic.

HRANDFIELD reproduces the shapes of hrandfieldWithCountCommand's four cases: a negative
count (or 1) draws with repetition in draw order; a count at least the size returns the
whole hash in its order; a count close to the size returns a random subset in random
order; a small count from a listpack hash returns a subset in the hash's order
(lpRandomPairsUnique), from a hash table in random order.
"""

from __future__ import annotations

from itertools import islice

from protocol import encoder as enc
from protocol.encoder import EMPTY_ARRAY, ONE, ZERO

from .. import errors as E
from ..datatypes import longdouble
from ..datatypes.hash import RHash
from ..errors import CommandError
from .args import LLONG_MAX, LLONG_MIN, parse_int, to_int
from .sets import COUNT_RANGE, scan_collection
from .spec import command
from .strings import copt
from .typed import typed_lookups

LONG_MAX = LLONG_MAX

NOT_INTEGER_VALUE = "hash value is not an integer"
NOT_FLOAT_VALUE = "hash value is not a float"
INCR_NAN_OR_INF = "value is NaN or Infinity"

_HSET = b"HSET"
_ENTRIES = "hash-max-listpack-entries"
_VALUE = "hash-max-listpack-value"
#: HRANDFIELD_SUB_STRATEGY_MUL
_SUB_STRATEGY_MUL = 3


# -- helpers ---------------------------------------------------------------------------------


#: lookupKeyRead + checkType: the hash or None.
_read = typed_lookups(RHash)[0]


def _write_or_create(c, key: bytes) -> RHash:
    """hashTypeLookupWriteOrCreate: the hash, created empty (dbAdd) when missing."""
    db = c.db
    h = db.get_for_write(key)
    if h is None:
        h = RHash()
        db.set(key, h)
    elif h.__class__ is not RHash:
        raise CommandError(E.WRONGTYPE)
    return h


def _limits(c) -> tuple[int, int]:
    values = c.node.config.values
    return values[_ENTRIES], values[_VALUE]


def _changed(c, key: bytes, dirty: int, changes: int, event: str) -> None:
    """signalModifiedKey + notifyKeyspaceEvent + server.dirty += changes (``dirty`` is the
    counter before the command touched anything)."""
    node = c.node
    node.key_modified(c.db, key)
    node.dirty = dirty + changes
    if node.notify_flags:
        node.notify(c.db, key, event, "h")


def _bulk(v: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(v), v)


# -- HSET HMSET HSETNX -----------------------------------------------------------------------


def _hset(c, argv, name: str) -> int:
    if len(argv) % 2:
        raise CommandError(E.wrong_arity(name))
    key = argv[1]
    dirty = c.node.dirty
    h = _write_or_create(c, key)
    created = h.set_pairs(argv, 2, *_limits(c))
    _changed(c, key, dirty, (len(argv) - 2) // 2, "hset")
    return created


def hset_run(c, reqs: list, i: int, out: list) -> int:
    """HSET's run handler (see ``CommandSpec.run``): serves ``reqs[i:]`` while they set one
    field of an existing hash without a TTL, in the state ``Database.write_run_state``
    describes; ``hset``'s one-field path inlined. A missing key, another type or a TTL is
    left to HSET."""
    db = c.db
    state = db.write_run_state()
    if state is None:
        return i
    data, expires, lru, now_lru = state
    values = db.node.config.values
    max_entries, max_value = values[_ENTRIES], values[_VALUE]
    name = reqs[i][0]
    append = out.append
    j = i
    for argv in islice(reqs, i, None):
        if len(argv) != 4 or argv[0] != name:
            break
        key = argv[1]
        h = data.get(key)
        if h.__class__ is not RHash or (expires and key in expires):
            break
        lru[key] = now_lru
        append(ONE if h.set_field(argv[2], argv[3], max_entries, max_value) else ZERO)
        j += 1
    db.node.dirty += j - i
    return j


@command("hset", run=hset_run)
def hset(c, argv):
    if len(argv) != 4:
        return enc.integer(_hset(c, argv, "hset"))
    # One field: the benchmarked case, without the general loop.
    key = argv[1]
    db = c.db
    node = c.node
    h = db.get_for_write(key)
    dirty = node.dirty
    if h is None:
        h = RHash()
        db.set(key, h)
    elif h.__class__ is not RHash:
        raise CommandError(E.WRONGTYPE)
    values = node.config.values
    new = h.set_field(argv[2], argv[3], values[_ENTRIES], values[_VALUE])
    node.key_modified(db, key)
    node.dirty = dirty + 1
    if node.notify_flags:
        node.notify(db, key, "hset", "h")
    return ONE if new else ZERO


@command("hmset")
def hmset(c, argv):
    _hset(c, argv, "hmset")
    return enc.OK


@command("hsetnx")
def hsetnx(c, argv):
    key, field = argv[1], argv[2]
    dirty = c.node.dirty
    h = _write_or_create(c, key)
    if field in h:
        return ZERO
    h.set_field(field, argv[3], *_limits(c))
    _changed(c, key, dirty, 1, "hset")
    return ONE


# -- reads -----------------------------------------------------------------------------------


@command("hget")
def hget(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return c.proto.null
    v = h.get(argv[2])
    if v is None:
        return c.proto.null
    return b"$%d\r\n%b\r\n" % (len(v), v)


@command("hmget")
def hmget(c, argv):
    h = _read(c, argv[1])
    null = c.proto.null
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    if h is None:
        parts.append(null * (len(argv) - 2))
    else:
        get = h.get
        for field in argv[2:]:
            v = get(field)
            parts.append(null if v is None else b"$%d\r\n%b\r\n" % (len(v), v))
    return b"".join(parts)


@command("hlen")
def hlen(c, argv):
    h = _read(c, argv[1])
    return ZERO if h is None else enc.integer(len(h))


@command("hstrlen")
def hstrlen(c, argv):
    h = _read(c, argv[1])
    v = None if h is None else h.get(argv[2])
    return ZERO if v is None else enc.integer(len(v))


@command("hexists")
def hexists(c, argv):
    h = _read(c, argv[1])
    return ONE if h is not None and argv[2] in h else ZERO


@command("hkeys")
def hkeys(c, argv):
    h = _read(c, argv[1])
    return EMPTY_ARRAY if h is None else enc.bulk_array(list(h))


@command("hvals")
def hvals(c, argv):
    h = _read(c, argv[1])
    return EMPTY_ARRAY if h is None else enc.bulk_array(list(h.values()))


@command("hgetall")
def hgetall(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return c.proto.empty_map
    parts = [c.proto.map_header(len(h))]
    parts += [b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(f), f, len(v), v) for f, v in h.items()]
    return b"".join(parts)


# -- HDEL ------------------------------------------------------------------------------------


@command("hdel")
def hdel(c, argv):
    db = c.db
    key = argv[1]
    h = db.get_for_write(key)
    if h is None:
        return ZERO
    if h.__class__ is not RHash:
        raise CommandError(E.WRONGTYPE)
    dirty = c.node.dirty
    deleted = h.delete_fields(argv[2:])
    if deleted:
        removed = not h
        if removed:
            db.delete(key)
        _changed(c, key, dirty, deleted, "hdel")
        if removed and c.node.notify_flags:
            c.node.notify(db, key, "del", "g")
    return enc.integer(deleted)


# -- counters --------------------------------------------------------------------------------


@command("hincrby")
def hincrby(c, argv):
    key, field = argv[1], argv[2]
    incr = to_int(argv[3])
    dirty = c.node.dirty
    h = _write_or_create(c, key)
    old = h.get(field)
    if old is None:
        value = incr
    else:
        current = parse_int(old)
        if current is None:
            raise CommandError(NOT_INTEGER_VALUE)
        value = current + incr
        if value > LLONG_MAX or value < LLONG_MIN:
            raise CommandError(E.OVERFLOW)
    h.set_field(field, b"%d" % value, *_limits(c))
    _changed(c, key, dirty, 1, "hincrby")
    return enc.integer(value)


@command("hincrbyfloat")
def hincrbyfloat(c, argv):
    key, field = argv[1], argv[2]
    incr = longdouble.parse(argv[3])
    if incr is None:
        raise CommandError(E.NOT_FLOAT)
    if not longdouble.is_finite(incr):
        raise CommandError(INCR_NAN_OR_INF)
    dirty = c.node.dirty
    h = _write_or_create(c, key)
    old = h.get(field)
    if old is None:
        current = (0, 0)
    else:
        current = longdouble.parse(old)
        if current is None:
            raise CommandError(NOT_FLOAT_VALUE)
    total = longdouble.add(current, incr)
    if not longdouble.is_finite(total):
        raise CommandError(E.NAN_OR_INF)
    text = longdouble.format_human(total)
    h.set_field(field, text, *_limits(c))
    _changed(c, key, dirty, 1, "hincrbyfloat")
    # Replicas and the AOF get the result, so float formatting can never make them differ.
    c.rewrite = [[_HSET, key, field, text]]
    return _bulk(text)


# -- HRANDFIELD ------------------------------------------------------------------------------


def _fields_reply(c, h: RHash, fields: list, withvalues: bool) -> bytes:
    """An array of fields, or with values: flat pairs in RESP2, [field, value] in RESP3."""
    if not withvalues:
        return enc.bulk_array(fields)
    if c.resp == 2:
        parts = [b"*%d\r\n" % (2 * len(fields))]
        fmt = b"$%d\r\n%b\r\n$%d\r\n%b\r\n"
    else:
        parts = [b"*%d\r\n" % len(fields)]
        fmt = b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
    for f in fields:
        v = h[f]
        parts.append(fmt % (len(f), f, len(v), v))
    return b"".join(parts)


def _hrandfield_count(c, argv) -> bytes:
    """hrandfieldWithCountCommand (see the module docstring for the four cases)."""
    n = parse_int(argv[2])
    if n is None:
        raise CommandError(E.NOT_INTEGER)
    if n < -LONG_MAX:
        raise CommandError(COUNT_RANGE)
    withvalues = False
    if len(argv) > 4 or (len(argv) == 4 and copt(argv[3]) != b"WITHVALUES"):
        raise CommandError(E.SYNTAX)
    if len(argv) == 4:
        withvalues = True
        if n < -(LONG_MAX // 2) or n > LONG_MAX // 2:
            raise CommandError(E.OUT_OF_RANGE)
    h = _read(c, argv[1])
    if h is None or n == 0:
        return EMPTY_ARRAY
    rng = c.node.rng
    size = len(h)
    if n < 0 or n == 1:
        fields = h.random_members(rng, abs(n))
    elif n >= size:
        fields = list(h)
    elif n * _SUB_STRATEGY_MUL > size or not h.listpack:
        fields = h.random_sample(rng, n)
    else:
        # lpRandomPairsUnique walks the listpack once: the picks keep the hash's order.
        order = list(h)
        fields = [order[i] for i in sorted(rng.sample(range(size), n))]
    return _fields_reply(c, h, fields, withvalues)


@command("hrandfield")
def hrandfield(c, argv):
    if len(argv) >= 3:
        return _hrandfield_count(c, argv)
    h = _read(c, argv[1])
    if h is None:
        return c.proto.null
    return _bulk(h.random_member(c.node.rng))


# -- HSCAN -----------------------------------------------------------------------------------


@command("hscan")
def hscan(c, argv):
    return scan_collection(c, argv, RHash)
