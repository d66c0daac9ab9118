"""Transaction state: the MULTI queue, WATCHed keys and their invalidation (multi.c's
bookkeeping half; the commands live in ``server/commands/transactions.py``).

Design note
-----------
A client in MULTI has ``c.multi``, a ``Transaction``: the queued ``(spec, argv)`` pairs plus
the flags EXEC answers for at its own gates (processCommand's ``mstate.cmd_flags``: an EXEC
whose queue holds a write is a write for CLIENT PAUSE, OOM, read-only replicas...).
``c.multi_error`` is Redis's CLIENT_DIRTY_EXEC (a command was refused while queueing: EXEC
answers EXECABORT) and ``c.dirty_cas`` its CLIENT_DIRTY_CAS (a watched key changed: EXEC
answers the null array). A dirty transaction stores nothing more (queueMultiCommand).

WATCH registers a ``WatchedKey`` twice: in ``c.watched`` ((db, key) -> entry, to unwatch
and to deduplicate) and in ``Watches.by_db`` (db -> key -> entries in watch order, to find
the watchers of a written key). ``by_db`` holds only databases with watched keys, so
``Node.key_modified`` -- called for every write -- pays one truthiness test while nobody
watches (the node keeps ``node.watched`` as an alias of ``by_db``).

Redis 7.0's rules, followed here to the letter (multi.c touchWatchedKey,
touchAllWatchedKeysInDb, isWatchedKeyExpired):

* any write to a watched key makes its watchers dirty, and a dirty client stops watching
  at once (nothing more can happen to it); expiry deletes count as writes;
* a key already logically expired when it was watched is flagged ``expired``: its lazy
  deletion is no change (the flag is cleared), and EXEC ignores it when checking for
  watched keys that expired since; a write that finds such a key still in the dict stops
  the walk over that key's watchers (Redis's ``break``);
* FLUSHDB/FLUSHALL touch the watched keys that exist in the emptied database; SWAPDB those
  that exist in either database (an expired key in both is no change);
* EXEC fails if a watched key (not expired when watched) has expired by then, even if no
  one deleted it yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .connection import Client
    from .keyspace import Database
    from .node import Node


class Transaction(list):
    """The commands queued by MULTI, as ``(spec, argv)`` pairs, and the flags EXEC takes on
    from them: ``write``, ``denyoom``, ``may_replicate`` if any queued command has it,
    ``loading``, ``stale`` if every one has it (CMD_LOADING/CMD_STALE allow, not deny)."""

    __slots__ = ("write", "denyoom", "may_replicate", "loading", "stale")

    def __init__(self):
        super().__init__()
        self.write = self.denyoom = self.may_replicate = False
        self.loading = self.stale = True

    def add(self, spec, argv: list[bytes]) -> None:
        self.append((spec, argv))
        self.write = self.write or spec.write
        self.denyoom = self.denyoom or spec.denyoom
        self.may_replicate = self.may_replicate or spec.may_replicate
        self.loading = self.loading and spec.loading
        self.stale = self.stale and spec.stale


class WatchedKey:
    """One client watching one key of one database."""

    __slots__ = ("client", "db", "key", "expired")

    def __init__(self, client: Client, db: Database, key: bytes, expired: bool):
        self.client = client
        self.db = db
        self.key = key
        self.expired = expired  # the key was logically expired when WATCH ran


class Watches:
    """Every watched key of a node (``node.watches``). See the module docstring."""

    def __init__(self, node: Node):
        self.node = node
        #: db -> key -> its watchers in watch order; only databases with watched keys.
        self.by_db: dict[Database, dict[bytes, list[WatchedKey]]] = {}
        node.disconnect_hooks.append(self.unwatch_all)
        node.flush_hooks.append(self.flushing)

    # -- per client ------------------------------------------------------------------------
    def watch(self, c: Client, key: bytes) -> None:
        """watchForKey: watch ``key`` of the client's current database (once)."""
        db = c.db
        mine = c.watched
        if mine is None:
            mine = c.watched = {}
        elif (db, key) in mine:
            return
        wk = WatchedKey(c, db, key, db.is_expired(key))
        mine[(db, key)] = wk
        keys = self.by_db.get(db)
        if keys is None:
            keys = self.by_db[db] = {}
        watchers = keys.get(key)
        if watchers is None:
            keys[key] = [wk]
        else:
            watchers.append(wk)

    def unwatch_all(self, c: Client) -> None:
        """unwatchAllKeys (also the disconnect hook)."""
        mine = c.watched
        if not mine:
            return
        c.watched = None
        by_db = self.by_db
        for (db, key), wk in mine.items():
            keys = by_db[db]
            watchers = keys[key]
            watchers.remove(wk)
            if not watchers:
                del keys[key]
                if not keys:
                    del by_db[db]

    def any_expired(self, c: Client) -> bool:
        """isWatchedKeyExpired: a watched key (live when watched) is past its time now."""
        mine = c.watched
        if not mine:
            return False
        return any(not wk.expired and wk.db.is_expired(wk.key) for wk in mine.values())

    def _dirty(self, c: Client) -> None:
        c.dirty_cas = True
        self.unwatch_all(c)  # nothing can undo it: stop watching at once

    # -- writes --------------------------------------------------------------------------------
    def touch(self, db: Database, key: bytes) -> None:
        """touchWatchedKey: ``key`` of ``db`` was written or deleted."""
        keys = self.by_db.get(db)
        if keys is None:
            return
        watchers = keys.get(key)
        if watchers is None:
            return
        for wk in list(watchers):
            if wk.expired:
                if key not in db.data:
                    wk.expired = False  # the expired key is gone now: no logical change
                    continue
                break  # Redis 7.0 leaves the rest of this key's watchers untouched
            self._dirty(wk.client)

    def flushing(self, db: Database) -> None:
        """FLUSHDB/FLUSHALL is about to empty ``db`` (the node's flush hook)."""
        self.touch_all(db, None)

    def swapping(self, a: Database, b: Database) -> None:
        """SWAPDB is about to exchange the contents of ``a`` and ``b``."""
        self.touch_all(a, b)
        self.touch_all(b, a)

    def touch_all(self, emptied: Database, replaced_with: Database | None) -> None:
        """touchAllWatchedKeysInDb: ``emptied`` loses its contents (and, for SWAPDB, gets
        those of ``replaced_with``)."""
        keys = self.by_db.get(emptied)
        if keys is None:
            return
        old = emptied.data
        new = replaced_with.data if replaced_with is not None else {}
        for key, watchers in list(keys.items()):
            in_old = key in old
            if not in_old and key not in new:
                continue
            for wk in list(watchers):
                if wk.expired:
                    if key not in new:
                        wk.expired = False  # the expired key is deleted: no logical change
                        continue
                    if replaced_with.is_expired(key):
                        continue  # it stays an expired key
                elif not in_old and replaced_with.is_expired(key):
                    wk.expired = True  # a missing key replaced by an expired one
                    continue
                self._dirty(wk.client)


def discard_transaction(c: Client) -> None:
    """discardTransaction: leave MULTI, forget the queue, both dirty flags and the watches."""
    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    c.node.watches.unwatch_all(c)
    c.update_gated()


def exec_abort_reply(reply: bytes) -> bytes:
    """execCommandAbort's text: EXEC refused at its gates gives ``-EXECABORT Transaction
    discarded because of: <the refusal without its '-' (and Redis's implicit ERR)>``."""
    text = reply[1:-2]
    if text.startswith(b"ERR "):
        text = text[4:]
    return b"-EXECABORT Transaction discarded because of: " + text + b"\r\n"
