"""String commands: GET, SET and the rest of the string group."""

from __future__ import annotations

from protocol import encoder as enc
from protocol.encoder import OK

from .. import errors as E
from ..errors import CommandError
from .spec import command


@command("get")
def get(c, argv):
    v = c.db.get(argv[1])
    if v is None:
        return c.proto.null
    if v.__class__ is bytes or v.__class__ is bytearray:
        return b"$%d\r\n%b\r\n" % (len(v), v)
    raise CommandError(E.WRONGTYPE)


@command("set")
def set_(c, argv):
    if len(argv) == 3:
        c.db.set(argv[1], argv[2])
        return OK
    raise CommandError(E.SYNTAX)
