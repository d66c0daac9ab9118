"""Sets (Redis 7.0 t_set.c): SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS,
SRANDMEMBER, SPOP, SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF,
SDIFFSTORE and SSCAN -- plus ``scan_collection``, the SSCAN/HSCAN half of Redis's
scanGenericCommand, shared with hashes.py.

Design note
-----------
Values are ``RSet`` (``server/datatypes/set.py``): a Python set with Redis's intset flag.
What clients can see of the encoding is order: an intset iterates in numeric order, so
every reply that walks an intset (SMEMBERS, SSCAN, SRANDMEMBER/SPOP with a count covering
the set, SINTER led by an intset, SUNION/SDIFF whose result is an intset) is sorted, as in
Redis, through ``RSet.ordered()``. Results built by the algebra commands get the encoding
Redis's algorithm would give them: a fresh intset that members are added to (and, for
SDIFF's second algorithm, removed from) -- so the same algorithm choice is made here.

The heavy lifting is done by Python's C set operations (intersection, union, difference);
only intset-led intersections walk in order. Random picks come from ``c.node.rng`` through
``RSet``'s draw helpers, with the shapes of Redis's cases: SRANDMEMBER with a negative
count (or 1) draws with repetition; a count covering the set returns it whole in its
order; otherwise a random subset in random order. SPOP with a count has three cases too,
and the third (few members left) rebuilds the set, which may change its encoding.

Propagation follows t_set.c: SPOP is replicated as ``SREM key member`` (one per popped
member), or as ``DEL key`` when the whole set went. Store commands overwrite a
destination of any type (setKey, dropping its TTL) or delete it when the result is empty
(with a ``del`` event only if it existed). Reads use read lookups everywhere, the STORE
forms included, as 7.0 does (their sources count keyspace hits and misses).
"""

from __future__ import annotations

from itertools import islice

from protocol import encoder as enc
from protocol.encoder import EMPTY_ARRAY, ONE, ZERO

from .. import errors as E
from ..datatypes.set import RSet, intset_limit, is_int64
from ..errors import CommandError
from ..glob import compile_pattern
from .args import LLONG_MAX, parse_int, to_int
from .keys import parse_cursor
from .spec import command
from .strings import copt, set_key
from .typed import typed_lookups

LONG_MAX = LLONG_MAX
#: getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) without a message of its own.
COUNT_RANGE = "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
NUMKEYS = "numkeys should be greater than 0"
TOO_MANY_KEYS = "Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "LIMIT can't be negative"

_SREM = b"SREM"
_DEL = b"DEL"
#: SPOP_MOVE_STRATEGY_MUL
_SPOP_MOVE_MUL = 5
#: shared.emptyscan
_EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


# -- helpers ---------------------------------------------------------------------------------


#: lookupKeyRead / lookupKeyWrite + checkType: the set or None.
_read, _write = typed_lookups(RSet)


def _notify(c, key: bytes, event: str, cls: str = "s") -> None:
    node = c.node
    if node.notify_flags:
        node.notify(c.db, key, event, cls)


def _members_reply(c, members, n: int) -> bytes:
    """A set reply (``~`` in RESP3) of ``n`` members."""
    parts = [c.proto.set_header(n)]
    parts += [b"$%d\r\n%b\r\n" % (len(m), m) for m in members]
    return b"".join(parts)


def _removed_all(c, db, key: bytes) -> None:
    """The set went empty: delete it with a ``del`` event."""
    db.delete(key)
    _notify(c, key, "del", "g")


# -- SADD SREM SMOVE -------------------------------------------------------------------------


def sadd_run(c, reqs: list, i: int, out: list) -> int:
    """SADD's run handler (see ``CommandSpec.run``): serves ``reqs[i:]`` while they add one
    member to an existing set without a TTL, in the state ``Database.write_run_state``
    describes; ``sadd`` inlined. A missing key, another type or a TTL is left to SADD."""
    db = c.db
    state = db.write_run_state()
    if state is None:
        return i
    data, expires, lru, now_lru = state
    config = db.node.config
    name = reqs[i][0]
    append = out.append
    j = i
    added = 0
    for argv in islice(reqs, i, None):
        if len(argv) != 3 or argv[0] != name:
            break
        key = argv[1]
        s = data.get(key)
        if s.__class__ is not RSet or (expires and key in expires):
            break
        lru[key] = now_lru
        if s.add_member(argv[2], config):
            added += 1
            append(ONE)
        else:
            append(ZERO)
        j += 1
    db.node.dirty += added
    return j


@command("sadd", run=sadd_run)
def sadd(c, argv):
    db = c.db
    key = argv[1]
    node = c.node
    s = db.get_for_write(key)
    dirty = node.dirty
    if s is None:
        s = RSet.build(argv[2:], intset_limit(node.config))
        db.set(key, s)
        added = len(s)
    elif s.__class__ is not RSet:
        raise CommandError(E.WRONGTYPE)
    else:
        if len(argv) == 3:
            added = 1 if s.add_member(argv[2], node.config) else 0
        else:
            added = s.add_members(argv[2:], node.config)
        if not added:
            return ZERO
        node.key_modified(db, key)
    node.dirty = dirty + added
    if node.notify_flags:
        node.notify(db, key, "sadd", "s")
    return enc.integer(added)


@command("srem")
def srem(c, argv):
    db = c.db
    key = argv[1]
    s = _write(db, key)
    if s is None:
        return ZERO
    node = c.node
    dirty = node.dirty
    deleted = s.remove_members(argv[2:])
    if deleted:
        node.key_modified(db, key)
        _notify(c, key, "srem")
        if not s:
            _removed_all(c, db, key)
        node.dirty = dirty + deleted
    return enc.integer(deleted)


@command("smove")
def smove(c, argv):
    db = c.db
    srckey, dstkey, member = argv[1], argv[2], argv[3]
    src = db.get_for_write(srckey)
    dst = db.get_for_write(dstkey)
    if src is None:
        return ZERO
    if src.__class__ is not RSet or (dst is not None and dst.__class__ is not RSet):
        raise CommandError(E.WRONGTYPE)
    if src is dst:
        return ONE if member in src else ZERO
    if not src.remove_member(member):
        return ZERO
    node = c.node
    dirty = node.dirty
    _notify(c, srckey, "srem")
    if not src:
        _removed_all(c, db, srckey)
    if dst is None:
        dst = RSet((), is_int64(member))  # setTypeCreate
        db.set(dstkey, dst)
    node.key_modified(db, srckey)
    dirty += 1
    if dst.add_member(member, node.config):
        dirty += 1
        node.key_modified(db, dstkey)
        _notify(c, dstkey, "sadd")
    node.dirty = dirty
    return ONE


# -- membership ------------------------------------------------------------------------------


@command("sismember")
def sismember(c, argv):
    s = _read(c, argv[1])
    return ONE if s is not None and argv[2] in s else ZERO


@command("smismember")
def smismember(c, argv):
    s = _read(c, argv[1])
    members = argv[2:]
    if s is None:
        return b"*%d\r\n" % len(members) + ZERO * len(members)
    return b"*%d\r\n" % len(members) + b"".join([ONE if m in s else ZERO for m in members])


@command("scard")
def scard(c, argv):
    s = _read(c, argv[1])
    return ZERO if s is None else enc.integer(len(s))


# -- SINTER SMEMBERS SINTERCARD SINTERSTORE --------------------------------------------------


def _intersection(c, keys: list[bytes]):
    """The sets of ``keys`` (read lookups, WRONGTYPE in key order), or None when one is
    missing, and their intersection as a list in Redis's order: the smallest set leads
    (stable sort by size) and its iteration order is the result's order."""
    sets = []
    missing = False
    for key in keys:
        s = _read(c, key)
        if s is None:
            missing = True
        else:
            sets.append(s)
    if missing:
        return None
    sets.sort(key=len)
    first = sets[0]
    others = [s for s in sets[1:] if s is not first]
    if not others:
        return list(first.ordered())
    if first.intset:
        return [m for m in first.ordered() if all(m in s for s in others)]
    return list(first.intersection(*others))


def _store(c, dstkey: bytes, members, event: str) -> bytes:
    """The STORE forms: the result overwrites ``dstkey`` (any type, TTL dropped), or an
    empty result deletes it. ``members`` is an RSet already encoded as Redis built it."""
    db = c.db
    node = c.node
    dirty = node.dirty
    if members:
        set_key(db, dstkey, members)
        node.dirty = dirty + 1
        _notify(c, dstkey, event)
        return enc.integer(len(members))
    if db.delete(dstkey):
        node.dirty = dirty + 1
        _notify(c, dstkey, "del", "g")
    return ZERO


def _sinter(c, keys, dstkey: bytes | None = None) -> bytes:
    result = _intersection(c, keys)
    if dstkey is not None:
        built = RSet.build(result or (), intset_limit(c.node.config))
        return _store(c, dstkey, built, "sinterstore")
    if result is None:
        return c.proto.empty_set
    return _members_reply(c, result, len(result))


@command("sinter")
def sinter(c, argv):
    return _sinter(c, argv[1:])


@command("smembers")
def smembers(c, argv):
    return _sinter(c, argv[1:2])


@command("sinterstore")
def sinterstore(c, argv):
    return _sinter(c, argv[2:], argv[1])


@command("sintercard")
def sintercard(c, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None or numkeys < 1:
        raise CommandError(NUMKEYS)
    if numkeys > len(argv) - 2:
        raise CommandError(TOO_MANY_KEYS)
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if copt(argv[i]) == b"LIMIT" and i + 1 < len(argv):
            limit = parse_int(argv[i + 1])
            if limit is None or limit < 0:
                raise CommandError(LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(E.SYNTAX)
    result = _intersection(c, argv[2 : 2 + numkeys])
    n = 0 if result is None else len(result)
    if limit and n > limit:
        n = limit
    return enc.integer(n)


# -- SUNION SDIFF and their STORE forms ------------------------------------------------------


def _lookup_all(c, keys) -> list:
    return [_read(c, key) for key in keys]


def _union(c, keys) -> RSet:
    sets = [s for s in _lookup_all(c, keys) if s is not None]
    return RSet.build(set().union(*sets), intset_limit(c.node.config))


def _diff(c, keys) -> RSet:
    """sunionDiffGenericCommand's SET_OP_DIFF, with its choice of algorithm, because the
    choice decides the result's encoding (the second algorithm fills an intset with the
    whole first set before removing)."""
    sets = _lookup_all(c, keys)
    first = sets[0]
    limit = intset_limit(c.node.config)
    if first is None or any(s is first for s in sets[1:]):
        return RSet()
    others = [s for s in sets[1:] if s is not None]
    result = RSet.build(first.difference(*others), limit)
    if result.intset:
        algo_one_work = len(first) * (len(others) + 1) // 2
        algo_two_work = len(first) + sum(map(len, others))
        if algo_one_work > algo_two_work:
            # Algorithm 2: the intermediate intset held the whole first set.
            if not (first.intset or all(map(is_int64, first))):
                result.intset = False
            elif len(first) > limit:
                result.to_hashtable(limit + 1)
    return result


def _sunion_diff(c, argv, diff: bool, store: bool) -> bytes:
    keys = argv[2:] if store else argv[1:]
    result = _diff(c, keys) if diff else _union(c, keys)
    if store:
        return _store(c, argv[1], result, "sdiffstore" if diff else "sunionstore")
    return _members_reply(c, result.ordered(), len(result))


@command("sunion")
def sunion(c, argv):
    return _sunion_diff(c, argv, False, False)


@command("sunionstore")
def sunionstore(c, argv):
    return _sunion_diff(c, argv, False, True)


@command("sdiff")
def sdiff(c, argv):
    return _sunion_diff(c, argv, True, False)


@command("sdiffstore")
def sdiffstore(c, argv):
    return _sunion_diff(c, argv, True, True)


# -- SPOP SRANDMEMBER ------------------------------------------------------------------------


@command("spop")
def spop(c, argv):
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise CommandError(E.SYNTAX)
    db = c.db
    key = argv[1]
    s = _write(db, key)
    if s is None:
        return c.proto.null
    node = c.node
    dirty = node.dirty
    member = s.random_member(node.rng)
    s.remove_member(member)
    _notify(c, key, "spop")
    c.rewrite = [[_SREM, key, member]]
    if not s:
        _removed_all(c, db, key)
    node.key_modified(db, key)
    node.dirty = dirty + 1
    return b"$%d\r\n%b\r\n" % (len(member), member)


def _spop_count(c, argv) -> bytes:
    """spopWithCountCommand."""
    count = parse_int(argv[2])
    if count is None or count < 0:
        raise CommandError(E.OUT_OF_RANGE_POSITIVE)
    db = c.db
    key = argv[1]
    s = _write(db, key)
    if s is None or count == 0:
        return c.proto.empty_set
    node = c.node
    dirty = node.dirty
    size = len(s)
    _notify(c, key, "spop")
    if count >= size:
        # CASE 1: the whole set, as SUNION of it would list it (a read lookup included).
        reply = _members_reply(c, _union(c, [key]).ordered(), size)
        _removed_all(c, db, key)
        c.rewrite = [[_DEL, key]]
        node.dirty = dirty + size
        return reply
    rng = node.rng
    remaining = size - count
    if remaining * _SPOP_MOVE_MUL > count:
        # CASE 2: draw and remove, one by one.
        popped = s.random_sample(rng, count)
        s.remove_members(popped)
    else:
        # CASE 3: draw the members that stay into a new set; the rest is popped in the
        # old set's order.
        keep = s.random_sample(rng, remaining)
        s.remove_members(keep)
        popped = list(s.ordered())
        db.replace_value(key, RSet.build(keep, intset_limit(node.config)))
    if node.propagating:
        c.rewrite = [[_SREM, key, m] for m in popped]
    node.key_modified(db, key)
    node.dirty = dirty + count
    return _members_reply(c, popped, count)


@command("srandmember")
def srandmember(c, argv):
    if len(argv) == 3:
        return _srandmember_count(c, argv)
    if len(argv) > 3:
        raise CommandError(E.SYNTAX)
    s = _read(c, argv[1])
    if s is None:
        return c.proto.null
    member = s.random_member(c.node.rng)
    return b"$%d\r\n%b\r\n" % (len(member), member)


def _srandmember_count(c, argv) -> bytes:
    """srandmemberWithCountCommand."""
    n = to_int(argv[2])
    if n < -LONG_MAX:
        raise CommandError(COUNT_RANGE)
    s = _read(c, argv[1])
    if s is None or n == 0:
        return EMPTY_ARRAY
    rng = c.node.rng
    if n < 0 or n == 1:
        return enc.bulk_array(s.random_members(rng, abs(n)))
    if n >= len(s):
        return enc.bulk_array(list(s.ordered()))
    return enc.bulk_array(s.random_sample(rng, n))


# -- SSCAN (and HSCAN's common part) ---------------------------------------------------------


def _scan_options(argv, start: int) -> tuple[int, bytes | None]:
    """scanGenericCommand's option loop: (count, pattern or None for "match all")."""
    count = 10
    pattern = None
    i, n = start, len(argv)
    while i < n:
        opt = copt(argv[i])
        if opt == b"COUNT" and n - i >= 2:
            count = to_int(argv[i + 1])
            if count < 1:
                raise CommandError(E.SYNTAX)
        elif opt == b"MATCH" and n - i >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        else:
            raise CommandError(E.SYNTAX)
        i += 2
    return count, pattern


def scan_collection(c, argv, cls) -> bytes:
    """SSCAN / HSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is parsed first,
    then the key looked up, then the options. An intset or listpack collection is
    returned whole with cursor 0; a hash table is walked with ``scan_step``."""
    cursor = parse_cursor(argv[2])
    coll = c.db.get(argv[1])
    if coll is None:
        return _EMPTY_SCAN
    if coll.__class__ is not cls:
        raise CommandError(E.WRONGTYPE)
    count, pattern = _scan_options(argv, 3)
    is_hash = cls is not RSet
    if (coll.listpack if is_hash else coll.intset):
        cursor = 0
        found = list(coll) if is_hash else list(coll.ordered())
    else:
        # A hash's COUNT counts fields and values alike (two entries per field).
        want = (count + 1) // 2 if is_hash else count
        cursor, found = coll.scan_step(cursor, want, count * 10)
    if pattern is not None:
        found = list(filter(compile_pattern(pattern), found))
    if is_hash:
        items = []
        for f in found:
            items += (f, coll[f])
        found = items
    text = b"%d" % cursor
    return b"*2\r\n$%d\r\n%b\r\n%b" % (len(text), text, enc.bulk_array(found))


@command("sscan")
def sscan(c, argv):
    return scan_collection(c, argv, RSet)
