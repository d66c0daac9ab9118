"""SCAN's cursor machinery: stateless cursors over a Python dict.

Design note
-----------
Redis walks the buckets of its hash table with a *reverse-binary* cursor: the bucket of a
key is the low bits of its hash, and the cursor is incremented on its reversed bits. That
order has one property that matters: whatever the table size, the buckets visited so far
hold exactly the keys whose *reversed* hash is below a threshold. So when the table grows
or shrinks between two calls nothing already visited is missed or needs revisiting, and a
cursor is just a number any client can continue.

A Python dict has no stable bucket positions, so this module keeps its own table, the
``ScanIndex`` of a database, and uses the same idea with the bits the other way round:

* A key's place is its 64-bit hash ``H`` (Python's ``hash(key)`` as unsigned; bytes
  cache their hash, so this is cheap). The index has ``2**bits`` buckets and a key lives
  in bucket ``H >> (64 - bits)``: buckets split *ranges* of H, in increasing order.
* Visiting buckets in increasing order visits H-space from 0 upwards. The state between
  two calls is one threshold ``t``: every key with ``H < t`` has been returned. The cursor
  sent to the client is ``t`` with its 64 bits reversed -- which is precisely Redis's
  reverse-binary cursor (bucket ``b`` of a ``2**bits`` table appears as ``rev_bits(b)``,
  small numbers stepping 0, 2, 1, 3 ...), so cursors look and behave like Redis's.
* Because the threshold does not depend on the table size, the index can be rebuilt
  with more or fewer buckets at any time. A cursor that falls inside a bucket (after a
  shrink) returns that bucket's keys with ``H >= t`` only.

The guarantee: a key present during a whole iteration is in the index at every call (the
index is built from the live keys, and ``Database.set`` adds every new key to it while it
exists), sits at a fixed H, and each call returns every key in its range [t, t'), the
ranges of one iteration covering [0, 2**64) without gaps or overlaps. So an iteration
returns such a key exactly once -- stronger than Redis, which may repeat keys while its
table rehashes; a key deleted and re-added is still one H, one entry.

Cost: nothing on the hot path while nobody scans (``Database.set`` tests one attribute).
The first SCAN of a database builds the index in one pass over its keys -- about the cost
of one ``KEYS *`` -- and later calls cost what they return. While the index exists, a new
key costs one append to its bucket. Keys deleted since are dropped when their bucket is
next visited, and the index is rebuilt when it has grown dense, gone sparse, or collected
too many dead entries, so it stays within a small factor of the live keys. An index no
SCAN has used for ``IDLE_MS`` is dropped the next time a key is added, so a database that
was scanned once does not pay for it forever.
"""

from __future__ import annotations

#: Target keys per bucket after a (re)build; a call returns whole buckets.
LOAD = 4
#: Drop an index that no SCAN used for this long (checked when a new key is added).
IDLE_MS = 60_000

_MASK64 = (1 << 64) - 1
_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def reverse64(x: int) -> int:
    """The 64 bits of ``x`` in reverse order (Redis's rev())."""
    return int.from_bytes(x.to_bytes(8, "little").translate(_REV8), "big")


def _bits_for(n: int) -> int:
    """Table size exponent giving a load in (LOAD/2, LOAD] for ``n`` keys."""
    return ((n - 1) // LOAD).bit_length() if n > LOAD else 0


class ScanIndex:
    """The bucket table of one database while clients scan it (see the module docstring)."""

    __slots__ = ("db", "data", "bits", "shift", "buckets", "entries", "last_used")

    def __init__(self, db, now_ms: int):
        self.db = db
        data = self.data = db.data
        bits = self.bits = _bits_for(len(data))
        # Python's hash is signed: ``h >> shift`` is the top ``bits`` bits of the unsigned
        # value minus 2**bits for negative h, which a list index reaches from the end.
        shift = self.shift = 64 - bits
        buckets = self.buckets = [[] for _ in range(1 << bits)]
        put = [b.append for b in buckets]
        for key in data:
            put[hash(key) >> shift](key)
        self.entries = len(data)
        self.last_used = now_ms

    def add(self, key: bytes) -> None:
        """A new key entered the database (called by ``Database.set``)."""
        if self.db.clock.ms - self.last_used > IDLE_MS:
            self.db.scan_index = None
            return
        self.buckets[hash(key) >> self.shift].append(key)
        self.entries += 1

    def stale(self) -> bool:
        """Rebuild when the table is too dense, too sparse or mostly dead entries."""
        n = len(self.data)
        nb = len(self.buckets)
        return (
            self.entries > 2 * LOAD * nb
            or (self.bits and n * 2 < nb)
            or self.entries > 2 * n + 2 * LOAD
        )

    def _bucket(self, b: int) -> list[bytes]:
        """Bucket ``b`` with deleted keys and repeats (deleted, then re-added) dropped."""
        bucket = self.buckets[b]
        if bucket:
            data = self.data
            live = list(dict.fromkeys([k for k in bucket if k in data]))
            if len(live) != len(bucket):
                self.entries -= len(bucket) - len(live)
                self.buckets[b] = bucket = live
        return bucket

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: (next cursor, keys), visiting buckets until ``count`` keys were
        gathered or ``10 * count`` buckets were looked at (Redis's maxiterations)."""
        t = reverse64(cursor & _MASK64)
        shift = self.shift
        nb = len(self.buckets)
        b = t >> shift
        keys = self._bucket(b)
        if t & ((1 << shift) - 1):  # the cursor falls inside this bucket
            keys = [k for k in keys if hash(k) & _MASK64 >= t]
        else:
            keys = keys[:]
        b += 1
        budget = count * 10
        while b < nb and len(keys) < count and budget > 0:
            keys += self._bucket(b)
            b += 1
            budget -= 1
        if b >= nb:
            return 0, keys
        return reverse64(b << shift), keys


def scan_keys(db, cursor: int, count: int) -> tuple[int, list[bytes]]:
    """SCAN over ``db``'s keys: build or refresh its index as needed, then step it."""
    now = db.clock.ms
    index = db.scan_index
    if index is None or index.data is not db.data or index.stale():
        index = db.scan_index = ScanIndex(db, now)
    index.last_used = now
    return index.scan(cursor, count)
