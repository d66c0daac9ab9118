"""The Redis set (``RSet``), and the member machinery sets and hashes share: random draws
(``Members``, ``Picker``) and collection cursors (``ScanTable``).

Design note
-----------
``RSet`` is a Python ``set`` of ``bytes``. Redis 7.0 keeps a set as an *intset* (a sorted
array of int64) while every member is a canonical 64-bit integer and there are at most
``set-max-intset-entries`` of them (capped at 2**30), and as a hash table otherwise; a set
never goes back to intset (SREM of the last string member leaves a hash table), except
that SPOP with a count near the set's size rebuilds the set, and results of SINTERSTORE,
SUNIONSTORE and SDIFFSTORE are new sets. 7.0 has no listpack sets. The ``intset`` flag
records the encoding, decided when members are added, with the limit of that moment.

The encoding matters to clients through iteration order: an intset iterates in numeric
order, so SMEMBERS, SSCAN, SUNION... of an intset answer sorted, and Redis's answers are
then deterministic; a hash table iterates in an order that depends on a random seed, so
any order is as good as Redis's. ``ordered()`` is the order Redis would use; the sorted
list of an intset is cached until the next change.

Every change goes through the methods here (``add_members``, ``remove_members``...), never
through ``set.add`` and friends directly: they keep the flag and the two helper indexes
right.

* ``Picker``: SRANDMEMBER, SPOP and HRANDFIELD draw uniformly at random, which needs
  indexable members. Small collections are copied to a tuple per draw; a large one gets a
  ``Picker`` (a list plus a member -> position map, swap-remove on delete) on its first
  draw, kept up to date by every later change: O(1) draws and updates after that, and
  nothing paid by collections nobody draws from.
* ``ScanTable``: SSCAN and HSCAN of a hash-table collection use Redis's reverse-binary
  cursor guarantee, built as ``server/scan.py`` builds it for SCAN (read its design note):
  a member lives at the 64 bits of its hash, buckets split that range in increasing
  order, and the cursor is the reversed threshold below which everything was returned, so
  rebuilding the table with another size never loses or repeats what was returned. The
  table is built by the first SSCAN/HSCAN of a collection, learns new members while it
  exists, drops deleted ones when their bucket is visited, and is dropped when a call
  finishes an iteration (cursor 0); a later iteration builds it again.
"""

from __future__ import annotations

import re

from ..scan import reverse64

#: Collections up to this size are copied to a tuple per random draw instead of indexed.
SMALL_DRAW = 64
#: Members per bucket of a ScanTable after a (re)build.
SCAN_LOAD = 4
#: intset's own limit on set-max-intset-entries (setTypeAdd).
INTSET_HARD_LIMIT = 1 << 30

_MASK64 = (1 << 64) - 1
_INT_TEXT = re.compile(rb"0|-?[1-9][0-9]{0,18}").fullmatch


def is_int64(member: bytes) -> bool:
    """isSdsRepresentableAsLongLong (string2ll): canonical signed 64-bit integer text."""
    if _INT_TEXT(member) is None:
        return False
    return len(member) < 19 or -(1 << 63) <= int(member) < (1 << 63)


def intset_limit(config) -> int:
    """set-max-intset-entries as setTypeAdd applies it."""
    return min(config.values["set-max-intset-entries"], INTSET_HARD_LIMIT)


# -- random draws ------------------------------------------------------------------------------


class Picker:
    """The members of a collection in a list, for O(1) uniform draws; kept in step with the
    collection by ``add``/``discard`` (a removed member's slot takes the last member)."""

    __slots__ = ("items", "pos")

    def __init__(self, members):
        self.items = items = list(members)
        self.pos = {m: i for i, m in enumerate(items)}

    def add(self, member) -> None:
        self.pos[member] = len(self.items)
        self.items.append(member)

    def discard(self, member) -> None:
        i = self.pos.pop(member, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.pos[last] = i


# -- cursors -----------------------------------------------------------------------------------


def _bits_for(n: int) -> int:
    """Table size exponent giving a load in (SCAN_LOAD/2, SCAN_LOAD] for ``n`` members."""
    return ((n - 1) // SCAN_LOAD).bit_length() if n > SCAN_LOAD else 0


class ScanTable:
    """Buckets of a collection's members by the top bits of their 64-bit hash (see the
    module docstring and ``server/scan.py``)."""

    __slots__ = ("shift", "buckets", "entries")

    def __init__(self, members):
        bits = _bits_for(len(members))
        # hash() is signed: ``h >> shift`` of a negative h is the bucket of its unsigned
        # value minus 2**bits, which a list index reaches from the end.
        shift = self.shift = 64 - bits
        buckets = self.buckets = [[] for _ in range(1 << bits)]
        put = [b.append for b in buckets]
        for m in members:
            put[hash(m) >> shift](m)
        self.entries = len(members)

    def add(self, member) -> None:
        self.buckets[hash(member) >> self.shift].append(member)
        self.entries += 1

    def stale(self, n: int) -> bool:
        """Rebuild when too dense, too sparse, or mostly dead entries."""
        nb = len(self.buckets)
        entries = self.entries
        return entries > 2 * SCAN_LOAD * nb or (nb > 1 and n * 2 < nb) or entries > 2 * n + 2 * SCAN_LOAD

    def _bucket(self, coll, b: int) -> list:
        """Bucket ``b`` without deleted members and repeats (deleted, then re-added)."""
        bucket = self.buckets[b]
        if bucket:
            live = list(dict.fromkeys([m for m in bucket if m in coll]))
            if len(live) != len(bucket):
                self.entries -= len(bucket) - len(live)
                self.buckets[b] = bucket = live
        return bucket

    def scan(self, coll, cursor: int, want: int, budget: int) -> tuple[int, list]:
        """(next cursor, members): whole buckets from the cursor's threshold on, until
        ``want`` members were gathered or ``budget`` more buckets were looked at."""
        t = reverse64(cursor & _MASK64)
        shift = self.shift
        nb = len(self.buckets)
        b = t >> shift
        found = self._bucket(coll, b)
        if t & ((1 << shift) - 1):  # the cursor falls inside this bucket
            found = [m for m in found if hash(m) & _MASK64 >= t]
        else:
            found = found[:]
        b += 1
        while b < nb and len(found) < want and budget > 0:
            found += self._bucket(coll, b)
            b += 1
            budget -= 1
        if b >= nb:
            return 0, found
        return reverse64(b << shift), found


# -- memory ------------------------------------------------------------------------------------


def table_size(n: int) -> int:
    """_dictNextExp: the bucket count dictExpand(n) gives (a power of two, at least 4)."""
    return max(4, 1 << (n - 1).bit_length()) if n > 0 else 4


def dict_slots(n: int, base: int, steps_per_add: int) -> int:
    """dictSlots of a Redis dict that started with ``base`` buckets and got ``n`` entries
    by adds. It doubles when an add finds it full, then rehashes incrementally: each
    operation on it moves one occupied bucket of the old table (about 63% of them are
    occupied), and until that is over both tables count. ``steps_per_add`` is how many
    dict operations an add makes (SADD: 1; HSET: a find and an add). Deletions and
    shrinking are not modelled."""
    size = base
    if n <= size:
        return size
    while size < n:
        size *= 2
    old = size // 2
    occupied = old * (1 - (1 - 1 / old) ** old)
    return size + old if (n - old - 1) * steps_per_add < occupied else size


def sds_memory(b: bytes) -> int:
    """sdsZmallocSize of a member copied into its own sds (sdsnewlen: a 1-byte type-5
    header below 32 bytes, except for the empty string)."""
    from ..info import jemalloc_size, sds_header

    n = len(b)
    return jemalloc_size((1 if 0 < n < 32 else sds_header(n)) + n + 1)


def dict_memory(coll, samples: int, slots: int, entry_size) -> int:
    """objectComputeSize for a hash-table collection: the robj, the dict (56 bytes) and its
    ``slots`` bucket pointers, and the average of the first ``samples`` entries (0: all)
    times their number -- summed in a double and truncated, as Redis does. ``entry_size``
    gives an entry's allocations besides its dictEntry."""
    from ..info import DICT_ENTRY, ROBJ

    n = len(coll)
    size = ROBJ + 56 + 8 * slots
    total = taken = 0
    for m in coll:
        if samples and taken >= samples:
            break
        total += DICT_ENTRY + entry_size(m)
        taken += 1
    return int(size + total / taken * n) if taken else size


# -- what sets and hashes share ----------------------------------------------------------------


class Members:
    """Random draws and cursors over the members of a ``set`` or the fields of a ``dict``.

    The subclass declares the ``_picker``, ``_scan`` and ``_ht_base`` slots (the last is
    the bucket count its Redis dict started with, for MEMORY USAGE) and calls ``_added`` /
    ``_removed`` for each member that enters or leaves while an index exists.
    """

    __slots__ = ()

    def _added(self, member) -> None:
        if self._picker is not None:
            self._picker.add(member)
        if self._scan is not None:
            self._scan.add(member)

    def _removed(self, member) -> None:
        if self._picker is not None:
            self._picker.discard(member)

    def _population(self):
        """An indexable view of the members for random draws."""
        if self._picker is not None:
            return self._picker.items
        if len(self) <= SMALL_DRAW:
            return tuple(self)
        self._picker = Picker(self)
        return self._picker.items

    def random_member(self, rng):
        """One member, uniformly (dictGetFairRandomKey / intsetRandom / lpRandomPair)."""
        items = self._population()
        return items[int(rng.random() * len(items))]

    def random_members(self, rng, count: int) -> list:
        """``count`` independent draws (repetitions allowed), in draw order."""
        return rng.choices(self._population(), k=count)

    def random_sample(self, rng, count: int) -> list:
        """``count`` distinct members (``count < len``), in random order."""
        return rng.sample(self._population(), count)

    def scan_step(self, cursor: int, want: int, budget: int) -> tuple[int, list]:
        """One cursor step over a hash-table collection (see ScanTable)."""
        table = self._scan
        if table is None or table.stale(len(self)):
            table = self._scan = ScanTable(self)
        cursor, found = table.scan(self, cursor, want, budget)
        if cursor == 0:
            self._scan = None  # the iteration is over: stop paying for the table
        return cursor, found


class RSet(Members, set):
    """A set value: ``bytes`` members, the ``intset`` flag (see the module docstring)."""

    __slots__ = ("intset", "_sorted", "_picker", "_scan", "_ht_base")

    redis_type = b"set"

    def __init__(self, members=(), intset: bool = True):
        set.__init__(self, members)
        self.intset = intset
        self._sorted = None
        self._picker = None
        self._scan = None
        self._ht_base = 4

    @classmethod
    def build(cls, members, limit: int) -> RSet:
        """A new set holding ``members``, encoded as Redis encodes a set built by adding
        them one by one to a fresh intset (setTypeCreate / createIntsetObject + setTypeAdd):
        intset if every member is an integer and they are at most ``limit``."""
        s = cls(members)
        if not all(map(is_int64, s)):
            s.intset = False
        elif len(s) > limit:
            s.to_hashtable(limit + 1)
        return s

    def object_encoding(self, config) -> bytes:
        return b"intset" if self.intset else b"hashtable"

    def copy(self) -> RSet:
        """setTypeDup: same members, same encoding (a presized dict)."""
        dup = RSet(self, self.intset)
        dup._ht_base = table_size(len(self))
        return dup

    def to_hashtable(self, size: int) -> None:
        """setTypeConvert: the dict is presized for the intset's ``size`` members."""
        self.intset = False
        self._ht_base = table_size(size)

    # -- changes -------------------------------------------------------------------------------
    def add_members(self, members, config) -> int:
        """SADD: add ``members``; returns how many were new. The intset limit is read from
        ``config`` (set-max-intset-entries) when it matters."""
        n = len(self)
        if self.intset:
            self._sorted = None
            if not all(map(is_int64, members)):
                self.to_hashtable(n)
        if self._picker is None and self._scan is None:
            self.update(members)
        else:
            for m in members:
                if m not in self:
                    set.add(self, m)
                    self._added(m)
        added = len(self) - n
        if self.intset:
            limit = intset_limit(config)
            if len(self) > limit:
                self.to_hashtable(limit + 1)
        return added

    def add_member(self, member, config) -> bool:
        """setTypeAdd for one member: True if it was new."""
        if member in self:
            return False
        if self.intset:
            self._sorted = None
            if not is_int64(member):
                self.to_hashtable(len(self))
            elif len(self) >= intset_limit(config):
                self.to_hashtable(len(self) + 1)
        set.add(self, member)
        self._added(member)
        return True

    def remove_members(self, members) -> int:
        """SREM: remove ``members``; returns how many were there."""
        n = len(self)
        self._sorted = None
        if self._picker is None:
            self.difference_update(members)
        else:
            for m in members:
                if m in self:
                    set.discard(self, m)
                    self._removed(m)
        return n - len(self)

    def remove_member(self, member) -> bool:
        if member not in self:
            return False
        self._sorted = None
        set.discard(self, member)
        self._removed(member)
        return True

    # -- reading ---------------------------------------------------------------------------------
    def memory_usage(self, samples: int) -> int:
        """MEMORY USAGE of the value (objectComputeSize). An intset's integer width is taken
        from the current members (Redis never narrows it after removals)."""
        from ..info import ROBJ, jemalloc_size

        if self.intset:
            lo, hi = (min(map(int, self)), max(map(int, self))) if self else (0, 0)
            width = next(w for w, bits in ((2, 15), (4, 31), (8, 63)) if -(1 << bits) <= lo and hi < (1 << bits))
            return ROBJ + jemalloc_size(8 + width * len(self))
        return dict_memory(self, samples, dict_slots(len(self), self._ht_base, 1), sds_memory)

    def ordered(self):
        """The members in Redis's iteration order: numeric for an intset (deterministic),
        any order for a hash table."""
        if not self.intset:
            return self
        s = self._sorted
        if s is None:
            s = self._sorted = sorted(self, key=int)
        return s
