"""AOF commands: BGREWRITEAOF, and DEBUG LOADAOF.

Design note
-----------
The work is in ``server/persistence/aof.py`` (``node.aof``); these handlers only give Redis's
replies (aof.c bgrewriteaofCommand, debug.c). Inside EXEC (``c.deny_blocking``) the rewrite is
scheduled rather than forked, as Redis does while ``server.in_exec``.
"""

from __future__ import annotations

from protocol.encoder import OK

from .admin import debug_subcommand
from .spec import command


@command("bgrewriteaof")
def bgrewriteaof(c, argv):
    return c.node.aof.bgrewrite_command(in_exec=c.deny_blocking)


@debug_subcommand("loadaof", 2, 2)
def debug_loadaof(c, argv):
    c.node.aof.debug_loadaof()
    return OK
