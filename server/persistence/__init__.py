"""Persistence: Redis's RDB format and the snapshots built on it.

What lives where
----------------
``crc64.py``      the Jones CRC-64 every RDB file and DUMP payload ends with
``lzf.py``        LZF, the compression of long RDB strings
``encodings.py``  the packed blobs inside values: listpack, intset, ziplist, zipmap
``rdb.py``        the format: ``RdbWriter`` (file writer), ``load`` (file loader), DUMP payloads
``snapshots.py``  ``Snapshots`` (``node.rdb``): SAVE, BGSAVE in a forked child, ``save``
                  points, loading at startup and for DEBUG RELOAD, INFO persistence state,
                  and the RDB a SYNC request receives
The commands (SAVE, BGSAVE, LASTSAVE, DUMP, RESTORE, DEBUG RELOAD, SYNC, REPLCONF) are in
``server/commands/persistence.py``.

Hooks for other subsystems (all optional, looked up on the node with ``getattr``)
---------------------------------------------------------------------------------
``node.function_libraries()``       the scripting layer: the code of every function library,
                                    saved as FUNCTION2 records. Without it, the libraries a
                                    loaded file held are saved again as they were.
``node.restore_functions(codes)``   the scripting layer: load FUNCTION payloads from a file
                                    (raise ValueError to fail the load). Without it they
                                    are kept in ``node.rdb.loaded_functions``.
``node.rdb_replication_info()``     the replication layer: (repl-stream-db, repl-id bytes,
                                    repl-offset) to write as AUX fields, or None.
``node.attach_replica(client)``     the replication layer: a SYNC client that is a real
                                    replica (not ``rdb-only``) after its RDB was sent.
``node.active_child()``             the AOF layer: True while its own fork child (a rewrite)
                                    runs, so no BGSAVE starts beside it (BGSAVE answers
                                    "Another child process is active", SCHEDULE defers).
"""

from __future__ import annotations


class DataLoadError(Exception):
    """The dataset on disk could not be loaded at startup; the server must exit (status 1).
    The reason has been logged already, in Redis's words."""
