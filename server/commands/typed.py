"""Key lookups with Redis's type check (lookupKeyRead/lookupKeyWrite + checkType), made once
for each value class so that the per-type command modules share one definition without an
extra call on their hot paths."""

from __future__ import annotations

from .. import errors as E
from ..errors import CommandError


def typed_lookups(cls):
    """``(read(c, key), write(db, key))``: the ``cls`` value at ``key`` or None; WRONGTYPE
    for a value of any other type. ``read`` counts hits and misses, ``write`` does not."""

    def read(c, key: bytes):
        value = c.db.get(key)
        if value is not None and value.__class__ is not cls:
            raise CommandError(E.WRONGTYPE)
        return value

    def write(db, key: bytes):
        value = db.get_for_write(key)
        if value is not None and value.__class__ is not cls:
            raise CommandError(E.WRONGTYPE)
        return value

    return read, write
