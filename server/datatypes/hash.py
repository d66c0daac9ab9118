"""The Redis hash (``RHash``): a ``dict`` of ``bytes`` fields to ``bytes`` values.

Design note
-----------
Redis 7.0 keeps a small hash in a *listpack* (field, value, field, value... in insertion
order) and converts it, for good, to a hash table when it gets more than
``hash-max-listpack-entries`` fields or a field or value longer than
``hash-max-listpack-value`` bytes is written (hashTypeTryConversion for HSET/HSETNX
arguments, hashTypeSet for HINCRBY/HINCRBYFLOAT results and fields). The ``listpack``
flag records it; deleting fields never converts back.

A Python dict iterates in insertion order and keeps a field's place when its value is
replaced, exactly like the listpack: so HGETALL, HKEYS, HSCAN... of a listpack hash answer
in Redis's (deterministic) order, and a hash table's seed-dependent order is matched by
any order. Random draws and HSCAN cursors come from ``Members`` (``server/datatypes/set.py``);
all changes go through the methods here so that those indexes stay right.
"""

from __future__ import annotations

from .set import Members, dict_memory, dict_slots, is_int64, sds_memory, table_size


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


def _int_entry_size(v: int) -> int:
    if 0 <= v <= 127:
        return 1
    if -4096 <= v <= 4095:
        return 2
    if -(1 << 15) <= v < (1 << 15):
        return 3
    if -(1 << 23) <= v < (1 << 23):
        return 4
    if -(1 << 31) <= v < (1 << 31):
        return 5
    return 9


def listpack_bytes(items) -> int:
    """The size of a listpack holding ``items`` (listpack.c): a 6-byte header, each entry
    as an integer when its text is a canonical int64 or as a string, with its back-length,
    and the end byte."""
    total = 7
    for item in items:
        if is_int64(item):
            n = _int_entry_size(int(item))
        else:
            length = len(item)
            n = length + (1 if length < 64 else 2 if length < 4096 else 5)
        total += n + _backlen_size(n)
    return total


class RHash(Members, dict):
    """A hash value (see the module docstring)."""

    __slots__ = ("listpack", "_picker", "_scan", "_ht_base")

    redis_type = b"hash"

    def __init__(self, pairs=(), listpack: bool = True):
        dict.__init__(self, pairs)
        self.listpack = listpack
        self._picker = None
        self._scan = None
        self._ht_base = table_size(len(self))

    @classmethod
    def build(cls, pairs, max_entries: int, max_value: int) -> RHash:
        """A hash holding ``pairs``, encoded as Redis loads one (rdbLoadObject): listpack if
        there are at most ``max_entries`` fields and no field or value is longer than
        ``max_value``."""
        h = cls(pairs)
        h.listpack = len(h) <= max_entries and all(
            len(f) <= max_value and len(v) <= max_value for f, v in h.items()
        )
        return h

    def object_encoding(self, config) -> bytes:
        return b"listpack" if self.listpack else b"hashtable"

    def copy(self) -> RHash:
        """hashTypeDup: same pairs, same encoding (a presized dict)."""
        return RHash(self, self.listpack)

    def to_hashtable(self) -> None:
        """hashTypeConvertListpack: the dict is presized for the fields it holds now."""
        self.listpack = False
        self._ht_base = table_size(len(self))

    def memory_usage(self, samples: int) -> int:
        """MEMORY USAGE of the value (objectComputeSize)."""
        from ..info import ROBJ, jemalloc_size

        if self.listpack:
            return ROBJ + jemalloc_size(listpack_bytes(x for pair in self.items() for x in pair))
        slots = dict_slots(len(self), self._ht_base, 2)
        return dict_memory(self, samples, slots, lambda f: sds_memory(f) + sds_memory(self[f]))

    # -- changes -------------------------------------------------------------------------------
    def set_pairs(self, args, start: int, max_entries: int, max_value: int) -> int:
        """HSET/HMSET: ``args[start:]`` are field, value, ...; returns how many fields were
        new. hashTypeTryConversion looks at every argument before anything is set."""
        if self.listpack:
            for i in range(start, len(args)):
                if len(args[i]) > max_value:
                    self.to_hashtable()
                    break
        n = len(self)
        indexed = self._picker is not None or self._scan is not None
        for i in range(start, len(args), 2):
            field = args[i]
            if indexed and field not in self:
                self._added(field)
            self[field] = args[i + 1]
        if self.listpack and len(self) > max_entries:
            # hashTypeSet converted it when the field after the limit went in.
            self.listpack = False
            self._ht_base = table_size(max_entries + 1)
        return len(self) - n

    def set_field(self, field: bytes, value: bytes, max_entries: int, max_value: int) -> bool:
        """hashTypeSet for one field (HSETNX, HINCRBY, HINCRBYFLOAT, one-pair HSET): True
        if it was new. A field or value too long for the listpack converts the hash first."""
        if self.listpack and (len(field) > max_value or len(value) > max_value):
            self.to_hashtable()
        new = field not in self
        self[field] = value
        if new:
            self._added(field)
            if self.listpack and len(self) > max_entries:
                self.to_hashtable()
        return new

    def delete_fields(self, fields) -> int:
        """HDEL: remove ``fields``; returns how many were there."""
        deleted = 0
        pop = self.pop
        for f in fields:
            if pop(f, None) is not None:
                deleted += 1
                self._removed(f)
        return deleted
