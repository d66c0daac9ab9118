"""The replication AUX fields of an RDB file: ``repl-stream-db``, ``repl-id``, ``repl-offset``.

Design note
-----------
Redis 7.0 writes them (rdbSaveInfoAuxFields) when the instance has a replication history,
and reads them back at startup so that a restarted replica can ask its master for a partial
resynchronisation, and a restarted master can serve one. AUX records come first in the file,
so only its head is read. ``aux_history(aux)`` interprets the fields of a parsed file (the
loader's ``LoadResult.aux``) the same way.
"""

from __future__ import annotations

from server.persistence.rdb import OP_AUX, LoadLimits, RdbError, Reader, check_header

#: AUX records are a few hundred bytes; this is plenty.
_HEAD = 64 * 1024


def aux_history(aux: dict):
    """(repl-stream-db, repl-id, repl-offset), or None when the fields are absent or unusable
    (rsi.repl_id_is_set && repl_offset != -1 && repl_stream_db != -1)."""
    replid = aux.get(b"repl-id")
    offset = aux.get(b"repl-offset")
    dbid = aux.get(b"repl-stream-db")
    if replid is None or offset is None or dbid is None or len(replid) != 40:
        return None
    try:
        offset_n, dbid_n = int(offset), int(dbid)
    except ValueError:
        return None
    if offset_n == -1 or dbid_n == -1:
        return None
    return dbid_n, replid.decode("latin-1"), offset_n


def read_aux(path: str) -> dict:
    """The AUX fields at the head of an RDB file ({} if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD)
    except OSError:
        return {}
    aux: dict = {}
    try:
        check_header(head)
        r = Reader(head, LoadLimits(), 9)
        while r.pos < len(head) and head[r.pos] == OP_AUX:
            r.pos += 1
            name = r.string()
            aux[name] = r.string()
    except (RdbError, IndexError, ValueError):
        pass
    return aux


def read_replication_aux(path: str):
    return aux_history(read_aux(path))
