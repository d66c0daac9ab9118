"""The sorted set value (Redis's OBJ_ZSET): members with scores, ordered by (score, member).

Design note
-----------
Two structures hold the same members, as in Redis's skiplist encoding:

``scores``  member -> score (a dict: ZSCORE, membership, ZADD's "does it exist");
``order``   a ``sortedcontainers.SortedList`` of ``(score, member)`` tuples. Python orders
            those tuples exactly as Redis orders a sorted set -- by score, then by member
            bytes compared like ``memcmp`` with the shorter string first on a tie -- and
            the list gives positional access and bisection in O(log n): ranks, rank
            ranges, score ranges and lex ranges never walk the set.

Redis's two encodings behave the same except in a few visible places, so the object keeps
a ``listpack`` flag and honours them:

* OBJECT ENCODING says ``listpack`` until a new member makes the set longer than
  ``zset-max-listpack-entries`` or is longer than ``zset-max-listpack-value`` bytes; then
  ``skiplist``, for good (the command layer decides, see ``commands/zsets.py``);
* a listpack stores an integral score as an integer, so ``-0`` comes back as ``0`` while
  a skiplist keeps ``-0`` (``insert``/``update`` normalise while ``listpack`` is set);
* ZSCAN returns a listpack whole, with each score spelled as the listpack stores it
  (``listpack_score_text``), and walks a skiplist with a cursor (``scan_step``, the
  ``ScanTable`` cursors of sets and hashes).

Lex ranges are defined by Redis only for members that share one score. For other sets the
result depends on how Redis walks its structure; we follow the listpack walk (find the
first member inside the range from the head, then continue while members stay below the
upper bound), which is what Redis itself answers for every set small enough to be a
listpack, and bisect when all scores are equal (first score == last score), the case
where every walk agrees.
"""

from __future__ import annotations

import math
import re

from sortedcontainers import SortedList

from .set import ScanTable

_INF = math.inf
_nextafter = math.nextafter
#: |score| up to this is stored as an integer in a listpack (double2ll's LLONG_MAX/2).
_LISTPACK_INT_LIMIT = float(2**62)


class LexBound:
    """One end of a lex range (zslParseLexRangeItem): ``-``, ``+``, ``[value`` or ``(value``.

    ``key`` orders bounds the way sdscmplex does: ``-`` below every string, ``+`` above.
    """

    __slots__ = ("kind", "value", "exclusive", "key")

    def __init__(self, kind: int, value: bytes = b"", exclusive: bool = True):
        self.kind = kind  # -1 for "-", 0 for a string, +1 for "+"
        self.value = value
        self.exclusive = exclusive
        self.key = (kind, value)


def lex_empty(lo: LexBound, hi: LexBound) -> bool:
    """A lex range that can hold nothing, whatever the set (zslIsInLexRange's first test)."""
    if lo.key > hi.key:
        return True
    return lo.key == hi.key and (lo.exclusive or hi.exclusive)


def _gte_min(member: bytes, lo: LexBound) -> bool:
    if lo.kind:
        return lo.kind < 0
    return member > lo.value if lo.exclusive else member >= lo.value


def _lte_max(member: bytes, hi: LexBound) -> bool:
    if hi.kind:
        return hi.kind > 0
    return member < hi.value if hi.exclusive else member <= hi.value


def listpack_score_text(score: float) -> bytes:
    """A score as a listpack stores it (zzlInsertAt): an integer when double2ll takes it,
    else d2string's ``%.17g`` (inf and -inf spelled out)."""
    if -_LISTPACK_INT_LIMIT <= score <= _LISTPACK_INT_LIMIT and score == int(score):
        return b"%d" % int(score)
    if score == _INF:
        return b"inf"
    if score == -_INF:
        return b"-inf"
    return b"%.17g" % score


#: A skiplist node's allocation at its expected height (levels of 16 bytes over 24, p=1/4),
#: and the header node's (32 levels).
_NODE = 53
_HEADER_NODE = 640
_INT_TEXT = re.compile(rb"0|-?[1-9][0-9]{0,18}").fullmatch


def _lp_entry(text: bytes) -> int:
    """Bytes of one listpack entry (lpInsert): an integer in its smallest encoding, else a
    string with its length header; then the back-length."""
    size = 0
    if _INT_TEXT(text) is not None and -(2**63) <= int(text) < 2**63:
        v = int(text)
        for limit, nbytes in ((128, 1), (4096, 2), (1 << 15, 3), (1 << 23, 4), (1 << 31, 5)):
            if (0 <= v < limit) if nbytes == 1 else (-limit <= v < limit):
                size = nbytes
                break
        else:
            size = 9
    else:
        n = len(text)
        size = n + (1 if n < 64 else 2 if n < 4096 else 5)
    return size + (1 if size < 128 else 2 if size < 16384 else 3 if size < 2097152 else 4)


class ZSet:
    """A sorted set. Pure data structure: no I/O, no configuration lookups."""

    redis_type = b"zset"
    __slots__ = ("scores", "order", "listpack", "scan_index")

    def __init__(self, listpack: bool = True):
        self.scores: dict[bytes, float] = {}
        self.order = SortedList()
        #: Redis's encoding: True while it would be a listpack (see the module docstring).
        self.listpack = listpack
        #: ZSCAN's cursor table (``datatypes.set.ScanTable``) while a skiplist is scanned.
        self.scan_index = None

    @classmethod
    def from_pairs(cls, pairs, listpack: bool = False) -> ZSet:
        """A set of distinct (member, score) pairs, built in one sort."""
        z = cls(listpack)
        if listpack:
            pairs = [(m, s + 0.0) for m, s in pairs]
        scores = z.scores = dict(pairs)
        z.order = SortedList([(s, m) for m, s in scores.items()])
        return z

    # -- protocol used by keys.py (TYPE, OBJECT, COPY) and MEMORY USAGE -------------------------
    def object_encoding(self, config) -> bytes:
        return b"listpack" if self.listpack else b"skiplist"

    def copy(self) -> ZSet:
        z = ZSet(self.listpack)
        z.scores = self.scores.copy()
        z.order = self.order.copy()
        return z

    def memory_usage(self, samples: int) -> int:
        """objectComputeSize: a listpack's allocation, or the skiplist's fixed parts plus
        the sampled average member (sds, dictEntry, a node of expected height) times n."""
        from ..info import DICT_ENTRY, ROBJ, element_memory, jemalloc_size, table_buckets

        if self.listpack:
            size = 7 + sum(_lp_entry(m) + _lp_entry(listpack_score_text(s)) for s, m in self.order)
            return ROBJ + jemalloc_size(size)
        n = len(self.scores)
        sizes = [element_memory(m) + DICT_ENTRY + _NODE for _, m in self.order.islice(0, samples or None)]
        fixed = ROBJ + 16 + 32 + 56 + 8 * table_buckets(n) + _HEADER_NODE
        return fixed + (sum(sizes) * n // len(sizes) if sizes else 0)

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self):
        """Members in order (SORT, RDB)."""
        return (m for _, m in self.order)

    def items(self):
        """(member, score) in order."""
        return [(m, s) for s, m in self.order]

    # -- single members ----------------------------------------------------------------------
    def insert(self, member: bytes, score: float) -> None:
        """Add a member that is not in the set."""
        if self.listpack:
            score += 0.0  # an integer in a listpack: -0 is stored as 0
        self.scores[member] = score
        self.order.add((score, member))
        if self.scan_index is not None:
            self.scan_index.add(member)

    def update(self, member: bytes, old: float, new: float) -> None:
        """Move an existing member from score ``old`` to ``new``."""
        if self.listpack:
            new += 0.0
        order = self.order
        order.remove((old, member))
        order.add((new, member))
        self.scores[member] = new

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def rank(self, member: bytes, reverse: bool = False) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        r = self.order.bisect_left((score, member))
        return len(self.scores) - 1 - r if reverse else r

    # -- ranges: each returns a half-open interval of positions in ``order`` ---------------------
    def rank_span(self, start: int, end: int) -> tuple[int, int]:
        """Z(REV)RANGE's index rules: negative from the end, clamped; (0, 0) when empty."""
        n = len(self.scores)
        if start < 0:
            start += n
        if end < 0:
            end += n
        if start < 0:
            start = 0
        if start > end or start >= n:
            return 0, 0
        if end >= n:
            end = n - 1
        return start, end + 1

    def score_span(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """Positions of the members with a score inside the range."""
        if lo > hi or (lo == hi and (lo_ex or hi_ex)):
            return 0, 0
        order = self.order
        n = len(order)
        if lo_ex:
            start = n if lo == _INF else order.bisect_left((_nextafter(lo, _INF),))
        else:
            start = order.bisect_left((lo,))
        if hi_ex:
            stop = order.bisect_left((hi,))
        else:
            stop = n if hi == _INF else order.bisect_left((_nextafter(hi, _INF),))
        return (start, stop) if start < stop else (0, 0)

    def _uniform(self) -> bool:
        order = self.order
        return order[0][0] == order[-1][0]

    def lex_span(self, lo: LexBound, hi: LexBound, reverse: bool = False, offset: int = 0,
                 limit: int = -1) -> tuple[int, int]:
        """Positions Redis visits for a lex range, skipping ``offset`` members first and
        stopping after ``limit`` (negative: no limit). For ``reverse`` the run goes down from
        the last member inside the range, so callers read the interval backwards."""
        order = self.order
        n = len(order)
        if not n or offset < 0 or lex_empty(lo, hi):
            return 0, 0
        if not _gte_min(order[-1][1], lo) or not _lte_max(order[0][1], hi):
            return 0, 0
        uniform = self._uniform()
        if uniform:
            score = order[0][0]
            start = self._lex_bisect(score, lo, low=True)
            stop = self._lex_bisect(score, hi, low=False)
            if start >= stop:
                return 0, 0
            if reverse:
                top = stop - 1 - offset
                if top < start:
                    return 0, 0
                bottom = start if limit < 0 else max(start, top + 1 - limit)
                return bottom, top + 1
            first = start + offset
            if first >= stop:
                return 0, 0
            return first, stop if limit < 0 else min(stop, first + limit)
        members = [m for _, m in order]
        if not reverse:
            first = next(i for i in range(n) if _gte_min(members[i], lo))
            if not _lte_max(members[first], hi):
                return 0, 0
            first += offset
            end = first
            while end < n and end - first != limit and _lte_max(members[end], hi):
                end += 1
            return (first, end) if first < end else (0, 0)
        last = next(i for i in range(n - 1, -1, -1) if _lte_max(members[i], hi))
        if not _gte_min(members[last], lo):
            return 0, 0
        top = last - offset
        low = top
        while low >= 0 and top - low != limit and _gte_min(members[low], lo):
            low -= 1
        return (low + 1, top + 1) if low < top else (0, 0)

    def _lex_bisect(self, score: float, bound: LexBound, low: bool) -> int:
        """In a set of one score: where the members at or above (``low``) / at or below the
        bound start / stop."""
        order = self.order
        if bound.kind:
            inside = (bound.kind < 0) == low  # "-" as the minimum, "+" as the maximum
            return (0 if low else len(order)) if inside else (len(order) if low else 0)
        probe = (score, bound.value)
        if low:
            return order.bisect_right(probe) if bound.exclusive else order.bisect_left(probe)
        return order.bisect_left(probe) if bound.exclusive else order.bisect_right(probe)

    def scan_step(self, cursor: int, want: int, budget: int) -> tuple[int, list[bytes]]:
        """One ZSCAN step over a skiplist's members (the cursor scheme SSCAN/HSCAN use)."""
        table = self.scan_index
        if table is None or table.stale(len(self.scores)):
            table = self.scan_index = ScanTable(self.scores)
        cursor, found = table.scan(self.scores, cursor, want, budget)
        if cursor == 0:
            self.scan_index = None  # the iteration is over: stop paying for the table
        return cursor, found

    # -- bulk --------------------------------------------------------------------------------
    def slice(self, start: int, stop: int, reverse: bool = False) -> list[tuple[float, bytes]]:
        """The (score, member) entries at positions [start, stop), backwards if ``reverse``."""
        if start >= stop:
            return []
        items = self.order[start:stop]
        if reverse:
            items.reverse()
        return items

    def delete_span(self, start: int, stop: int) -> int:
        """Remove the members at positions [start, stop); returns how many."""
        if start >= stop:
            return 0
        order = self.order
        scores = self.scores
        for _, member in order.islice(start, stop):
            del scores[member]
        del order[start:stop]
        return stop - start

    def pop(self, count: int, from_max: bool) -> list[tuple[float, bytes]]:
        """Remove and return up to ``count`` entries from the low (or high) end, in pop order."""
        n = len(self.order)
        if count == 1 and n > 1:
            item = self.order.pop(-1 if from_max else 0)
            del self.scores[item[1]]
            return [item]
        if count >= n:
            items = list(self.order)
            self.order.clear()
            self.scores.clear()
        elif from_max:
            items = self.order[n - count:]
            self.delete_span(n - count, n)
        else:
            items = self.order[:count]
            self.delete_span(0, count)
        if from_max:
            items.reverse()
        return items
