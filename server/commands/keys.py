"""Generic key commands: DEL, EXISTS, EXPIRE family, SCAN, ..."""

from __future__ import annotations

from protocol import encoder as enc

from .spec import command


@command("del")
def del_(c, argv):
    db = c.db
    n = 0
    for key in argv[1:]:
        if db.delete(key):
            n += 1
    return enc.integer(n)


@command("flushall")
def flushall(c, argv):
    for db in c.node.dbs:
        db.flush()
    c.node.dirty += 1
    return enc.OK


@command("flushdb")
def flushdb(c, argv):
    c.db.flush()
    c.node.dirty += 1
    return enc.OK
