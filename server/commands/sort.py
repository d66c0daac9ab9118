"""SORT and SORT_RO (Redis 7.0 sort.c).

Design note
-----------
The command follows sortCommandGeneric step by step, because most of what a client sees
comes from its exact order of operations:

1. Options are parsed left to right (C-string, case-insensitive words); LIMIT's numbers
   are read as they come, so ``LIMIT x 1`` answers "not an integer" and an unknown word a
   syntax error, whichever comes first. SORT_RO does not know STORE. A BY pattern without
   ``*`` means "do not sort" (``BY nosort``).
2. The key is looked up for reading (keyspace hits and misses), and must be a list, a set
   or a sorted set; a missing key is an empty list. A sorted set is converted to its
   skiplist encoding -- OBJECT ENCODING shows it afterwards. A set sorted with ``BY
   nosort`` into STORE, or from a script, is sorted ALPHA instead, so the result does not
   depend on hash order.
3. LIMIT is clamped to the collection (Redis 7.0.8+'s overflow-safe arithmetic). Without
   sorting, lists and sorted sets load only the requested range, walked backwards for
   DESC; sets load everything in their iteration order.
4. Weights: the element itself, or the BY pattern's value (a string key, or a hash field
   with ``->``); a missing weight is 0 (NULL for ALPHA, which sorts first). Numeric
   weights are read as C's strtod reads them (leading blanks, hex, inf, a string cut at
   its first NUL), and a weight with trailing text, NaN, or overflow/underflow (ERANGE) is
   the error "One or more scores can't be converted into double" -- reported only after
   everything was sorted.
5. Sorting: numbers compare as doubles, ties by the elements' bytes; ALPHA compares with
   strcoll (byte order in Redis's C.UTF-8 locale, up to the first NUL) or, with STORE, by
   the full bytes. glibc's qsort is a stable merge sort, which Python's sort matches
   (also under DESC); with BY and a LIMIT that does not cover everything Redis runs its
   partial quicksort instead (pqsort), which is not stable: ``_pqsort`` ports it so ties
   come out in Redis's order.
6. Output: the elements, or for each one every GET pattern's value (``#`` is the element;
   a missing value is a null, or an empty string in a stored list). STORE writes a list
   (setKey: a new key wakes clients blocked on it, an overwritten one does not) with a
   ``sortstore`` event, or deletes the destination when the result is empty.

Every BY and GET lookup is a read lookup, in Redis's order: first the weights in the
collection's order, then the GETs in output order.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from protocol import encoder as enc

from .. import errors as E
from ..datatypes.hash import RHash
from ..datatypes.list import RList, decode
from ..datatypes.set import RSet
from ..datatypes.zset import ZSet
from ..errors import CommandError
from .args import to_int
from .spec import command
from .strings import copt, set_key

SCORE_ERROR = "One or more scores can't be converted into double"

_ASC, _DESC, _ALPHA, _LIMIT, _STORE, _BY, _GET = (
    b"ASC", b"DESC", b"ALPHA", b"LIMIT", b"STORE", b"BY", b"GET",
)


# -- arguments ---------------------------------------------------------------------------------


class _Options:
    __slots__ = ("desc", "alpha", "limit_start", "limit_count", "store", "by", "dontsort", "gets")

    def __init__(self):
        self.desc = False
        self.alpha = False
        self.limit_start = 0
        self.limit_count = -1
        self.store = None
        self.by = None
        self.dontsort = False
        self.gets: list[bytes] = []


def _cstr(b: bytes) -> bytes:
    """The bytes a C string function sees: up to the first NUL."""
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


def _parse(argv: list[bytes], readonly: bool) -> _Options:
    opts = _Options()
    j = 2
    argc = len(argv)
    while j < argc:
        left = argc - j - 1
        word = copt(argv[j])
        if word == _ASC:
            opts.desc = False
        elif word == _DESC:
            opts.desc = True
        elif word == _ALPHA:
            opts.alpha = True
        elif word == _LIMIT and left >= 2:
            opts.limit_start = to_int(argv[j + 1])
            opts.limit_count = to_int(argv[j + 2])
            j += 2
        elif word == _STORE and left >= 1 and not readonly:
            opts.store = argv[j + 1]
            j += 1
        elif word == _BY and left >= 1:
            opts.by = argv[j + 1]
            if b"*" not in _cstr(opts.by):
                opts.dontsort = True
            j += 1
        elif word == _GET and left >= 1:
            opts.gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    return opts


def sort_getkeys(argv: list[bytes]) -> list[int]:
    """sortGetKeys: the sorted key, and the key of the last STORE option (options with
    arguments are skipped as Redis skips them: LIMIT 2, GET 1, BY 1)."""
    keys = [1]
    store = None
    i = 2
    argc = len(argv)
    while i < argc:
        word = copt(argv[i])
        if word == _LIMIT:
            i += 2
        elif word in (_GET, _BY):
            i += 1
        elif word == _STORE and i + 1 < argc:
            store = i + 1
        i += 1
    if store is not None:
        keys.append(store)
    return keys


# -- patterns ------------------------------------------------------------------------------------


class Pattern:
    """A BY or GET pattern, compiled once per command (lookupKeyByPattern's parsing).

    ``#`` is the element itself; otherwise the first ``*`` is replaced by the element and
    the key read (a string), or with ``key->field`` the field of a hash. Anything else --
    no ``*``, a missing key or field, another type -- is None. Like Redis, ``#``, ``*`` and
    ``->`` are looked for in the pattern as a C string (up to a NUL), while the key and the
    field take every byte around them."""

    __slots__ = ("is_element", "prefix", "suffix", "field")

    def __init__(self, pattern: bytes):
        cpat = _cstr(pattern)
        self.is_element = cpat == b"#"
        self.prefix = self.suffix = self.field = None
        star = cpat.find(b"*")
        if self.is_element or star < 0:
            return
        arrow = cpat.find(b"->", star + 1)
        self.prefix = pattern[:star]
        if arrow >= 0 and arrow + 2 < len(cpat):
            self.field = pattern[arrow + 2 :]
            self.suffix = pattern[star + 1 : arrow]
        else:
            self.suffix = pattern[star + 1 :]

    def lookup(self, db, element: bytes):
        if self.is_element:
            return element
        if self.prefix is None:
            return None
        value = db.get(self.prefix + element + self.suffix)
        if value is None:
            return None
        if self.field is None:
            return value if value.__class__ is bytes or value.__class__ is bytearray else None
        if value.__class__ is not RHash:
            return None
        return value.get(self.field)


# -- weights -------------------------------------------------------------------------------------

#: What glibc's strtod reads completely (after C whitespace), in the C/C.UTF-8 locale.
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:"
    rb"(?P<dec>[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))"
)
_DECIMAL_CHARS = b"0123456789.eE+-"
_DBL_MIN = 2.2250738585072014e-308
_INF = float("inf")


def _hex_exact(text: bytes) -> Fraction:
    """The exact value of a C hexadecimal float literal."""
    body = text.strip().lstrip(b"+-")[2:].lower()
    mantissa, _, exp = body.partition(b"p")
    whole, _, frac = mantissa.partition(b".")
    value = Fraction(int(whole + frac or b"0", 16), 16 ** len(frac))
    return value * Fraction(2) ** int(exp or b"0")


def strtod_score(b: bytes) -> float | None:
    """A numeric weight as SORT reads it: strtod on the C string, which must be consumed
    to its end, and is refused for NaN or ERANGE (overflow, or a result that underflows
    to a subnormal or zero and is inexact, as glibc reports it). None when refused."""
    if b and not b.translate(None, _DECIMAL_CHARS):
        # Only digits, '.', 'e', '+', '-': Python's float grammar for such text is C's
        # decimal grammar, so float() takes exactly what strtod consumes to the end.
        try:
            v = float(b)
        except ValueError:
            return None
        if _DBL_MIN <= abs(v) < _INF:
            return v
    text = _cstr(b)
    if not text:
        return 0.0  # nothing converted, and the end pointer is at the terminator
    m = _STRTOD.fullmatch(text)
    if m is None or m.group("nan"):
        return None
    if m.group("inf"):
        return float("-inf") if text.lstrip(b" \t\n\v\f\r")[:1] == b"-" else float("inf")
    if m.group("hex"):
        try:
            v = float.fromhex(text.decode())
        except OverflowError:
            return None
        if abs(v) < _DBL_MIN and Fraction(abs(v)) != abs(_hex_exact(text)):
            return None
        return v
    v = float(text)
    if v in (float("inf"), float("-inf")):
        return None
    if abs(v) < _DBL_MIN and Decimal(abs(v)) != abs(Decimal(text.decode())):
        return None
    return v


# -- the collection ------------------------------------------------------------------------------


def _clamp(opts: _Options, n: int) -> tuple[int, int]:
    """LIMIT sanity checking: (start, end) inclusive, end < start for nothing."""
    start = min(max(opts.limit_start, 0), n)
    count = min(max(opts.limit_count, -1), n)
    end = n - 1 if count < 0 else start + count - 1
    if start >= n:
        start = n - 1
        end = n - 2
    if end >= n:
        end = n - 1
    return start, end


def _load(value, opts: _Options, start: int, end: int) -> tuple[list[bytes], int, int]:
    """The vector of elements to sort, and (start, end) as the output loop will use them
    (lists and sorted sets read only the range when nothing is sorted)."""
    n = len(value)
    cls = value.__class__
    ranged = opts.dontsort and cls is not RSet and (start != 0 or end != n - 1)
    if cls is RList:
        if not opts.dontsort:
            return list(value), start, end
        if end < start:
            return [], start, end
        count = end - start + 1 if ranged else n
        if opts.desc:
            items = value.range(n - start - count, n - start - 1)
            items.reverse()
        else:
            items = value.range(start, start + count - 1)
        return [decode(x) for x in items], 0, end - start
    if cls is RSet:
        return list(value.ordered()), start, end
    # A sorted set.
    if not opts.dontsort:
        return list(value.scores), start, end
    count = end - start + 1 if ranged else n
    if opts.desc:
        entries = value.slice(n - start - count, n - start, reverse=True)
    else:
        entries = value.slice(start, start + count)
    return [m for _, m in entries], 0, end - start


def _sort(c, vector: list[bytes], opts: _Options, start: int, end: int, storing: bool) -> list[bytes]:
    """Weigh the vector and sort it as Redis's qsort/pqsort would. The score error is
    raised once every weight was looked up (Redis reports it after sorting)."""
    db = c.db
    by = opts.by
    if by is not None:
        lookup = Pattern(by).lookup
        weights = [lookup(db, e) for e in vector]
    else:
        weights = vector
    if opts.alpha:
        if by is None:
            keys = vector if storing else [_cstr(e) for e in vector]
        else:
            keys = [(0,) if w is None else (1, bytes(w if storing else _cstr(w))) for w in weights]
    else:
        bad = False
        keys = []
        for e, w in zip(vector, weights):
            score = 0.0 if w is None else strtod_score(w)
            if score is None:
                bad = True
                score = 0.0
            keys.append((score, e))
        if bad:
            raise CommandError(SCORE_ERROR)
    order = list(range(len(vector)))
    if by is not None and (start != 0 or end != len(vector) - 1) and opts.alpha and len(set(keys)) < len(keys):
        # Redis's partial quicksort; its order only shows where weights tie (numeric ties
        # are broken by the elements themselves), so any other sort gives the same result.
        _pqsort_indices(order, keys, opts.desc, start, end)
    else:
        order.sort(key=keys.__getitem__, reverse=opts.desc)
    return [vector[i] for i in order]


# -- Redis's partial quicksort ---------------------------------------------------------------------
# pqsort.c: Bentley & McIlroy's qsort from NetBSD (in Redis 7.0 without the switch to insertion
# sort when a partition needed no swaps), recursing only into partitions that reach the range.


def _pqsort_indices(order: list[int], keys: list, desc: bool, lrange: int, rrange: int) -> None:
    """Sort ``order`` (indexes into ``keys``) as pqsort sorts the vector, comparing keys
    like sortCompare (negated for DESC); only the part that reaches [lrange, rrange] is
    guaranteed sorted, and ties come out where Redis's algorithm leaves them."""
    sign = -1 if desc else 1

    def cmp(i: int, j: int) -> int:
        a, b = keys[order[i]], keys[order[j]]
        return sign * ((a > b) - (a < b))

    def swap(i: int, j: int) -> None:
        order[i], order[j] = order[j], order[i]

    def med3(a: int, b: int, c: int) -> int:
        if cmp(a, b) < 0:
            return b if cmp(b, c) < 0 else (c if cmp(a, c) < 0 else a)
        return b if cmp(b, c) > 0 else (a if cmp(a, c) < 0 else c)

    def insertion(a: int, n: int) -> None:
        for pm in range(a + 1, a + n):
            pl = pm
            while pl > a and cmp(pl - 1, pl) > 0:
                swap(pl, pl - 1)
                pl -= 1

    def run(a: int, n: int) -> None:
        while True:
            if n < 7:
                insertion(a, n)
                return
            pm = a + n // 2
            if n > 7:
                pl, pn = a, a + n - 1
                if n > 40:
                    d = n // 8
                    pl = med3(pl, pl + d, pl + 2 * d)
                    pm = med3(pm - d, pm, pm + d)
                    pn = med3(pn - 2 * d, pn - d, pn)
                pm = med3(pl, pm, pn)
            swap(a, pm)
            pa = pb = a + 1
            pc = pd = a + n - 1
            while True:
                while pb <= pc:
                    r = cmp(pb, a)
                    if r > 0:
                        break
                    if r == 0:
                        swap(pa, pb)
                        pa += 1
                    pb += 1
                while pb <= pc:
                    r = cmp(pc, a)
                    if r < 0:
                        break
                    if r == 0:
                        swap(pc, pd)
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                swap(pb, pc)
                pb += 1
                pc -= 1
            pn = a + n
            r = min(pa - a, pb - pa)
            for i in range(r):
                swap(a + i, pb - r + i)
            r = min(pd - pc, pn - pd - 1)
            for i in range(r):
                swap(pb + i, pn - r + i)
            r = pb - pa
            if r > 1 and not (rrange < a or lrange >= a + r):
                run(a, r)
            r = pd - pc
            if r <= 1:
                return
            a, n = pn - r, r
            if rrange < a or lrange >= a + n:
                return

    run(0, len(order))


# -- the command ---------------------------------------------------------------------------------


def _from_script(c) -> bool:
    """CLIENT_SCRIPT: the command runs inside EVAL/FCALL (the scripts' ScriptClient)."""
    return getattr(c, "is_script", False)


def _sort_command(c, argv, readonly: bool) -> bytes:
    opts = _parse(argv, readonly)
    db = c.db
    value = db.get(argv[1])
    if value is None:
        value = RList()
    elif value.__class__ is ZSet:
        value.listpack = False  # zsetConvert(sortval, OBJ_ENCODING_SKIPLIST)
    elif value.__class__ is not RList and value.__class__ is not RSet:
        raise CommandError(E.WRONGTYPE)
    storing = opts.store is not None
    if opts.dontsort and value.__class__ is RSet and (storing or _from_script(c)):
        opts.dontsort = False
        opts.alpha = True
        opts.by = None
    start, end = _clamp(opts, len(value))
    vector, start, end = _load(value, opts, start, end)
    if not opts.dontsort:
        vector = _sort(c, vector, opts, start, end, storing)
    picked = vector[start : end + 1] if end >= start else []
    gets = opts.gets
    if storing:
        return _store(c, opts.store, picked, gets)
    if not gets:
        return enc.bulk_array(picked)
    null = c.proto.null
    lookups = [Pattern(p).lookup for p in gets]
    parts = [enc.array_header(len(picked) * len(gets))]
    for element in picked:
        for lookup in lookups:
            v = lookup(db, element)
            parts.append(null if v is None else b"$%d\r\n%b\r\n" % (len(v), v))
    return b"".join(parts)


def _store(c, key: bytes, picked: list[bytes], gets: list[bytes]) -> bytes:
    db = c.db
    node = c.node
    if gets:
        lookups = [Pattern(p).lookup for p in gets]
        values = []
        for element in picked:
            for lookup in lookups:
                v = lookup(db, element)
                values.append(b"" if v is None else bytes(v))
    else:
        values = picked
    n = len(values)
    if n:
        set_key(db, key, RList(values))  # a new key wakes clients blocked on it
        if node.notify_flags:
            node.notify(db, key, "sortstore", "l")
        node.dirty += n - 1
    elif key in db.data:
        # dbDelete: the key goes even if its time has passed (no expiry on the way).
        db.expires.pop(key, None)
        db.delete(key)
        if node.notify_flags:
            node.notify(db, key, "del", "g")
    return enc.integer(n)


@command("sort", getkeys=sort_getkeys)
def sort(c, argv):
    return _sort_command(c, argv, readonly=False)


@command("sort_ro")
def sort_ro(c, argv):
    return _sort_command(c, argv, readonly=True)
