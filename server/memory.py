"""Memory accounting: what ``used_memory`` means in a Python process, and how it is kept.

Design note
-----------
Redis counts every byte it asks its allocator for (zmalloc). A Python program cannot do
that per node -- objects come from the interpreter's allocator, shared by everything in
the process -- so Vermilion *models* its allocations with the allocator's real rules, and
the tests check the model against the real allocator and RSS (``tests/memory``)::

    used_memory = startup + clients + tables + dataset

``startup``  The allocator's in-use bytes when the node was created (``allocator_in_use``:
             pymalloc's allocated blocks plus glibc malloc's in-use chunks): the
             interpreter, the code, and whatever else the process held then (about 20 MB
             for ``python -m server``; for a node embedded in a program, that program's
             heap too). It is Redis's ``used_memory_startup``.
``clients``  ``CLIENT_COST`` per connection (the Client, its reader and transport state).
``tables``   Per database, what the key dicts take (``sys.getsizeof`` of ``data``,
             ``expires`` and ``lru``: the hash tables with their free slots; exact, O(1)),
             an int object per expiry time (and per LFU field; an LRU clock is one int per
             second, shared by the keys touched in it), the key lists eviction draws from
             (``KeyIndex``), the keyspace's own sample lists, and while tracked the
             accounts' own bookkeeping (``Account.own_bytes``: a dict entry, an int and
             often a copy of the key per value that changes in place -- about 100 bytes,
             a third of an APPEND'ed string's cost). Python never shrinks a
             dict on deletion, so the cron shrinks a table left less than 10% full
             (``shrink_tables``), as Redis's tryResizeHashTables does.
``dataset``  Per key: the key's ``bytes`` object plus its value (``value_cost``). A
             ``bytes`` value costs exactly ``33 + len`` rounded up to pymalloc's 16-byte
             size classes (up to 512 bytes) or to glibc's chunk size (nothing for the
             shared empty and one-byte objects); a collection costs
             its container (``getsizeof``: dict and set tables, deque blocks) plus its
             length times the average cost of its first ``SAMPLE`` elements: O(1).

Measured against the allocator (tests and bench/README.md), this model is within 3% for
strings, hashes, lists, sets and sorted sets, small or big, and within 10% of RSS growth.

How the dataset figure is kept depends on whether eviction is possible (``maxmemory`` set,
or an LFU policy, which needs the LFU database class anyway):

* **Tracked** (``Memory.track``): each database is switched, in place, to
  ``TrackedDatabase``, whose ``set``/``replace_value``/``_delete``/``set_expire``/
  ``persist``/``flush``/``swap_contents`` keep that database's ``Account`` current (the old
  value's cost out, the new one's in). Values that change in place (collections,
  ``bytearray``) keep their last cost in ``Account.mutable``; ``Node.key_modified`` -- the
  call every write makes, sometimes before the change -- only notes the key
  (``Account.pending``), and the next look at the figure (the OOM gate of the next write
  command, INFO, the cron) re-costs each noted key once, after its command is done. A
  key's share is thus the cost of its value as of its last write, so errors in the
  estimate of a big collection never accumulate. Every change marks its database; the
  eviction figure (``for_eviction``) is a running total that only looks again at marked
  databases (usually one: about a microsecond). Code that writes ``db.data`` directly
  (the RDB loader, a quiet BITFIELD) is caught by ``verify`` (in the cron, so within one
  tick, and for INFO): a replaced dict or a large change is recounted, a small one
  corrected with the average key cost.
* **Untracked** (default, ``maxmemory 0``): nothing is paid on the write path (the
  databases are plain ``Database`` objects). INFO and MEMORY STATS extrapolate the dataset
  from ``DATASET_SAMPLES`` keys per database, sized with the same ``value_cost``.

Turning tracking on counts every key once (O(keys): 0.3 s per million small keys). Not
counted: client query/reply buffers, the replication backlog and AOF buffers, and Python
objects made while a command runs.

Eviction compares ``maxmemory`` with ``for_eviction()``, which plans each dict at its size
under churn and each key index at its largest (see there): a key count that settles
instead of jumping at every dict resize. INFO shows the difference as a negative
``mem_not_counted_for_evict`` (Redis evicts when ``used_memory -
mem_not_counted_for_evict`` exceeds ``maxmemory``).

``MEMORY USAGE`` is different on purpose: it answers what Redis 7.0 would answer for the
same value (jemalloc size classes, sds headers, listpacks; ``server/info.py``), because
tools compare it across servers; ``used_memory`` is what *this* process spends.

``allocator_in_use`` (pymalloc's statistics through ``_PyObject_DebugMallocStats`` and
glibc's ``mallinfo2``, about 50 us, process-wide) and ``rss_bytes`` are the truth the
model is checked against; INFO reports them as ``allocator_*`` and ``used_memory_rss``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
from itertools import islice

from .keyspace import Database

#: Elements of a collection whose cost is averaged to cost the whole collection...
SAMPLE = 32
#: ...unless it has at most this many: then each element is costed. (A sample of 32 of 50
#: members is off by up to 3% when some are the interpreter's shared one-byte objects, and
#: every set built alike iterates alike, so the error does not average out over keys.)
EXACT = 64
#: Keys drawn per database to estimate an untracked dataset.
DATASET_SAMPLES = 64
#: What one connection costs (Client object, hiredis reader, transport; measured, idle).
CLIENT_COST = 4096
#: An int object (LFU fields, collection members): 28 or 32 bytes, the 32-byte size class.
INT_COST = 32
#: An expiry time: ``now + ttl`` is made by an addition, which allocates one digit more than
#: the result keeps (x_add), so these ints sit in the 48-byte size class.
EXPIRE_COST = 48
#: A dict is shrunk by the cron when it is less than 1/SHRINK_FILL full...
SHRINK_FILL = 10
#: ...and its table takes at least this much (small tables are not worth the copy)...
SHRINK_MIN_BYTES = 256 * 1024
#: ...and it holds at most this many keys (the copy stalls the loop ~1 us per key).
SHRINK_MAX_KEYS = 200_000
#: Bytes a dict needs per key when right-sized (24-byte entry, index slot, 2/3 load).
DICT_BYTES_PER_KEY = 42

_getsizeof = sys.getsizeof


# -- the allocator model -------------------------------------------------------------------


def alloc(n: int) -> int:
    """What a request of ``n`` bytes takes: pymalloc's 16-byte size classes up to 512
    bytes, glibc's chunk (``n`` + 8 rounded up to 16) above."""
    if n <= 512:
        return (n + 15) & -16
    return (n + 23) & -16


def sized(length: int) -> int:
    """A ``bytes`` object of ``length`` bytes: 33 + length, allocated. The empty and the
    one-byte objects are the interpreter's shared singletons: nothing."""
    if length < 2:
        return 0
    n = 33 + length
    return (n + 15) & -16 if n <= 512 else (n + 23) & -16


def bytes_cost(b) -> int:
    """A ``bytes`` object, or a ``bytearray`` (56-byte object + its buffer)."""
    if b.__class__ is bytes:
        return sized(len(b))
    capacity = _getsizeof(b) - 56
    return 64 + (alloc(capacity) if capacity else 0)


def element_cost(x) -> int:
    cls = x.__class__
    if cls is bytes or cls is bytearray:
        return bytes_cost(x)
    if cls is int or cls is float:
        return INT_COST
    return value_cost(x)


def _average(items, size: int) -> float:
    total = n = 0
    for x in islice(items, size if size <= EXACT else SAMPLE):
        total += element_cost(x)
        n += 1
    return total / n if n else 0.0


def _pair_average(pairs, size: int) -> float:
    total = n = 0
    for k, v in islice(pairs, size if size <= EXACT else SAMPLE):
        total += element_cost(k) + element_cost(v)
        n += 1
    return total / n if n else 0.0


def _helpers_cost(value) -> int:
    """The random-draw index (``Picker``) a set or hash may carry: a list, a position map
    and one int per member."""
    picker = getattr(value, "_picker", None)
    if picker is None:
        return 0
    items = getattr(picker, "items", ())
    pos = getattr(picker, "pos", {})
    return _getsizeof(items) + _getsizeof(pos) + INT_COST * len(pos)


def _list_cost(v) -> int:
    items = v.items
    n = len(items)
    return alloc(_getsizeof(v)) + _getsizeof(items) + int(n * _average(items, n))


def _hash_cost(v) -> int:
    n = len(v)
    return _getsizeof(v) + int(n * _pair_average(dict.items(v), n)) + _helpers_cost(v)


def _set_cost(v) -> int:
    n = len(v)
    return _getsizeof(v) + int(n * _average(v, n)) + _helpers_cost(v)


#: A (score, member) tuple in a sorted set's order (GC header included), and the float.
_ZSET_TUPLE = 64
_ZSET_FLOAT = 32


def _sorted_list_cost(sl) -> int:
    """A ``SortedList``: the object, its sublists (pointer arrays, ~1000 items each, with
    list over-allocation) and the ``_maxes`` index."""
    n = len(sl)
    lists = len(sl._lists)
    return _getsizeof(sl) + 112 + lists * (56 + 16 + 8) + int(n * 8 * 1.125)


def _zset_cost(v) -> int:
    n = len(v.scores)
    member = _average(v.scores, n)
    return (
        alloc(_getsizeof(v))
        + _getsizeof(v.scores)
        + _sorted_list_cost(v.order)
        + int(n * (member + _ZSET_TUPLE + _ZSET_FLOAT))
    )


def _generic_cost(v) -> int:
    """A value type this module does not know: the object plus sampled elements."""
    size = _getsizeof(v)
    try:
        n = len(v)
        items = v.items() if hasattr(v, "items") else iter(v)
    except TypeError:
        return size
    avg = _pair_average(items, n) if hasattr(v, "items") else _average(items, n)
    return size + int(n * avg)


_COSTERS: dict = {}


def _load_costers() -> None:
    from .datatypes.hash import RHash
    from .datatypes.list import RList
    from .datatypes.set import RSet
    from .datatypes.zset import ZSet

    _COSTERS.update({RList: _list_cost, RHash: _hash_cost, RSet: _set_cost, ZSet: _zset_cost})


def value_cost(v) -> int:
    """What a value costs in this process (see the module docstring); O(1) for any size."""
    cls = v.__class__
    if cls is bytes:
        return sized(len(v))
    if cls is bytearray:
        return bytes_cost(v)
    if not _COSTERS:
        _load_costers()
    coster = _COSTERS.get(cls)
    if coster is None:
        for base, fn in _COSTERS.items():
            if isinstance(v, base):
                coster = fn
                break
        else:
            coster = _generic_cost
        _COSTERS[cls] = coster
    return coster(v)


def key_cost(key: bytes) -> int:
    return sized(len(key))


def entry_cost(key: bytes, value) -> int:
    return key_cost(key) + value_cost(value)


# -- the process: RSS and the allocator's own statistics ----------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


class _Allocator:
    """glibc's mallinfo2 and pymalloc's statistics, where the platform has them."""

    _PYMALLOC = re.compile(rb"# bytes in allocated blocks\s*=\s*([\d,]+)")
    _ARENAS = re.compile(rb"# arenas allocated current\s*=\s*([\d,]+)")

    def __init__(self):
        self.libc = None
        self.mallinfo2 = None
        self.debug_stats = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
            if hasattr(libc, "mallinfo2"):
                libc.mallinfo2.restype = _MallInfo2
                self.mallinfo2 = libc.mallinfo2
            libc.open_memstream.restype = ctypes.c_void_p
            libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
            libc.fclose.argtypes = [ctypes.c_void_p]
            libc.free.argtypes = [ctypes.c_void_p]
            fn = ctypes.pythonapi._PyObject_DebugMallocStats
            fn.argtypes = [ctypes.c_void_p]
            fn.restype = ctypes.c_int
            self.debug_stats = fn
            self.libc = libc
        except (OSError, AttributeError):
            pass

    def pymalloc(self) -> tuple[int, int]:
        """(bytes in allocated blocks, bytes in arenas) of pymalloc; (0, 0) without it."""
        if self.debug_stats is None:
            return 0, 0
        libc = self.libc
        buf = ctypes.c_char_p()
        size = ctypes.c_size_t()
        fp = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
        if not fp:
            return 0, 0
        try:
            self.debug_stats(fp)
        finally:
            libc.fclose(fp)
        try:
            text = ctypes.string_at(buf, size.value)
        finally:
            libc.free(buf)
        blocks = self._PYMALLOC.search(text)
        arenas = self._ARENAS.search(text)
        used = int(blocks.group(1).replace(b",", b"")) if blocks else 0
        arena_bytes = int(arenas.group(1).replace(b",", b"")) << 20 if arenas else 0
        return used, arena_bytes

    def malloc(self) -> tuple[int, int]:
        """(in-use bytes, bytes obtained from the system) of glibc malloc; (0, 0) without it."""
        if self.mallinfo2 is None:
            return 0, 0
        mi = self.mallinfo2()
        return mi.uordblks + mi.hblkhd, mi.arena + mi.hblkhd


_allocator: _Allocator | None = None


def allocator_in_use() -> tuple[int, int]:
    """The process's (allocated, active) heap bytes: pymalloc's allocated blocks plus
    malloc's in-use chunks, and the arenas/heap they live in. Process-wide, ~50 us."""
    global _allocator
    if _allocator is None:
        _allocator = _Allocator()
    py_used, py_arenas = _allocator.pymalloc()
    c_used, c_heap = _allocator.malloc()
    if not (py_used or c_used):
        blocks = sys.getallocatedblocks() * 64  # a rough figure where neither is available
        return blocks, blocks
    return py_used + c_used, py_arenas + c_heap


# -- random keys ---------------------------------------------------------------------------------


class KeyIndex:
    """Uniform random draws from a dict's keys in O(1), for eviction sampling.

    A list of the keys, built from the dict at the first draw; new keys are appended as
    they arrive (``add``) and deleted ones stay as "ghosts" that a draw skips. Ghosts keep
    their key objects alive, so they are counted (``ghost_bytes``) and the list is dropped
    once they make up an eighth of it -- to be rebuilt, O(n), at the next draw: O(1) per
    write amortised, and nothing at all while nobody draws. A key deleted and added again
    may be listed twice until the next rebuild.
    """

    __slots__ = ("keys", "complete", "ghosts", "ghost_bytes")

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.keys: list[bytes] = []
        self.complete = False
        self.ghosts = 0
        self.ghost_bytes = 0

    def add(self, key: bytes) -> None:
        if self.complete:
            self.keys.append(key)

    def forget(self, cost: int) -> None:
        """A listed key was deleted; ``cost`` is what its object takes."""
        if self.complete:
            self.ghosts += 1
            self.ghost_bytes += cost
            if self.ghosts > (len(self.keys) >> 3) + 16:
                self.clear()

    def bytes(self) -> int:
        return _getsizeof(self.keys) + self.ghost_bytes

    def planned_bytes(self, n: int) -> int:
        """The most this index takes for a dict of ``n`` keys: ``n`` keys and the ghosts
        allowed before it is dropped (list over-allocation included), each ghost costing
        what the ghosts so far cost on average."""
        ghosts = (n >> 3) + 16
        per_ghost = self.ghost_bytes // self.ghosts if self.ghosts else 48
        return 56 + (n + ghosts) * 9 + ghosts * per_ghost

    def _rebuild(self, source: dict) -> list[bytes]:
        keys = self.keys = list(source)
        self.complete = True
        self.ghosts = self.ghost_bytes = 0
        return keys

    def draw(self, source: dict, random) -> bytes | None:
        """One key of ``source``, uniformly; None if it is empty."""
        n = len(source)
        if not n:
            return None
        keys = self.keys
        if not self.complete or len(keys) < n:
            keys = self._rebuild(source)
        for _ in range(64):
            key = keys[int(random() * len(keys))]
            if key in source:
                return key
        keys = self._rebuild(source)
        return keys[int(random() * len(keys))]

    def sample(self, source: dict, count: int, random) -> list[bytes]:
        """``count`` keys of ``source`` (dictGetSomeKeys): all of them if it has no more."""
        if len(source) <= count:
            return list(source)
        draw = self.draw
        return [draw(source, random) for _ in range(count)]


# -- per-database accounts -------------------------------------------------------------------------


class Account:
    """One database's share of ``used_memory`` while tracked (see the module docstring).

    Every change marks the account's database in the node's ``marks`` set; ``Memory.used``
    brings only the marked ones up to date.
    """

    __slots__ = (
        "bytes", "keys", "data", "mutable", "pending", "data_index", "expires_index",
        "dbid", "marks", "counted", "dups",
    )

    def __init__(self, dbid: int, marks: set):
        self.dbid = dbid
        self.marks = marks
        #: bytes + tables as last added into ``Memory.total``.
        self.counted = 0
        self.reset(None)

    def reset(self, data: dict | None) -> None:
        self.bytes = self.keys = 0
        #: Bytes of the key objects ``mutable`` holds that are not ``data``'s (see ``_keep``).
        self.dups = 0
        #: The ``db.data`` dict this account describes (a loader may swap in another).
        self.data = data
        #: Last cost of each value that changes in place (collections, bytearray), shifted
        #: left by one; the low bit says the entry's key object is a copy (``_keep``).
        self.mutable: dict[bytes, int] = {}
        #: Keys written since the last ``settle`` (their values may have changed in place).
        self.pending: set[bytes] = set()
        self.data_index = KeyIndex()
        self.expires_index = KeyIndex()
        self.marks.add(self.dbid)

    def recount(self, db: Database) -> None:
        """Count every key of ``db`` (tracking starts, or a loader replaced the dicts)."""
        data = db.data
        self.reset(data)
        mutable = self.mutable
        total = 0
        for key, value in data.items():
            cost = value_cost(value)
            if value.__class__ is not bytes:
                mutable[key] = cost << 1
            total += key_cost(key) + cost
        self.bytes = total
        self.keys = len(data)

    def own_bytes(self, mutable_table: int) -> int:
        """What the account itself keeps: the ``mutable`` dict (its table, given, an int
        per cost and the key copies) and the ``pending`` set. For a small value that
        changes in place (an APPEND'ed string) that is a third of what its key costs."""
        return mutable_table + INT_COST * len(self.mutable) + self.dups + _getsizeof(self.pending)

    def catch_up(self, n: int) -> None:
        """A few keys were added or removed behind the account's back (a quiet BITFIELD):
        assume they cost what an average key costs."""
        per_key = self.bytes // self.keys if self.keys else 96
        self.bytes += (n - self.keys) * per_key
        self.keys = n
        self.data_index.clear()
        self.marks.add(self.dbid)

    def _forget(self, key: bytes, old) -> int:
        """Drop ``key``'s entry (and its key copy); what its old value cost."""
        entry = self.mutable.pop(key, None) if self.mutable else None
        if entry is None:
            return value_cost(old)
        if entry & 1:
            self.dups -= key_cost(key)
        return entry >> 1

    def _keep(self, key: bytes, cost: int, copy: int) -> None:
        """Note the cost of a value that changes in place. A new entry holds the key object
        it is given: the one ``data`` holds when the key is new (``copy`` 0), else the
        command's own copy (``copy`` 1: a dict cannot hand out the key object it holds),
        which costs what the key costs for as long as the entry lives. An existing entry
        keeps its key object."""
        mutable = self.mutable
        entry = mutable.get(key)
        if entry is None:
            if copy:
                self.dups += key_cost(key)
            mutable[key] = cost << 1 | copy
        else:
            mutable[key] = cost << 1 | (entry & 1)

    def stored(self, key: bytes, old, new) -> None:
        """``key`` now holds ``new`` (it held ``old``, or nothing)."""
        cost = value_cost(new)
        if old is None:
            self.keys += 1
            self.bytes += key_cost(key) + cost
            self.data_index.add(key)
        elif new.__class__ is bytes:
            self.bytes += cost - self._forget(key, old)
        else:
            entry = self.mutable.get(key)
            self.bytes += cost - (value_cost(old) if entry is None else entry >> 1)
        if new.__class__ is not bytes:
            self._keep(key, cost, old is not None)
            self.pending.add(key)
        self.marks.add(self.dbid)

    def removed(self, key: bytes, old) -> None:
        self.keys -= 1
        cost = key_cost(key)
        self.bytes -= cost + self._forget(key, old)
        self.data_index.forget(cost)
        self.marks.add(self.dbid)

    def touched(self, key: bytes) -> None:
        """A write to ``key``; its value may change in place before the command ends."""
        self.pending.add(key)
        self.marks.add(self.dbid)

    def settle(self, data: dict) -> None:
        """Re-cost the values written since the last call that change in place. A
        ``bytearray`` we have not seen was a ``bytes`` of about its length a moment ago
        (APPEND, SETRANGE and SETBIT unshare a value without telling the keyspace)."""
        mutable = self.mutable
        delta = 0
        for key in self.pending:
            value = data.get(key)
            if value is None or value.__class__ is bytes:
                continue
            cost = value_cost(value)
            entry = mutable.get(key)
            if entry is None:
                old = sized(len(value)) if value.__class__ is bytearray else cost
            else:
                old = entry >> 1
            self._keep(key, cost, 1)
            delta += cost - old
        self.pending.clear()
        self.bytes += delta


class TrackedDatabase(Database):
    """A ``Database`` that keeps its ``Account`` (and the random-key indexes eviction draws
    from) current. Databases are switched to this class, in place, while memory is
    tracked; the default configuration runs the plain ``Database`` code."""

    __slots__ = ()

    def _account(self) -> Account:
        return self.node.memory.accounts[self.id]

    def set(self, key: bytes, value, keepttl: bool = False) -> None:
        self._account().stored(key, self.data.get(key), value)
        Database.set(self, key, value, keepttl)

    def replace_value(self, key: bytes, value) -> None:
        self._account().stored(key, self.data.get(key), value)
        Database.replace_value(self, key, value)

    def _delete(self, key: bytes) -> None:
        self._account().removed(key, self.data[key])
        Database._delete(self, key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        account = self._account()
        if key not in self.expires:
            account.expires_index.add(key)
            account.marks.add(self.id)
        Database.set_expire(self, key, when_ms)

    def persist(self, key: bytes) -> bool:
        self._account().marks.add(self.id)
        return Database.persist(self, key)

    def flush(self) -> int:
        n = Database.flush(self)
        self._account().reset(self.data)
        return n

    def swap_contents(self, other: Database) -> None:
        Database.swap_contents(self, other)
        accounts = self.node.memory.accounts
        mine, theirs = accounts[other.id], accounts[self.id]
        accounts[self.id], accounts[other.id] = mine, theirs
        mine.dbid, theirs.dbid = self.id, other.id
        mine.marks.update((self.id, other.id))


# -- the node's memory ---------------------------------------------------------------------------


def dict_bytes(slots: int) -> int:
    """``sys.getsizeof`` of a dict whose table has ``slots`` slots (and 2/3 of them as
    entries): the object, the keys header, the index and the entries."""
    index = 1 if slots <= 0xFF else 2 if slots <= 0xFFFF else 4 if slots <= 0xFFFFFFFF else 8
    return 96 + slots * index + (2 * slots // 3) * 24


def churn_bytes(n: int) -> int:
    """What a dict of ``n`` keys takes once it has been resized under churn: deletions
    leave holes in its entries, so it fills up and Python resizes it for ``3 * n`` slots
    (GROWTH_RATE), whatever it held before."""
    if not n:
        return 0
    return dict_bytes(max(8, 1 << (3 * n - 1).bit_length()))


class Memory:
    """``used_memory`` and its parts for one node (see the module docstring)."""

    def __init__(self, node):
        self.node = node
        self.startup = allocator_in_use()[0]
        #: Databases whose account changed since ``for_eviction()`` last looked (their ids).
        self.marks: set[int] = set()
        self.accounts = [Account(i, self.marks) for i in range(len(node.dbs))]
        #: Sum of every account's ``counted`` (see ``for_eviction``), while tracking.
        self.total = 0
        #: The Database class while tracking (TrackedDatabase or a subclass), else None.
        self.tracked_class: type | None = None
        self.lfu = False

    @property
    def tracking(self) -> bool:
        return self.tracked_class is not None

    def track(self, cls: type | None, lfu: bool = False) -> None:
        """Track with databases of class ``cls`` (a TrackedDatabase), or stop (None)."""
        self.lfu = lfu
        self.marks.update(range(len(self.accounts)))  # the LFU ints may come or go
        if cls is self.tracked_class:
            return
        was = self.tracked_class
        self.tracked_class = cls
        node = self.node
        for db, account in zip(node.dbs, self.accounts):
            db.__class__ = cls or Database
            if cls is None:
                account.reset(None)
            elif was is None:
                account.recount(db)
            account.counted = 0
        self.total = 0
        node.memory_tracking = cls is not None

    def modified(self, db: Database, key: bytes) -> None:
        """``Node.key_modified`` while tracking: note the key, to re-cost it once its
        command is done (``Account.settle``). A ``bytes`` value cannot change in place:
        ``set`` accounted for it already."""
        value = db.data.get(key)
        if value is not None and value.__class__ is not bytes:
            self.accounts[db.id].touched(key)

    def unshared(self, db: Database, key: bytes, old: bytes) -> None:
        """``key``'s ``bytes`` value ``old`` was swapped for a ``bytearray`` copy behind
        the keyspace's back (``strings.unshare``; it may grow before the command ends and
        no write may be signalled): note what ``old`` cost, to re-cost the copy once the
        command is done."""
        account = self.accounts[db.id]
        account._keep(key, sized(len(old)), 1)
        account.touched(key)

    # -- the figures ---------------------------------------------------------------------------
    def _tables(self, db: Database) -> int:
        """The dicts of one database, their int values and our key indexes, as they are."""
        account = self.accounts[db.id]
        total = _getsizeof(db.data) + _getsizeof(db.lru) + account.data_index.bytes() + account.expires_index.bytes()
        total += account.own_bytes(_getsizeof(account.mutable))
        expires = db.expires
        if expires:
            total += _getsizeof(expires) + EXPIRE_COST * len(expires)
        if self.lfu:
            total += INT_COST * len(db.lru)
        return total

    def _planned_tables(self, db: Database) -> int:
        """The same as eviction plans for them: each dict at no less than its size under
        churn, each key index at no less than its largest size (see ``for_eviction``)."""
        account = self.accounts[db.id]
        data, lru, expires = db.data, db.lru, db.expires
        n = len(data)
        total = max(_getsizeof(data), churn_bytes(n)) + max(_getsizeof(lru), churn_bytes(len(lru)))
        total += max(account.data_index.bytes(), account.data_index.planned_bytes(n))
        mutable = account.mutable
        total += account.own_bytes(max(_getsizeof(mutable), churn_bytes(len(mutable))))
        if expires:
            e = len(expires)
            total += max(_getsizeof(expires), churn_bytes(e)) + EXPIRE_COST * e
            total += max(account.expires_index.bytes(), account.expires_index.planned_bytes(e))
        if self.lfu:
            total += INT_COST * len(lru)
        return total

    def _index_bytes(self) -> int:
        """The key lists the keyspace keeps (RANDOMKEY's sample, the expiry sweep)."""
        total = 0
        for db in self.node.dbs:
            for name in ("_ksample", "_sweep"):
                keys = getattr(getattr(db, name, None), "keys", None)
                if keys:
                    total += _getsizeof(keys)
        return total

    def verify(self) -> None:
        """Catch writes made behind the tracked databases' back: a replaced dict (a loader)
        is recounted, a changed key count corrected (cron, INFO, CONFIG SET maxmemory)."""
        if not self.tracking:
            return
        for db, account in zip(self.node.dbs, self.accounts):
            n = len(db.data)
            if db.data is not account.data or abs(n - account.keys) > (account.keys >> 4) + 16:
                account.recount(db)  # a loader swapped or merged in a dataset
            elif account.keys != n:
                account.catch_up(n)

    def for_eviction(self) -> int:
        """The figure ``maxmemory`` is compared with (tracking only): ``used_memory``, with
        each dict counted at no less than its size under churn (``churn_bytes``).

        Under eviction every write deletes a key and adds one, and Python resizes a churned
        dict for three times its keys, twice the room a dict grown by insertions has. Paying
        for that only when the resize happens would make the key count jump at every resize
        and never settle; planning for it makes the budget a fixed function of the key
        count, so eviction settles on one key count and the process stays under
        ``maxmemory``. The key indexes are planned at their largest for the same reason
        (their ghosts come and go with every rebuild). A running total: only the databases written since the last call are
        looked at again (usually one: about a microsecond)."""
        marks = self.marks
        if marks:
            dbs = self.node.dbs
            accounts = self.accounts
            total = self.total
            for i in marks:
                account = accounts[i]
                db = dbs[i]
                if account.pending:
                    account.settle(db.data)
                counted = account.bytes + self._planned_tables(db)
                total += counted - account.counted
                account.counted = counted
            marks.clear()
            self.total = total
        return self.startup + CLIENT_COST * len(self.node.clients) + self.total

    def dataset(self) -> int:
        """Keys and values: tracked, the accounts' sum; untracked, extrapolated from
        ``DATASET_SAMPLES`` keys per database -- the oldest and the newest half (a dict
        iterates both ways without copying anything)."""
        if self.tracking:
            self.verify()
            for db, account in zip(self.node.dbs, self.accounts):
                if account.pending:
                    account.settle(db.data)
            return sum(account.bytes for account in self.accounts)
        total = 0
        half = DATASET_SAMPLES // 2
        for db in self.node.dbs:
            data = db.data
            n = len(data)
            if not n:
                continue
            if n <= DATASET_SAMPLES:
                total += sum(entry_cost(k, v) for k, v in data.items())
                continue
            size = 0
            for keys in (islice(data, half), islice(reversed(data), half)):
                for key in keys:
                    size += entry_cost(key, data[key])
            total += size * n // (2 * half)
        return total

    def overhead(self) -> int:
        """Everything but the dataset: startup, clients, dict tables, key lists."""
        node = self.node
        tables = sum(self._tables(db) for db in node.dbs)
        return self.startup + CLIENT_COST * len(node.clients) + tables + self._index_bytes()

    def used(self) -> int:
        """``used_memory``: what the node's objects take now (a full computation)."""
        return self.overhead() + self.dataset()

    def figures(self) -> dict:
        """Everything INFO memory and MEMORY STATS show (process-wide probes included)."""
        node = self.node
        dataset = self.dataset()
        overhead = self.overhead()
        used = overhead + dataset
        peak = node.stat_peak_memory = max(node.stat_peak_memory, used)
        allocated, active = allocator_in_use()
        return {
            "used": used,
            # What maxmemory is compared with (Redis: used - mem_not_counted_for_evict).
            "for_eviction": self.for_eviction() if self.tracking else used,
            "peak": peak,
            "startup": self.startup,
            "overhead": overhead,
            "dataset": dataset,
            "clients": CLIENT_COST * len(node.clients),
            "rss": rss_bytes(),
            "allocator_allocated": allocated,
            "allocator_active": active,
        }

    # -- cron --------------------------------------------------------------------------------------
    def cron(self) -> None:
        """Tables emptied by deletions shrunk, accounts checked, the peak recorded."""
        node = self.node
        for db in node.dbs:
            if db.scan_index is None and shrink_tables(db):  # a SCAN index walks these dicts
                self.marks.add(db.id)
        if self.tracking:
            self.verify()
            used = self.used()
            if used > node.stat_peak_memory:
                node.stat_peak_memory = used


def _needs_shrink(d: dict) -> bool:
    size = _getsizeof(d)
    return size > SHRINK_MIN_BYTES and len(d) <= SHRINK_MAX_KEYS and size > SHRINK_FILL * DICT_BYTES_PER_KEY * (len(d) + 8)


def shrink_dict(d: dict) -> None:
    """Rebuild ``d`` right-sized, keeping the object (others hold references to it) and
    its order."""
    copy = dict(d)  # insertion into a fresh dict: sized for len(d)
    d.clear()
    d.update(copy)


def shrink_tables(db: Database) -> bool:
    """tryResizeHashTables: shrink each dict of ``db`` that deletions left < 10% full;
    True if one was."""
    shrunk = False
    for d in (db.data, db.expires, db.lru):
        if _needs_shrink(d):
            shrink_dict(d)
            shrunk = True
    return shrunk
