"""What a cache value looks like on the wire: a one-line header, then the payload.

Design note
-----------
Every value the library stores in the cache is an *entry*::

    ~c1|<kind>|<version>|<write id>|<soft at ms>|<expires at ms>|<delta ms>\\n<payload>

``kind`` is one letter: ``V`` a value copied from a committed database row, ``A`` "the row is
absent" (negative caching), ``T`` a tombstone left by an invalidation, ``D`` a dirty value
written by write-back and not yet flushed. ``version`` is the database row's version column
(0 for a row that never existed; dirty entries carry 0 until they are flushed). ``write id``
names one write-back write. ``soft at`` is when the entry stops being fresh
(stale-while-revalidate), ``expires at`` when the cache will drop it (the hard TTL, which
XFetch needs to know), both absolute wall-clock milliseconds so that several processes agree;
``delta`` is how long the value took to load (XFetch's recompute cost).

The header is ASCII so that the Lua scripts in ``scripts.py`` can read the kind, version and
write id with one ``string.match``; that is what makes version-guarded writes atomic on the
server. Ordering between entries uses a *rank*: ``2 * version + 1`` for values and
``2 * version`` for tombstones, so that a tombstone of version v beats the value of version
v-1 but loses to the value of version v (a fill that read the row committed at v).
"""

from __future__ import annotations

from typing import NamedTuple

MAGIC = b"~c1|"

VALUE = "V"
ABSENT = "A"
TOMBSTONE = "T"
DIRTY = "D"
KINDS = frozenset((VALUE, ABSENT, TOMBSTONE, DIRTY))

#: "Never stale": the soft deadline of entries that have no soft TTL (dirty entries).
NEVER = 2**53


class Row(NamedTuple):
    """A database row as the strategies see it: ``value`` is None for an absent/deleted row."""

    value: bytes | None
    version: int


ABSENT_ROW = Row(None, 0)


class Entry:
    """One decoded cache entry (see the module docstring)."""

    __slots__ = ("kind", "version", "write_id", "soft_at", "expires_at", "delta", "value")

    def __init__(
        self,
        kind: str,
        version: int,
        value: bytes | None = None,
        *,
        write_id: str = "",
        soft_at: int = NEVER,
        expires_at: int = 0,
        delta: int = 0,
    ):
        self.kind = kind
        self.version = version
        self.value = value
        self.write_id = write_id
        self.soft_at = soft_at
        self.expires_at = expires_at
        self.delta = delta

    @classmethod
    def from_row(cls, row: Row, **times) -> Entry:
        kind = ABSENT if row.value is None else VALUE
        return cls(kind, row.version, row.value, **times)

    @property
    def is_usable(self) -> bool:
        """A value a read may return (everything but a tombstone)."""
        return self.kind != TOMBSTONE

    @property
    def row(self) -> Row:
        return Row(self.value, self.version)

    @property
    def rank(self) -> int:
        return rank(self.kind, self.version)

    def encode(self) -> bytes:
        head = "~c1|%s|%d|%s|%d|%d|%d\n" % (
            self.kind,
            self.version,
            self.write_id,
            self.soft_at,
            self.expires_at,
            self.delta,
        )
        return head.encode() + (self.value or b"")

    def __repr__(self) -> str:
        return f"Entry({self.kind}, v{self.version}, {self.value!r:.40}, wid={self.write_id!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Entry) and self.encode() == other.encode()


def rank(kind: str, version: int) -> int:
    """The order in which versioned writes may replace each other (module docstring)."""
    return 2 * version + (0 if kind == TOMBSTONE else 1)


def decode(raw: bytes | None) -> Entry | None:
    """Parse an entry; None for a missing key or a value this library did not write."""
    if raw is None or not raw.startswith(MAGIC):
        return None
    head, sep, payload = raw.partition(b"\n")
    if not sep:
        return None
    try:
        _, kind, version, write_id, soft_at, expires_at, delta = head.decode("ascii").split("|")
        entry = Entry(
            kind,
            int(version),
            payload if kind in (VALUE, DIRTY) else None,
            write_id=write_id,
            soft_at=int(soft_at),
            expires_at=int(expires_at),
            delta=int(delta),
        )
    except (ValueError, UnicodeDecodeError):
        return None
    return entry if kind in KINDS else None
