"""The keyspace: databases of keys, their expiry times and access clocks.

Design note
-----------
A ``Database`` holds three plain dicts keyed by the key's bytes:

``data``     the value. Strings are ``bytes`` (``bytearray`` once APPEND/SETRANGE/SETBIT
             mutated them in place, which is also what makes OBJECT ENCODING say ``raw``);
             other types are their own classes (lists, hashes, ... in later modules).
``expires``  absolute expiry in milliseconds, only for keys that have one (INFO's
             ``expires=`` count and the active expiry sample come from it).
``lru``      the access clock of each key (seconds, like Redis's 24-bit LRU clock), read by
             OBJECT IDLETIME and, later, by eviction.

Keeping values "naked" in ``data`` keeps the hot path to one dict lookup; the side dicts
cost one more store per access, which is what Redis pays for its ``lru`` field too.

Expiry is lazy and active, as in Redis (expire.c). Every lookup checks the expiry first and
deletes an expired key (counted in ``expired_keys``, announced as an ``expired`` keyspace
event and propagated as ``DEL``). A key expires once the clock is *past* its time
(``now > when``, keyIsExpired). The active cycle (``active_expire_cycle``) runs from the
node's cron ``hz`` times a second and works like Redis 7.0's: each database keeps a sweep
position over the keys that have a TTL (``_ExpireSweep``, a snapshot list of ``expires``
walked in order and retaken when used up, like ``db->expires_cursor``); a loop checks the
next 20 keys, deletes the expired ones, and the cycle goes on while more than 10% of them
were expired, within a time budget of 25% of the cron period. Because the sweep moves on
from cycle to cycle, every expired key is reclaimed within one sweep of the TTL keys even
when only a few of them are stale; keys deleted since the snapshot are skipped.

New keys enter the keyspace only through ``set`` (the one place that tells an active
SCAN index, ``scan_index``, about them; see ``server/scan.py``). Code that needs another
way in must add the key to ``scan_index`` too.

All times come from the node's ``Clock`` (``clock.ms``), read once per batch of commands:
a command sees one "now", and tests can drive a fake clock.
"""

from __future__ import annotations

import math
import random
import time
from typing import TYPE_CHECKING

from .notify import NOTIFY_NEW

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

#: Keys checked per loop and the share of expired keys that makes the cycle go on
#: (ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP, ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE in 7.0).
EXPIRE_KEYS_PER_LOOP = 20
EXPIRE_REPEAT_PERCENT = 10
#: Share of each cron period the slow cycle may use (ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC).
EXPIRE_TIME_PERCENT = 25


_time_ns = time.time_ns


class Clock:
    """The node's notion of now. ``update()`` is called once per batch and by the cron.

    ``source`` returns seconds as a float when a test injects one; by default the system
    clock is read with ``time.time_ns`` (integer arithmetic, cheaper than a float).
    ``lru`` is Redis's LRU clock: seconds, modulo 2**24.
    """

    __slots__ = ("source", "ms", "lru", "_offset", "_next_second")

    LRU_MAX = (1 << 24) - 1

    def __init__(self, source=None):
        self.source = source  # None: the system clock, read as integer nanoseconds
        self._offset = 0
        self.ms = 0
        self.lru = 0
        self._next_second = 0
        self.update()

    def update(self) -> int:
        source = self.source
        if source is None:
            ms = _time_ns() // 1_000_000 + self._offset
        else:
            ms = int(source() * 1000) + self._offset
        self.ms = ms
        nxt = self._next_second
        if ms >= nxt or ms < nxt - 1000:  # the LRU clock moves once a second (or jumped back)
            self.lru = (ms // 1000) & self.LRU_MAX
            self._next_second = ms - ms % 1000 + 1000
        return ms

    def advance(self, ms: int) -> None:
        """Move this clock forward (tests; DEBUG's time travel)."""
        self._offset += ms
        self.update()


class Stats:
    """Counters behind INFO stats; kept as plain attributes for cheap increments."""

    __slots__ = (
        "keyspace_hits",
        "keyspace_misses",
        "expired_keys",
        "expired_stale_perc",
        "expired_time_cap_reached_count",
        "expire_cycle_cpu_milliseconds",
        "evicted_keys",
        "total_connections_received",
        "rejected_connections",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "total_error_replies",
        "unexpected_error_replies",
        "client_query_buffer_limit_disconnections",
        "client_output_buffer_limit_disconnections",
        "total_forks",
        "latest_fork_usec",
        "errors",
        # Replication (replication/): full and partial resyncs served, stream bytes in/out.
        "sync_full",
        "sync_partial_ok",
        "sync_partial_err",
        "total_net_repl_input_bytes",
        "total_net_repl_output_bytes",
    )

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)
        self.expired_stale_perc = 0.0
        self.errors: dict[bytes, int] = {}


class Database:
    """One of the node's numbered databases (SELECT n)."""

    __slots__ = (
        "id", "data", "expires", "lru", "node", "clock", "stats", "avg_ttl", "scan_index", "_sweep", "_ksample",
        "blocking_keys", "touch", "embstr_hint",
    )

    def __init__(self, index: int, node: Node):
        self.id = index
        self.data: dict[bytes, object] = {}
        self.expires: dict[bytes, int] = {}
        self.lru: dict[bytes, int] = {}
        self.node = node
        self.clock: Clock = node.clock
        self.stats: Stats = node.stats
        self.avg_ttl = 0
        #: SCAN's bucket index while clients scan this database (server/scan.py), else None.
        self.scan_index = None
        #: Clients blocked on keys of this database: key -> deque of waiters (server/blocking.py).
        self.blocking_keys: dict = {}
        #: False while a CLIENT NO-TOUCH client's command runs: lookups leave access clocks.
        self.touch = True
        #: key -> value for integer-looking strings Redis keeps as ``embstr`` (INCRBYFLOAT
        #: results skip tryObjectEncoding). OBJECT ENCODING trusts an entry only while the key
        #: still holds that very object, so overwrites need no bookkeeping here.
        self.embstr_hint: dict[bytes, bytes] = {}
        self._sweep = _ExpireSweep()  # walks expires (active expiry)
        self._ksample = _KeySample()  # draws from data (RANDOMKEY, eviction)

    def __len__(self) -> int:
        return len(self.data)

    # -- lookups -----------------------------------------------------------------------------
    def get(self, key: bytes):
        """Read lookup (lookupKeyRead): expiry, hit/miss statistics, access clock.
        (GET's run handler, commands/strings.py ``get_run``, inlines it: keep them in step.)"""
        v = self.data.get(key)
        if v is None:
            self.stats.keyspace_misses += 1
            if self.node.notify_flags:
                self.node.notify_keymiss(self, key)
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.clock.ms and self.expire_now(key):
                self.stats.keyspace_misses += 1
                if self.node.notify_flags:
                    self.node.notify_keymiss(self, key)
                return None
        if self.touch:
            self.lru[key] = self.clock.lru
        self.stats.keyspace_hits += 1
        return v

    def get_for_write(self, key: bytes):
        """Write lookup (lookupKeyWrite): expiry and access clock, no hit/miss counting."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.clock.ms and self.expire_now(key):
                return None
        if self.touch:
            self.lru[key] = self.clock.lru
        return v

    def peek(self, key: bytes):
        """Lookup without touching the access clock or the statistics (still expires)."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.clock.ms and self.expire_now(key):
                return None
        return v

    def contains(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def is_expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when < self.clock.ms

    def expire_now(self, key: bytes) -> bool:
        """The key's time has come: delete it (or, where Redis would not, only hide it).

        Returns True if callers must treat the key as missing.
        """
        node = self.node
        if node.loading:
            return False  # keyIsExpired: nothing expires while loading (an AOF replays on the keys)
        if node.expire_hides_only:
            # A replica never deletes on its own (its master sends DEL), and nothing is
            # deleted while clients are paused for writes; the key just reads as missing,
            # except to the master's own stream.
            return not node.current_client_is_master()
        self._delete(key)
        self.stats.expired_keys += 1
        node.key_expired(self, key)
        return True

    # -- writes ------------------------------------------------------------------------------
    def write_run_state(self):
        """What a write run handler (``CommandSpec.run``) works with -- ``(data, expires, lru,
        the LRU clock)`` -- when a write needs nothing beyond the store, the access clock and
        the change count; None otherwise: a key is watched, memory is tracked, a client
        waits on a key here, a keyspace event is wanted, a SCAN index is open, or this is an
        LFU database. Anything new that must see every write (client-side caching's
        invalidations, say) belongs in this test, and whatever must see every read in
        ``get_run``'s."""
        node = self.node
        if (
            self.__class__ is not Database
            or node.notify_flags
            or node.watched
            or node.memory_tracking
            or self.blocking_keys
            or self.scan_index is not None
        ):
            return None
        return self.data, self.expires, self.lru, self.clock.lru

    def set(self, key: bytes, value, keepttl: bool = False) -> None:
        """Add or overwrite (setKey): drops the TTL unless ``keepttl``; signals the write.

        A key that was absent fires the ``new`` keyspace event (dbAdd), when enabled.
        (SET's run handler, commands/strings.py ``set_run``, inlines it: keep them in step.)"""
        node = self.node
        new = node.notify_flags & NOTIFY_NEW and key not in self.data
        if self.scan_index is not None and key not in self.data:
            self.scan_index.add(key)
        if self.blocking_keys and key in self.blocking_keys and key not in self.data:
            self.node.blocking.signal(self, key, value)  # dbAdd -> signalKeyAsReady
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        if self.embstr_hint:  # small byte strings are shared objects: identity alone is not enough
            self.embstr_hint.pop(key, None)
        self.lru[key] = self.clock.lru
        if node.watched or node.memory_tracking:
            node.key_modified(self, key)
        else:
            node.dirty += 1  # all key_modified does when nothing watches keys: saves a call
        if new:
            node.notify(self, key, "new", "n")

    def add_unsignalled(self, key: bytes, value) -> None:
        """dbAdd of a new key without signalModifiedKey or a change count (a BITFIELD whose
        writes all failed still creates its zeroed key). It is still a new key: SCAN's index
        and the ``new`` keyspace event see it."""
        if self.scan_index is not None:
            self.scan_index.add(key)
        self.data[key] = value
        self.lru[key] = self.clock.lru
        if self.node.notify_flags & NOTIFY_NEW:
            self.node.notify(self, key, "new", "n")

    def replace_value(self, key: bytes, value) -> None:
        """Store a new value for an existing key, keeping its TTL (in-place updates)."""
        self.data[key] = value
        if self.embstr_hint:  # a new object, whatever its text (see set())
            self.embstr_hint.pop(key, None)
        node = self.node
        if node.watched or node.memory_tracking:
            node.key_modified(self, key)
        else:
            node.dirty += 1  # as in set()

    def delete(self, key: bytes) -> bool:
        """Delete a live key (expired keys are gone already); signals the write."""
        if self.peek(key) is None:
            return False
        self._delete(key)
        self.node.key_modified(self, key)
        return True

    def _delete(self, key: bytes) -> None:
        del self.data[key]
        if self.expires:
            self.expires.pop(key, None)
        if self.embstr_hint:
            self.embstr_hint.pop(key, None)
        self.lru.pop(key, None)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Set the absolute expiry of an existing key (no signal: callers signal the write)."""
        self.expires[key] = when_ms

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def flush(self) -> int:
        n = len(self.data)
        self.data = {}
        self.expires = {}
        self.lru = {}
        self.embstr_hint = {}
        self.avg_ttl = 0
        self.scan_index = None
        self._sweep = _ExpireSweep()
        self._ksample = _KeySample()
        return n

    def swap_contents(self, other: Database) -> None:
        """SWAPDB: exchange datasets; clients, watchers and blocked keys stay with the index."""
        if self.node.watched:
            self.node.watches.swapping(self, other)  # touchAllWatchedKeysInDb, before the swap
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.lru, other.lru = other.lru, self.lru
        self.avg_ttl, other.avg_ttl = other.avg_ttl, self.avg_ttl
        self._sweep, other._sweep = other._sweep, self._sweep
        self._ksample, other._ksample = other._ksample, self._ksample
        self.scan_index, other.scan_index = other.scan_index, self.scan_index
        self.embstr_hint, other.embstr_hint = other.embstr_hint, self.embstr_hint
        for db in (self, other):
            if db.scan_index is not None:
                db.scan_index.db = db
            if db.blocking_keys:
                self.node.blocking.scan_database(db)  # scanDatabaseForReadyKeys

    # -- random access -------------------------------------------------------------------------
    def random_key(self, rng: random.Random) -> bytes | None:
        """RANDOMKEY (dbRandomKey): a random live key; expired keys met on the way are expired.

        Where expired keys are only hidden (a replica), a database whose keys all have a TTL
        could hold nothing but logically expired keys: after 100 tries one is returned anyway,
        as Redis does.
        """
        data = self.data
        expires = self.expires
        tries = 0
        while data:
            n = len(data)
            if n <= 64:
                key = list(data)[rng.randrange(n)]
            else:
                key = self._ksample.random_from(data, rng)
            tries += 1
            if expires and key in expires and self.is_expired(key):
                if self.node.expire_hides_only:
                    if tries >= 100 and len(expires) == len(data):
                        return key
                    continue
                self.expire_now(key)
                continue
            return key
        return None

    # -- active expiry -------------------------------------------------------------------------
    def active_expire(self, now_ms: int, deadline: float, rng: random.Random) -> tuple[int, int, bool]:
        """One database's share of the active expire cycle (activeExpireCycle's db loop).

        Checks the next ``EXPIRE_KEYS_PER_LOOP`` keys of the sweep, deletes the expired ones,
        and goes on while more than ``EXPIRE_REPEAT_PERCENT`` of them were expired (or none
        of them still had a TTL). ``rng`` is unused: the sweep is deterministic, like
        Redis's expires cursor. Returns (sampled, expired, timed_out).
        """
        expires = self.expires
        sweep = self._sweep
        sampled_total = expired_total = 0
        while True:
            if not expires:
                self.avg_ttl = 0
                break
            sampled = expired = 0
            ttl_sum = ttl_n = 0
            for key in sweep.next_batch(expires, EXPIRE_KEYS_PER_LOOP):
                when = expires.get(key)
                if when is None:
                    continue
                sampled += 1
                if when < now_ms:
                    self.expire_now(key)
                    expired += 1
                else:
                    ttl_sum += when - now_ms
                    ttl_n += 1
            if ttl_n:
                avg = ttl_sum // ttl_n
                if not self.avg_ttl:
                    self.avg_ttl = avg
                self.avg_ttl = (self.avg_ttl // 50) * 49 + avg // 50
            sampled_total += sampled
            expired_total += expired
            if time.monotonic() > deadline:
                return sampled_total, expired_total, True
            if sampled and expired * 100 <= sampled * EXPIRE_REPEAT_PERCENT:
                break
        return sampled_total, expired_total, False


class _ExpireSweep:
    """The active cycle's position among the keys that have a TTL (db->expires_cursor).

    A snapshot list of ``expires`` is walked ``count`` keys at a time and taken again once
    used up, so every key with a TTL is checked once per sweep; keys added since the
    snapshot wait for the next one, keys deleted since are skipped by the caller. The walk
    is in a scattered order -- index ``i * stride mod n`` with a stride near ``n`` times the
    golden ratio and coprime to ``n`` -- so that keys written together (a batch with one TTL)
    are spread over the sweep as Redis's hash order spreads them, and each batch is a fair
    sample of the whole.
    """

    __slots__ = ("keys", "pos", "stride")

    def __init__(self):
        self.keys: list[bytes] = []
        self.pos = 0
        self.stride = 1

    def next_batch(self, expires: dict, count: int) -> list[bytes]:
        keys = self.keys
        n = len(keys)
        if self.pos >= n:
            keys = self.keys = list(expires)
            n = len(keys)
            self.pos = 0
            stride = int(n * 0.6180339887498949) | 1
            while math.gcd(stride, n) != 1:
                stride += 2
            self.stride = stride
        pos = self.pos
        end = self.pos = min(pos + count, n)
        stride = self.stride
        return [keys[i * stride % n] for i in range(pos, end)]


class _KeySample:
    """Random draws from a dict's keys (RANDOMKEY, eviction), through a snapshot list
    refreshed when stale."""

    __slots__ = ("keys", "misses", "draws")

    def __init__(self):
        self.keys: list[bytes] = []
        self.misses = 0
        self.draws = 0

    def _refresh(self, source: dict) -> None:
        self.keys = list(source)
        self.misses = 0
        self.draws = 0

    def _stale(self, source: dict) -> bool:
        n = len(self.keys)
        live = len(source)
        # Refresh when the source grew or shrank by a quarter, or draws keep missing.
        return (
            n == 0
            or live > n + (n >> 2)
            or live < n - (n >> 2)
            or (self.draws > 64 and self.misses * 4 > self.draws)
        )

    def random_from(self, source: dict, rng: random.Random) -> bytes:
        for _ in range(16):
            if self._stale(source):
                self._refresh(source)
            key = self.keys[rng.randrange(len(self.keys))]
            self.draws += 1
            if key in source:
                return key
            self.misses += 1
        self._refresh(source)
        return self.keys[rng.randrange(len(self.keys))]
