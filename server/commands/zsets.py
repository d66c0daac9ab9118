"""Sorted sets (Redis 7.0 t_zset.c): every Z command of 7.0.

Design note
-----------
The value is ``datatypes.zset.ZSet`` (a member -> score dict beside a sorted list of
``(score, member)``); this module is the protocol around it, written to follow
t_zset.c step by step, because the order of the steps decides which error a bad request
gets: ZADD checks its options, then parses every score, then looks the key up;
ZRANGE parses its options (and LIMIT's numbers) before the range, the range before the
lookup; ZUNION/ZINTER/ZDIFF look up every input key (WRONGTYPE) before reading WEIGHTS or
AGGREGATE; ZSCAN looks the key up before it reads its options.

What else is easy to get wrong, and where it is handled:

* Score ranges (``zslParseRange``) go through C's ``strtod`` without Redis's usual
  checks: ``""`` is 0, ``1e999`` is inf, a leading space is fine (``_strtod``); only NaN
  and trailing junk are errors. Lex ranges need ``[``/``(`` or a lone ``-``/``+``.
* Option words are C strings compared with strcasecmp: ``NX\\0junk`` is ``NX`` (``_copt``).
* The encoding is Redis's: a set stays a listpack while it has at most
  ``zset-max-listpack-entries`` members, none longer than ``zset-max-listpack-value``;
  a new member beyond either makes it a skiplist for good (``_add_member``). Store
  commands build their result the way Redis does: ZRANGESTORE adds to a listpack,
  ZUNIONSTORE and friends build a skiplist and shrink it when it fits.
* Results of ZUNION/ZINTER are summed in Redis's order (inputs sorted by size, stably),
  so float rounding matches; ``inf + -inf`` is 0 and ``weight * score`` NaN is 0.
* Replies: scores are doubles (``%.17g``; a bulk string in RESP2, ``,`` in RESP3);
  WITHSCORES is a flat array in RESP2 and an array of pairs in RESP3 -- except ZSCAN,
  which always answers strings.
* Keyspace events fire where t_zset.c fires them (``zadd``, ``zincr``, ``zrem``,
  ``zremrangebyscore``..., ``zpopmin``/``zpopmax``, ``zunionstore``..., ``zrangestore``,
  ``del`` when a command empties a key). Pops through ZMPOP and the blocking pops
  propagate as ``ZPOPMIN``/``ZPOPMAX`` (``c.rewrite``), as Redis replicates them.
* BZPOPMIN, BZPOPMAX and BZMPOP block through ``server/blocking.py``; a served client
  pops in the serve callback exactly as an immediate pop does.
* The commands that take a key count (ZUNION..., ZMPOP, BZMPOP) bring their own key
  extractor (``_numkeys_getkeys``): Redis falls back from the key specs to the command's
  getkeys_proc when the count is not a usable number, and COMMAND GETKEYS shows it.
* ZRANDMEMBER follows zrandmemberWithCountCommand's cases: a count covering the set
  returns it all, highest score first; the random cases draw with ``node.rng``.
"""

from __future__ import annotations

import math
import re
from itertools import islice

from protocol import encoder as enc
from protocol.encoder import EMPTY_ARRAY, ONE, ZERO, format_double

from .. import errors as E
from ..blocking import may_block, parse_timeout
from ..datatypes.zset import LexBound, ZSet, listpack_score_text
from ..errors import CommandError
from ..glob import compile_pattern
from .args import _DECIMAL, LLONG_MAX, LLONG_MIN, parse_int, to_float, to_int, to_nonneg_int
from .keys import parse_cursor, type_name
from .spec import command
from .strings import set_key

NOT_FLOAT_RANGE = "min or max is not a float"
NOT_LEX_RANGE = "min or max not valid string range item"
NAN_RESULT = "resulting score is not a number (NaN)"
WEIGHT_NOT_FLOAT = "weight value is not a float"
LIMIT_NEEDS_BY = "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
WITHSCORES_BYLEX = "syntax error, WITHSCORES not supported in combination with BYLEX"
_EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"
_isnan = math.isnan

# -- helpers -------------------------------------------------------------------------------


def _copt(arg: bytes) -> bytes:
    """An option word as strcasecmp sees it: a C string (cut at NUL), lower-cased."""
    if b"\0" in arg:
        arg = arg[: arg.index(b"\0")]
    return arg.lower()


def _zset_or_none(v):
    """``v`` if it is a sorted set or missing; WRONGTYPE for any other type (checkType)."""
    if v is None or v.__class__ is ZSet:
        return v
    raise CommandError(E.WRONGTYPE)


def _notify(c, key: bytes, event: str, cls: str = "z") -> None:
    node = c.node
    if node.notify_flags:
        node.notify(c.db, key, event, cls)


def _changed(c, key: bytes, changes: int, emptied: bool) -> None:
    """signalModifiedKey + ``server.dirty += changes``; an emptied set leaves the keyspace."""
    db = c.db
    if emptied:
        db.delete(key)
    else:
        c.node.key_modified(db, key)
    c.node.dirty += changes - 1


def _rewrite(c, *argvs: list[bytes]) -> None:
    """Propagate these commands instead of the one executed."""
    if c.node.propagating:
        c.rewrite = list(argvs)


def _listpack_limits(c) -> tuple[int, int]:
    values = c.node.config.values
    return values["zset-max-listpack-entries"], values["zset-max-listpack-value"]


def _add_member(zs: ZSet, member: bytes, score: float, limits: tuple[int, int]) -> None:
    """Insert a new member; a listpack that would outgrow the limits becomes a skiplist
    first (zsetAdd's check before zzlInsert)."""
    if zs.listpack and (len(zs.scores) + 1 > limits[0] or len(member) > limits[1]):
        zs.listpack = False
    zs.insert(member, score)


def _double_pairs(c, items, count: int | None = None) -> bytes:
    """WITHSCORES replies: member, score... flat in RESP2, [member, score] pairs in RESP3.
    ``items`` are (score, member)."""
    dbl = c.proto.double
    n = len(items) if count is None else count
    if c.resp == 2:
        parts = [b"*%d\r\n" % (2 * n)]
        for score, member in items:
            parts.append(b"$%d\r\n%b\r\n%b" % (len(member), member, dbl(score)))
    else:
        parts = [b"*%d\r\n" % n]
        for score, member in items:
            parts.append(b"*2\r\n$%d\r\n%b\r\n%b" % (len(member), member, dbl(score)))
    return b"".join(parts)


def _members_reply(items) -> bytes:
    parts = [b"*%d\r\n" % len(items)]
    parts += [b"$%d\r\n%b\r\n" % (len(m), m) for _, m in items]
    return b"".join(parts)


def _items_reply(c, items, withscores: bool) -> bytes:
    return _double_pairs(c, items) if withscores else _members_reply(items)


# -- range arguments ----------------------------------------------------------------------

_C_SPACE = b" \t\n\v\f\r"


def _strtod(text: bytes) -> float | None:
    """``strtod`` over a whole C string, as zslParseRange calls it: None if characters are
    left over or the value is NaN. Overflow gives +-inf and underflow 0, as strtod does."""
    if b"\0" in text:
        text = text[: text.index(b"\0")]
    if not text:
        return 0.0
    body = text.lstrip(_C_SPACE)
    m = _DECIMAL.fullmatch(body)
    if m is None or m.group("nan"):
        return None
    if m.group("inf"):
        return -math.inf if body[:1] == b"-" else math.inf
    if m.group("hex"):
        try:
            return float.fromhex(body.decode())
        except OverflowError:
            return -math.inf if body[:1] == b"-" else math.inf
    return float(body)


def _score_bound(arg: bytes) -> tuple[float, bool]:
    """One end of a score range: ``(x`` is exclusive."""
    exclusive = arg[:1] == b"("
    v = _strtod(arg[1:] if exclusive else arg)
    if v is None:
        raise CommandError(NOT_FLOAT_RANGE)
    return v, exclusive


def _score_range(a: bytes, b: bytes) -> tuple[float, bool, float, bool]:
    lo, lo_ex = _score_bound(a)
    hi, hi_ex = _score_bound(b)
    return lo, lo_ex, hi, hi_ex


_MINUS = LexBound(-1)
_PLUS = LexBound(1)


def _lex_bound(arg: bytes) -> LexBound:
    c0 = arg[:1]
    if c0 == b"(" or c0 == b"[":
        return LexBound(0, arg[1:], c0 == b"(")
    if (c0 == b"-" or c0 == b"+") and (len(arg) == 1 or arg[1] == 0):
        return _MINUS if c0 == b"-" else _PLUS
    raise CommandError(NOT_LEX_RANGE)


def _lex_range(a: bytes, b: bytes) -> tuple[LexBound, LexBound]:
    return _lex_bound(a), _lex_bound(b)


# -- key extraction (COMMAND GETKEYS, WATCH, cluster routing) ---------------------------------

_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)").match


def _int32(v: int) -> int:
    """A C ``(int)`` cast of a 64-bit value."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _atoi(arg: bytes) -> int:
    """C's atoi over a C string: leading digits (after spaces and a sign), else 0; the long
    clamped by strtol is then cut to an int."""
    m = _ATOI(arg.split(b"\0", 1)[0])
    if m is None:
        return 0
    return _int32(max(min(int(m.group(1)), LLONG_MAX), LLONG_MIN))


def _numkeys_getkeys(store_ofs: int, count_ofs: int, first_ofs: int):
    """Key positions as Redis finds them for a command with a key count: the key specs
    when they hold (string2ll count, cast to int; every counted key present; the
    destination first), else the command's getkeys_proc, genericGetKeys, which reads the
    count with atoi and lists the destination last."""

    def getkeys(argv: list[bytes]) -> list[int]:
        argc = len(argv)
        if count_ofs >= argc:
            return []
        n = parse_int(argv[count_ofs])
        store = [store_ofs] if store_ofs else []
        if n is not None and n >= 0 and 1 <= _int32(n) <= argc - first_ofs:
            n = _int32(n)
            return store + list(range(first_ofs, first_ofs + n))
        n = _atoi(argv[count_ofs])
        if n < 1 or n > argc - first_ofs:
            return []
        return list(range(first_ofs, first_ofs + n)) + store

    return getkeys


_STORE_KEYS = _numkeys_getkeys(1, 2, 3)  # zunionInterDiffStoreGetKeys
_INPUT_KEYS = _numkeys_getkeys(0, 1, 2)  # zunionInterDiffGetKeys, zmpopGetKeys
_BZMPOP_KEYS = _numkeys_getkeys(0, 2, 3)  # bzmpopGetKeys


# -- ZADD ZINCRBY ----------------------------------------------------------------------------

#: Scores in plain decimal notation, which ``float`` reads exactly as strtod does (and which
#: cannot overflow at this length): the common case skips the general parser.
_PLAIN_NUMBER = re.compile(rb"-?[0-9]{1,300}(?:\.[0-9]{1,300})?").fullmatch


def _score(arg: bytes) -> float:
    """getDoubleFromObjectOrReply for a score."""
    if _PLAIN_NUMBER(arg) is not None:
        return float(arg)
    return to_float(arg)


_NX, _XX, _GT, _LT, _INCR, _CH = 1, 2, 4, 8, 16, 32
_ZADD_WORDS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT, b"incr": _INCR, b"ch": _CH}


def _zadd_generic(c, argv: list[bytes], flags: int) -> bytes:
    """zaddGenericCommand: ZADD, and ZINCRBY (``flags`` = INCR)."""
    n = len(argv)
    i = 2
    while i < n:
        word = _ZADD_WORDS.get(_copt(argv[i]))
        if word is None:
            break
        flags |= word
        i += 1
    pairs = n - i
    if pairs % 2 or not pairs:
        raise CommandError(E.SYNTAX)
    nx, xx, gt, lt, incr = flags & _NX, flags & _XX, flags & _GT, flags & _LT, flags & _INCR
    if nx and xx:
        raise CommandError("XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("GT, LT, and/or NX options at the same time are not compatible")
    if incr and pairs > 2:
        raise CommandError("INCR option supports a single increment-element pair")
    scores = [_score(argv[j]) for j in range(i, n, 2)]

    db = c.db
    key = argv[1]
    zs = _zset_or_none(db.get_for_write(key))
    added = updated = processed = 0
    score = 0.0
    if zs is None:
        if xx:
            return c.proto.null if incr else ZERO
        zs = ZSet()
        created = True
    else:
        created = False
    members = zs.scores
    limits = None
    for j, score in enumerate(scores):
        member = argv[i + 1 + 2 * j]
        cur = members.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if _isnan(score):
                    raise CommandError(NAN_RESULT)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                zs.update(member, cur, score)
                updated += 1
        elif not xx:
            if limits is None:
                limits = _listpack_limits(c)
            _add_member(zs, member, score, limits)
            added += 1
            processed += 1
    _zadd_done(c, key, zs, created, added, updated, incr)
    if incr:
        return c.proto.double(score) if processed else c.proto.null
    return enc.integer(added + updated if flags & _CH else added)


def _zadd_done(c, key: bytes, zs: ZSet, created: bool, added: int, updated: int, incr) -> None:
    if created and zs.scores:
        c.db.set(key, zs)
        c.node.dirty += added + updated - 1
    elif added or updated:
        _changed(c, key, added + updated, False)
    if added or updated:
        _notify(c, key, "zincr" if incr else "zadd")


def zadd_run(c, reqs: list, i: int, out: list) -> int:
    """ZADD's run handler, see ``CommandSpec.run``: serves ``reqs[i:]`` while they are
    ``ZADD key score member`` with a plain decimal score on an existing sorted set without
    a TTL, in the state ``Database.write_run_state`` describes; ``_zadd_one`` inlined. A
    missing key (the set is created), an option, more pairs, another score syntax, another
    type or a TTL is left to the command."""
    db = c.db
    state = db.write_run_state()
    if state is None:
        return i
    data, expires, lru, now_lru = state
    name = reqs[i][0]
    limits = _listpack_limits(c)
    append = out.append
    j = i
    changes = 0
    for argv in islice(reqs, i, None):
        if len(argv) != 4 or argv[0] != name or _PLAIN_NUMBER(argv[2]) is None:
            break
        key = argv[1]
        zs = data.get(key)
        if zs.__class__ is not ZSet or (expires and key in expires):
            break
        score = float(argv[2])
        member = argv[3]
        cur = zs.scores.get(member)
        if cur is None:
            _add_member(zs, member, score, limits)
            changes += 1
            append(ONE)
        else:
            if cur != score:
                zs.update(member, cur, score)
                changes += 1
            append(ZERO)
        lru[key] = now_lru
        j += 1
    db.node.dirty += changes
    return j


@command("zadd", run=zadd_run)
def zadd(c, argv):
    if len(argv) == 4 and _PLAIN_NUMBER(argv[2]) is not None:
        return _zadd_one(c, argv[1], float(argv[2]), argv[3])
    return _zadd_generic(c, argv, 0)


def _zadd_one(c, key: bytes, score: float, member: bytes) -> bytes:
    """ZADD key score member, no options: the common case, in one pass."""
    db = c.db
    zs = db.get_for_write(key)
    if zs is None:
        zs = ZSet()
        _add_member(zs, member, score, _listpack_limits(c))
        db.set(key, zs)
    else:
        if zs.__class__ is not ZSet:
            raise CommandError(E.WRONGTYPE)
        cur = zs.scores.get(member)
        if cur is None:
            _add_member(zs, member, score, _listpack_limits(c))
        elif cur != score:
            zs.update(member, cur, score)
            c.node.key_modified(db, key)
            _notify(c, key, "zadd")
            return ZERO
        else:
            return ZERO
        c.node.key_modified(db, key)
    _notify(c, key, "zadd")
    return ONE


@command("zincrby")
def zincrby(c, argv):
    return _zadd_generic(c, argv, _INCR)


# -- ZREM ZREMRANGEBY* -----------------------------------------------------------------------


@command("zrem")
def zrem(c, argv):
    key = argv[1]
    zs = _zset_or_none(c.db.get_for_write(key))
    if zs is None:
        return ZERO
    deleted = 0
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if not zs.scores:
                break
    if deleted:
        emptied = not zs.scores
        _changed(c, key, deleted, emptied)
        _notify(c, key, "zrem")
        if emptied:
            _notify(c, key, "del", "g")
    return enc.integer(deleted)


def _zremrange(c, argv, span, event: str) -> bytes:
    """zremrangeGenericCommand, once the range is parsed: ``span(zs)`` gives the positions."""
    key = argv[1]
    zs = _zset_or_none(c.db.get_for_write(key))
    if zs is None:
        return ZERO
    start, stop = span(zs)
    deleted = zs.delete_span(start, stop)
    if deleted:
        emptied = not zs.scores
        _changed(c, key, deleted, emptied)
        _notify(c, key, event)
        if emptied:
            _notify(c, key, "del", "g")
    return enc.integer(deleted)


@command("zremrangebyrank")
def zremrangebyrank(c, argv):
    start = to_int(argv[2])
    end = to_int(argv[3])
    return _zremrange(c, argv, lambda zs: zs.rank_span(start, end), "zremrangebyrank")


@command("zremrangebyscore")
def zremrangebyscore(c, argv):
    rng = _score_range(argv[2], argv[3])
    return _zremrange(c, argv, lambda zs: zs.score_span(*rng), "zremrangebyscore")


@command("zremrangebylex")
def zremrangebylex(c, argv):
    lo, hi = _lex_range(argv[2], argv[3])
    return _zremrange(c, argv, lambda zs: zs.lex_span(lo, hi), "zremrangebylex")


# -- reads -----------------------------------------------------------------------------------


@command("zcard")
def zcard(c, argv):
    zs = _zset_or_none(c.db.get(argv[1]))
    return enc.integer(len(zs.scores)) if zs is not None else ZERO


@command("zscore")
def zscore(c, argv):
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return c.proto.null
    score = zs.scores.get(argv[2])
    return c.proto.null if score is None else c.proto.double(score)


@command("zmscore")
def zmscore(c, argv):
    zs = _zset_or_none(c.db.get(argv[1]))
    get = zs.scores.get if zs is not None else {}.get
    null, dbl = c.proto.null, c.proto.double
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for member in argv[2:]:
        score = get(member)
        parts.append(null if score is None else dbl(score))
    return b"".join(parts)


def _zrank(c, argv, reverse: bool) -> bytes:
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return c.proto.null
    rank = zs.rank(argv[2], reverse)
    return c.proto.null if rank is None else enc.integer(rank)


@command("zrank")
def zrank(c, argv):
    return _zrank(c, argv, False)


@command("zrevrank")
def zrevrank(c, argv):
    return _zrank(c, argv, True)


@command("zcount")
def zcount(c, argv):
    rng = _score_range(argv[2], argv[3])
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return ZERO
    start, stop = zs.score_span(*rng)
    return enc.integer(stop - start)


@command("zlexcount")
def zlexcount(c, argv):
    lo, hi = _lex_range(argv[2], argv[3])
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return ZERO
    start, stop = zs.lex_span(lo, hi)
    return enc.integer(stop - start)


# -- ZRANGE and family -----------------------------------------------------------------------

_BY_RANK, _BY_SCORE, _BY_LEX = 1, 2, 3


def _score_items(zs: ZSet, rng, reverse: bool, offset: int, limit: int):
    """genericZrangebyscoreCommand: the range, then OFFSET members skipped, at most LIMIT
    (negative: all). A negative offset runs off the end, as Redis's loop does."""
    lo, hi = zs.score_span(*rng)
    if offset < 0 or lo >= hi:
        return []
    if reverse:
        top = hi - offset
        bottom = lo if limit < 0 else max(lo, top - limit)
        return zs.slice(bottom, top, True)
    first = lo + offset
    stop = hi if limit < 0 else min(hi, first + limit)
    return zs.slice(first, stop)


def _zrange_generic(c, argv, first: int, store: bool, rangetype: int | None, reverse: bool | None) -> bytes:
    """zrangeGenericCommand: ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX]."""
    n = len(argv)
    withscores = False
    offset, limit = 0, -1
    j = first + 3
    while j < n:
        opt = _copt(argv[j])
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and n - j - 1 >= 2:
            offset = to_int(argv[j + 1])
            limit = to_int(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype is None and opt == b"bylex":
            rangetype = _BY_LEX
        elif rangetype is None and opt == b"byscore":
            rangetype = _BY_SCORE
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or _BY_RANK
    if limit != -1 and rangetype == _BY_RANK:
        raise CommandError(LIMIT_NEEDS_BY)
    if withscores and rangetype == _BY_LEX:
        raise CommandError(WITHSCORES_BYLEX)
    lo_arg, hi_arg = argv[first + 1], argv[first + 2]
    if reverse and rangetype != _BY_RANK:
        lo_arg, hi_arg = hi_arg, lo_arg  # given as max, min
    if rangetype == _BY_RANK:
        start, end = to_int(lo_arg), to_int(hi_arg)
    elif rangetype == _BY_SCORE:
        rng = _score_range(lo_arg, hi_arg)
    else:
        lo, hi = _lex_range(lo_arg, hi_arg)

    zs = _zset_or_none(c.db.get(argv[first]))
    if zs is None:
        return _store_range(c, argv[1], []) if store else EMPTY_ARRAY
    if rangetype == _BY_RANK:
        a, b = zs.rank_span(start, end)
        if reverse:
            size = len(zs.scores)
            a, b = size - b, size - a
        items = zs.slice(a, b, reverse)
    elif rangetype == _BY_SCORE:
        items = _score_items(zs, rng, reverse, offset, limit)
    else:
        items = zs.slice(*zs.lex_span(lo, hi, reverse, offset, limit), reverse)
    if store:
        return _store_range(c, argv[1], items)
    return _items_reply(c, items, withscores)


def _store_range(c, dst: bytes, items) -> bytes:
    """zrangeResultFinalizeStore: the members go into a new set, added one by one as
    ZADD would add them (so the encoding follows the same rule)."""
    db = c.db
    if not items:
        if db.delete(dst):
            _notify(c, dst, "del", "g")
        return ZERO
    zs = ZSet()
    limits = _listpack_limits(c)
    for score, member in items:
        _add_member(zs, member, score, limits)
    set_key(db, dst, zs)
    _notify(c, dst, "zrangestore")
    return enc.integer(len(items))


@command("zrange")
def zrange(c, argv):
    return _zrange_generic(c, argv, 1, False, None, None)


@command("zrangestore")
def zrangestore(c, argv):
    return _zrange_generic(c, argv, 2, True, None, None)


@command("zrevrange")
def zrevrange(c, argv):
    return _zrange_generic(c, argv, 1, False, _BY_RANK, True)


@command("zrangebyscore")
def zrangebyscore(c, argv):
    return _zrange_generic(c, argv, 1, False, _BY_SCORE, False)


@command("zrevrangebyscore")
def zrevrangebyscore(c, argv):
    return _zrange_generic(c, argv, 1, False, _BY_SCORE, True)


@command("zrangebylex")
def zrangebylex(c, argv):
    return _zrange_generic(c, argv, 1, False, _BY_LEX, False)


@command("zrevrangebylex")
def zrevrangebylex(c, argv):
    return _zrange_generic(c, argv, 1, False, _BY_LEX, True)


# -- ZUNION ZINTER ZDIFF (and STORE), ZINTERCARD ---------------------------------------------

_UNION, _INTER, _DIFF = 1, 2, 3
_SUM, _MIN, _MAX = 1, 2, 3
_AGGREGATES = {b"sum": _SUM, b"min": _MIN, b"max": _MAX}
_STORE_EVENTS = {_UNION: "zunionstore", _INTER: "zinterstore", _DIFF: "zdiffstore"}


def _aggregate(target: float, value: float, how: int) -> float:
    """zunionInterAggregate: SUM turns inf + -inf (NaN) into 0."""
    if how == _SUM:
        target += value
        return 0.0 if _isnan(target) else target
    if how == _MIN:
        return value if value < target else target
    return value if value > target else target


def _scored(obj):
    """(member, score) of an input: a sorted set's scores, or 1.0 for a plain set."""
    if obj.__class__ is ZSet:
        return obj.scores.items()
    return ((m, 1.0) for m in obj)


def _find(obj, member: bytes):
    """zuiFind: the member's score in an input, or None."""
    if obj.__class__ is ZSet:
        return obj.scores.get(member)
    return 1.0 if member in obj else None


def _set_op(c, argv, dst: bytes | None, first: int, op: int, cardinality_only: bool, name: str) -> bytes:
    """zunionInterDiffGenericCommand."""
    setnum = to_int(argv[first])
    if setnum < 1:
        raise CommandError("at least 1 input key is needed for '%s' command" % name)
    n = len(argv)
    if setnum > n - (first + 1):
        raise CommandError(E.SYNTAX)
    db = c.db
    inputs = []
    for key in argv[first + 1 : first + 1 + setnum]:
        obj = db.get(key)
        if obj is not None and obj.__class__ is not ZSet and type_name(obj) != b"set":
            raise CommandError(E.WRONGTYPE)
        inputs.append(obj)
    weights = [1.0] * setnum
    how = _SUM
    withscores = False
    limit = 0
    j = first + 1 + setnum
    while j < n:
        remaining = n - j
        opt = _copt(argv[j])
        if op != _DIFF and not cardinality_only and remaining >= setnum + 1 and opt == b"weights":
            weights = [to_float(w, WEIGHT_NOT_FLOAT) for w in argv[j + 1 : j + 1 + setnum]]
            j += setnum + 1
        elif op != _DIFF and not cardinality_only and remaining >= 2 and opt == b"aggregate":
            how = _AGGREGATES.get(_copt(argv[j + 1]))
            if how is None:
                raise CommandError(E.SYNTAX)
            j += 2
        elif dst is None and not cardinality_only and opt == b"withscores":
            withscores = True
            j += 1
        elif cardinality_only and remaining >= 2 and opt == b"limit":
            limit = to_nonneg_int(argv[j + 1], "LIMIT can't be negative", "LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(E.SYNTAX)

    sources = list(zip(inputs, weights))
    if op != _DIFF:
        # Smallest first (a stable sort, like glibc's qsort): the order of the sums.
        sources.sort(key=lambda s: len(s[0]) if s[0] is not None else 0)
    if op == _INTER:
        result = _inter(sources, how, cardinality_only, limit)
        if cardinality_only:
            return enc.integer(result)
    elif op == _UNION:
        result = _union(sources, how)
    else:
        result = _diff(inputs)

    if dst is not None:
        return _store_result(c, dst, result, op)
    items = sorted([(s, m) for m, s in result.items()])
    return _items_reply(c, items, withscores)


def _inter(sources, how: int, cardinality_only: bool, limit: int):
    first, w0 = sources[0]
    if not first:
        return 0 if cardinality_only else {}
    others = sources[1:]
    result = {}
    count = 0
    for member, s in _scored(first):
        score = w0 * s
        if _isnan(score):
            score = 0.0
        for obj, w in others:
            if obj is first:
                value = s * w
            else:
                value = _find(obj, member) if obj is not None else None
                if value is None:
                    break
                value *= w
            score = _aggregate(score, value, how)
        else:
            if cardinality_only:
                count += 1
                if limit and count >= limit:
                    break
            else:
                result[member] = score
    return count if cardinality_only else result


def _union(sources, how: int) -> dict:
    acc: dict[bytes, float] = {}
    for obj, w in sources:
        if not obj:
            continue
        for member, s in _scored(obj):
            score = w * s
            if _isnan(score):
                score = 0.0
            prev = acc.get(member)
            acc[member] = score if prev is None else _aggregate(prev, score, how)
    return acc


def _diff(inputs) -> dict:
    first = inputs[0]
    if not first or any(obj is first for obj in inputs[1:]):
        return {}
    others = [obj for obj in inputs[1:] if obj]
    return {m: s for m, s in _scored(first) if not any(_find(o, m) is not None for o in others)}


def _store_result(c, dst: bytes, result: dict, op: int) -> bytes:
    db = c.db
    if not result:
        if db.delete(dst):
            _notify(c, dst, "del", "g")
        return ZERO
    entries, value = _listpack_limits(c)
    longest = max(map(len, result))
    total = sum(map(len, result))
    listpack = len(result) <= entries and longest <= value and total <= 1 << 30
    set_key(db, dst, ZSet.from_pairs(result.items(), listpack))
    _notify(c, dst, _STORE_EVENTS[op])
    return enc.integer(len(result))


@command("zunion", getkeys=_INPUT_KEYS)
def zunion(c, argv):
    return _set_op(c, argv, None, 1, _UNION, False, "zunion")


@command("zinter", getkeys=_INPUT_KEYS)
def zinter(c, argv):
    return _set_op(c, argv, None, 1, _INTER, False, "zinter")


@command("zdiff", getkeys=_INPUT_KEYS)
def zdiff(c, argv):
    return _set_op(c, argv, None, 1, _DIFF, False, "zdiff")


@command("zunionstore", getkeys=_STORE_KEYS)
def zunionstore(c, argv):
    return _set_op(c, argv, argv[1], 2, _UNION, False, "zunionstore")


@command("zinterstore", getkeys=_STORE_KEYS)
def zinterstore(c, argv):
    return _set_op(c, argv, argv[1], 2, _INTER, False, "zinterstore")


@command("zdiffstore", getkeys=_STORE_KEYS)
def zdiffstore(c, argv):
    return _set_op(c, argv, argv[1], 2, _DIFF, False, "zdiffstore")


@command("zintercard", getkeys=_INPUT_KEYS)
def zintercard(c, argv):
    return _set_op(c, argv, None, 1, _INTER, True, "zintercard")


# -- pops --------------------------------------------------------------------------------------


def _pop_reply(c, key: bytes, zs: ZSet, from_max: bool, count: int, emitkey: bool, nested: bool) -> bytes:
    """genericZpopCommand once a non-empty set was found: pop, notify, delete an emptied key,
    and build the reply in one of its four shapes. ``count`` -1 is a plain single pop."""
    items = zs.pop(1 if count == -1 else count, from_max)
    popped = len(items)
    _changed(c, key, popped, not zs.scores)
    _notify(c, key, "zpopmax" if from_max else "zpopmin")
    if not zs.scores:
        _notify(c, key, "del", "g")
    dbl = c.proto.double
    if nested:
        body = b"".join(b"*2\r\n$%d\r\n%b\r\n%b" % (len(m), m, dbl(s)) for s, m in items)
        header = b"*%d\r\n" % popped
        if emitkey:
            header = b"*2\r\n$%d\r\n%b\r\n" % (len(key), key) + header
        return header + body
    body = b"".join(b"$%d\r\n%b\r\n%b" % (len(m), m, dbl(s)) for s, m in items)
    if emitkey:
        return b"*%d\r\n$%d\r\n%b\r\n%b" % (2 * popped + 1, len(key), key, body)
    return b"*%d\r\n%b" % (2 * popped, body)


def _first_zset(c, keys):
    """The first existing key among ``keys`` (write lookups), WRONGTYPE if it is not a set."""
    db = c.db
    for key in keys:
        v = db.get_for_write(key)
        if v is not None:
            return key, _zset_or_none(v)
    return None, None


def _zpop(c, argv, from_max: bool) -> bytes:
    if len(argv) > 3:
        raise CommandError(E.SYNTAX)
    # getPositiveLongFromObjectOrReply: one message for junk and for negative numbers.
    count = to_nonneg_int(argv[2], E.OUT_OF_RANGE_POSITIVE) if len(argv) == 3 else -1
    key, zs = _first_zset(c, argv[1:2])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    return _pop_reply(c, key, zs, from_max, count, False, c.resp > 2 and count != -1)


@command("zpopmin")
def zpopmin(c, argv):
    return _zpop(c, argv, False)


@command("zpopmax")
def zpopmax(c, argv):
    return _zpop(c, argv, True)


def _ranged_long(arg: bytes, message: str) -> int:
    """getRangeLongFromObjectOrReply(1, LONG_MAX, message)."""
    v = parse_int(arg)
    if v is None or v < 1:
        raise CommandError(message)
    return v


def _parse_mpop(argv, numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """zmpopGenericCommand's arguments: (keys, from_max, count)."""
    numkeys = _ranged_long(argv[numkeys_idx], "numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    n = len(argv)
    if where_idx >= n:
        raise CommandError(E.SYNTAX)
    where = _copt(argv[where_idx])
    if where not in (b"min", b"max"):
        raise CommandError(E.SYNTAX)
    count = -1
    j = where_idx + 1
    while j < n:
        if count == -1 and _copt(argv[j]) == b"count" and n - 1 - j:
            count = _ranged_long(argv[j + 1], "count should be greater than 0")
            j += 2
        else:
            raise CommandError(E.SYNTAX)
    return argv[numkeys_idx + 1 : where_idx], where == b"max", 1 if count == -1 else count


def _pop_argv(key: bytes, from_max: bool, count: int, size: int) -> list[bytes]:
    """How ZMPOP and the blocking pops replicate: ZPOPMIN/ZPOPMAX key [the count taken]."""
    name = b"ZPOPMAX" if from_max else b"ZPOPMIN"
    if count == -1:
        return [name, key]
    return [name, key, b"%d" % min(count, size)]


def _pop_rewrite(c, key: bytes, from_max: bool, count: int, size: int) -> None:
    _rewrite(c, _pop_argv(key, from_max, count, size))


@command("zmpop", getkeys=_INPUT_KEYS)
def zmpop(c, argv):
    keys, from_max, count = _parse_mpop(argv, 1)
    key, zs = _first_zset(c, keys)
    if zs is None:
        return c.proto.null_array
    size = len(zs.scores)
    reply = _pop_reply(c, key, zs, from_max, count, True, True)
    _pop_rewrite(c, key, from_max, count, size)
    return reply


# -- blocking pops ----------------------------------------------------------------------------


def _serve_pop(from_max: bool, count: int, nested: bool):
    """A blocked BZPOPMIN/BZPOPMAX/BZMPOP served (serveClientsBlockedOnSortedSetKey): the pop
    as genericZpopCommand does it, propagated as ZPOPMIN/ZPOPMAX."""

    def serve(c, db, key, zs):
        size = len(zs.scores)
        reply = _pop_reply(c, key, zs, from_max, count, True, nested)
        c.rewrite = [_pop_argv(key, from_max, count, size)]
        return reply

    return serve


def _blocking_pop(c, argv, keys, from_max: bool, timeout_arg: bytes, count: int, nested: bool) -> bytes:
    """blockingGenericZpopCommand: pop from the first non-empty key, or block on them all.
    ``count`` is -1 for BZPOPMIN/BZPOPMAX (one member, flat reply), n for BZMPOP."""
    deadline = parse_timeout(c, timeout_arg)
    db = c.db
    for key in keys:
        zs = _zset_or_none(db.get_for_write(key))
        if zs is not None:
            size = len(zs.scores)
            reply = _pop_reply(c, key, zs, from_max, count, True, nested)
            _pop_rewrite(c, key, from_max, count, size)
            return reply
    if not may_block(c):
        return c.proto.null_array
    serve = _serve_pop(from_max, count, nested)
    return c.node.blocking.block(c, argv, keys, deadline, ZSet.redis_type, serve)


@command("bzpopmin")
def bzpopmin(c, argv):
    return _blocking_pop(c, argv, argv[1:-1], False, argv[-1], -1, False)


@command("bzpopmax")
def bzpopmax(c, argv):
    return _blocking_pop(c, argv, argv[1:-1], True, argv[-1], -1, False)


@command("bzmpop", getkeys=_BZMPOP_KEYS)
def bzmpop(c, argv):
    keys, from_max, count = _parse_mpop(argv, 2)
    return _blocking_pop(c, argv, keys, from_max, argv[1], count, True)


# -- ZRANDMEMBER ------------------------------------------------------------------------------

_LONG_HALF = LLONG_MAX // 2
#: ZRANDMEMBER_SUB_STRATEGY_MUL
_SUB_STRATEGY_MUL = 3


@command("zrandmember")
def zrandmember(c, argv):
    n = len(argv)
    if n >= 3:
        count = parse_int(argv[2])
        if count is None:
            raise CommandError(E.NOT_INTEGER)
        if count == LLONG_MIN:
            raise CommandError(
                "value is out of range, value must between %d and %d" % (-LLONG_MAX, LLONG_MAX)
            )
        if n > 4 or (n == 4 and _copt(argv[3]) != b"withscores"):
            raise CommandError(E.SYNTAX)
        withscores = n == 4
        if withscores and (count < -_LONG_HALF or count > _LONG_HALF):
            raise CommandError(E.OUT_OF_RANGE)
        return _zrandmember_count(c, argv[1], count, withscores)
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return c.proto.null
    member = zs.order[c.node.rng.randrange(len(zs.order))][1]
    return b"$%d\r\n%b\r\n" % (len(member), member)


def _zrandmember_count(c, key: bytes, count: int, withscores: bool) -> bytes:
    """zrandmemberWithCountCommand: negative counts may repeat members; a count covering the
    set returns it all, highest first (Redis walks it from the tail)."""
    zs = _zset_or_none(c.db.get(key))
    if zs is None or count == 0:
        return EMPTY_ARRAY
    order = zs.order
    size = len(order)
    rng = c.node.rng
    if count < 0 or count == 1:
        picks = abs(count)
        items = (order[rng.randrange(size)] for _ in range(picks))
    elif count >= size:
        picks = size
        items = reversed(order)
    else:
        picks = count
        chosen = sorted(rng.sample(range(size), count))
        items = [order[i] for i in chosen]
        if not zs.listpack or count * _SUB_STRATEGY_MUL > size:
            rng.shuffle(items)  # hash order, not set order, unless from a listpack
    if withscores:
        return _double_pairs(c, items, picks)
    return _members_reply(list(items))


# -- ZSCAN -----------------------------------------------------------------------------------


@command("zscan")
def zscan(c, argv):
    cursor = parse_cursor(argv[2])
    zs = _zset_or_none(c.db.get(argv[1]))
    if zs is None:
        return _EMPTY_SCAN
    count = 10
    pattern = None
    i, n = 3, len(argv)
    while i < n:
        opt = _copt(argv[i])
        if opt == b"count" and n - i >= 2:
            count = to_int(argv[i + 1])
            if count < 1:
                raise CommandError(E.SYNTAX)
        elif opt == b"match" and n - i >= 2:
            pattern = argv[i + 1]
        else:
            raise CommandError(E.SYNTAX)
        i += 2
    scores = zs.scores
    if zs.listpack:
        pairs = [(m, listpack_score_text(s)) for s, m in zs.order]
        cursor = 0
    else:
        # COUNT counts members and scores alike (two entries per member), as in Redis.
        cursor, members = zs.scan_step(cursor, (count + 1) // 2, count * 10)
        pairs = [(m, format_double(scores[m])) for m in members]
    if pattern is not None and pattern != b"*":
        match = compile_pattern(pattern)
        pairs = [p for p in pairs if match(p[0])]
    text = b"%d" % cursor
    parts = [b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(text), text, 2 * len(pairs))]
    for member, score in pairs:
        parts.append(b"$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(member), member, len(score), score))
    return b"".join(parts)
