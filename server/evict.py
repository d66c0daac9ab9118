"""maxmemory and the eviction policies, as Redis 7.0's evict.c approximates them.

Design note
-----------
``Evictor.perform()`` is performEvictions: called by the dispatcher's OOM gate (through
``Node.free_memory_if_needed``) before a command flagged ``denyoom`` (or any command queued
in MULTI) when ``maxmemory`` is set, and right after CONFIG SET maxmemory. While
``used_memory`` (``server/memory.py``) is above ``maxmemory`` it picks a key by the policy
and deletes it, counting what the deletion freed, until it has freed the excess:

* ``allkeys-lru``/``volatile-lru``/``allkeys-lfu``/``volatile-lfu``/``volatile-ttl``:
  ``maxmemory-samples`` keys are drawn from every non-empty database (its keys, or its keys
  with a TTL for volatile-*), scored -- idle time in ms from the 24-bit LRU clock (1 s
  resolution), ``255 - counter`` for LFU, ``2**64 - 1 - expire time`` for TTL -- and
  merged into the 16-entry pool kept from call to call (``EvictionPool``, with
  evictionPoolPopulate's exact insertion rules: a full pool drops its lowest score). The
  best entry that still exists is evicted. Scores are not refreshed: a key sampled while
  idle can be evicted after it was used again, as in Redis.
* ``allkeys-random``/``volatile-random``: one random key of the next non-empty database,
  round-robin over the databases.
* ``noeviction``, or nothing left to evict (a volatile policy and no TTLs): the command
  gets ``-OOM command not allowed when used memory > 'maxmemory'.``; reads go on.

Keys are drawn through ``memory.KeyIndex`` (O(1) per draw, fed by the tracked databases as
keys arrive; nothing is paid on writes while ``maxmemory`` is 0).

Each eviction counts ``evicted_keys``, touches WATCHers, fires the ``evicted`` keyspace
event and propagates ``DEL`` (``UNLINK`` with ``lazyfree-lazy-eviction``). Every 16
evictions the time spent is checked against ``maxmemory-eviction-tenacity``'s limit
(50 us per step up to 10, then 15% more per step, unlimited at 100); past it the command
goes on and the rest is evicted from the event loop (evictionTimeProc), one slice per
loop iteration, until memory is under the limit.

LFU (``LfuDatabase``, active under an LFU policy): ``db.lru`` holds Redis's 24-bit
field, the last decrement time in minutes (16 bits) and a logarithmic counter (8 bits).
A new key starts at ``LFU_INIT_VAL`` (5). Each access first decays the counter by one per
``lfu-decay-time`` minutes elapsed, then increments it with probability
``1 / ((counter - 5) * lfu-log-factor + 1)`` (never above 255). OBJECT FREQ reads the
decayed counter (``commands/keys.py`` ``lfu_decr_and_return``, shared with the scores
here); OBJECT IDLETIME reads the LRU clock. Under other policies ``db.lru`` is the LRU
clock and the plain ``Database`` lookups maintain it.
"""

from __future__ import annotations

import time

from .commands.keys import lfu_decr_and_return
from .keyspace import Clock, Database
from .memory import TrackedDatabase

#: Candidates kept between calls (EVPOOL_SIZE).
EVPOOL_SIZE = 16
#: Counter of a new key under LFU.
LFU_INIT_VAL = 5
#: performEvictions' results.
EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
#: Idle time is kept in seconds and scored in ms (LRU_CLOCK_RESOLUTION).
LRU_CLOCK_RESOLUTION = 1000
ULLONG_MAX = (1 << 64) - 1

LRU_POLICIES = ("allkeys-lru", "volatile-lru")
LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
POOL_POLICIES = LRU_POLICIES + LFU_POLICIES + ("volatile-ttl",)
RANDOM_POLICIES = ("allkeys-random", "volatile-random")

_perf_ns = time.perf_counter_ns


def time_limit_us(tenacity: int) -> float:
    """evictionTimeLimitUs: how long one call may evict before handing over to the loop."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


# -- LFU -------------------------------------------------------------------------------------------


def lfu_minutes(clock: Clock) -> int:
    """LFUGetTimeInMinutes: the clock in minutes, modulo 2**16."""
    return (clock.ms // 60000) & 65535


def lfu_log_incr(counter: int, log_factor: int, random) -> int:
    """LFULogIncr: +1 with probability 1 / ((counter - LFU_INIT_VAL) * log_factor + 1)."""
    if counter == 255:
        return 255
    base = counter - LFU_INIT_VAL
    if base <= 0 or random() < 1.0 / (base * log_factor + 1):
        return counter + 1
    return counter


class LfuDatabase(TrackedDatabase):
    """A tracked database whose lookups keep LFU fields instead of LRU clocks (updateLFU).

    ``get``/``get_for_write`` touch a key as the plain lookups do; ``set`` gives a new key
    ``LFU_INIT_VAL`` and keeps an overwritten key's counter (dbOverwrite), counting the
    access of SET's own lookup -- except for a key with a TTL, whose lookup
    (``get_for_write`` in ``set_key``) already counted it.
    """

    __slots__ = ()

    def get(self, key: bytes):
        field = self.lru.get(key, 0)
        value = Database.get(self, key)
        if value is not None and self.touch:
            self.lru[key] = self.node.evictor.lfu_access(field)
        return value

    def get_for_write(self, key: bytes):
        field = self.lru.get(key, 0)
        value = Database.get_for_write(self, key)
        if value is not None and self.touch:
            self.lru[key] = self.node.evictor.lfu_access(field)
        return value

    def set(self, key: bytes, value, keepttl: bool = False) -> None:
        field = self.lru.get(key) if key in self.data else None
        looked_up = field is not None and key in self.expires
        TrackedDatabase.set(self, key, value, keepttl)
        evictor = self.node.evictor
        if field is None:
            self.lru[key] = (lfu_minutes(self.clock) << 8) | LFU_INIT_VAL
        elif looked_up or not self.touch:
            self.lru[key] = field
        else:
            self.lru[key] = evictor.lfu_access(field)


# -- the eviction pool -------------------------------------------------------------------------------


class EvictionPool:
    """The 16 best candidates seen so far, lowest score first (evictionPoolEntry[])."""

    __slots__ = ("entries",)

    def __init__(self):
        self.entries: list[tuple[int, int, bytes]] = []  # (score, dbid, key)

    def __len__(self) -> int:
        return len(self.entries)

    def insert(self, score: int, dbid: int, key: bytes) -> None:
        """evictionPoolPopulate's insertion: before the first entry with a score >= ours;
        into a full pool only by dropping its lowest entry, and never below it."""
        entries = self.entries
        n = len(entries)
        k = 0
        while k < n and entries[k][0] < score:
            k += 1
        if k == 0 and n == EVPOOL_SIZE:
            return
        if n < EVPOOL_SIZE:
            entries.insert(k, (score, dbid, key))
        else:
            del entries[0]
            entries.insert(k - 1, (score, dbid, key))

    def pop(self) -> tuple[int, int, bytes] | None:
        """The best entry, removed (the pool is walked from its end)."""
        return self.entries.pop() if self.entries else None


# -- the evictor -------------------------------------------------------------------------------------


class Evictor:
    """performEvictions and the eviction configuration of one node."""

    def __init__(self, node):
        self.node = node
        self.pool = EvictionPool()
        self.next_db = 0
        self.proc_running = False
        #: Time spent above maxmemory (INFO stats total_/current_eviction_exceeded_time).
        self.exceeded_since = 0.0
        self.exceeded_total = 0.0
        cfg = node.config
        for name in (
            "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
            "lfu-log-factor", "lfu-decay-time", "lazyfree-lazy-eviction",
        ):
            cfg.watch(name, lambda value: self.configure())
        cfg.watch("maxmemory", self._maxmemory_changed)
        self.configure()

    # -- configuration -------------------------------------------------------------------------
    def configure(self) -> None:
        cfg = self.node.config
        self.maxmemory = cfg["maxmemory"]
        self.policy = cfg["maxmemory-policy"]
        self.samples = cfg["maxmemory-samples"]
        self.limit_ns = time_limit_us(cfg["maxmemory-eviction-tenacity"]) * 1000
        self.log_factor = cfg["lfu-log-factor"]
        self.decay_time = cfg["lfu-decay-time"]
        self.lazy = cfg["lazyfree-lazy-eviction"]
        self.allkeys = self.policy.startswith("allkeys")
        lfu = self.policy in LFU_POLICIES
        if lfu:
            cls = LfuDatabase
        elif self.maxmemory:
            cls = TrackedDatabase
        else:
            cls = None
        self.node.memory.track(cls, lfu)

    def _maxmemory_changed(self, value: int) -> None:
        """updateMaxmemory: warn when the new limit is below the usage, then evict now."""
        self.configure()
        if not value:
            return
        self.node.memory.verify()
        used = self.node.memory.for_eviction()
        if value < used:
            self.node.log.warning(
                "WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than the current "
                "memory usage (%d). This will result in key eviction and/or the inability to accept new "
                "write commands depending on the maxmemory-policy." % (value, used)
            )
        self.perform()

    # -- LFU ---------------------------------------------------------------------------------------
    def lfu_access(self, field: int) -> int:
        """updateLFU: decay, then maybe increment; returns the new field."""
        clock = self.node.clock
        counter = lfu_decr_and_return(field, clock.ms // 1000, self.decay_time)
        counter = lfu_log_incr(counter, self.log_factor, self.node.rng.random)
        return (lfu_minutes(clock) << 8) | counter

    # -- performEvictions ------------------------------------------------------------------------
    def _safe(self) -> bool:
        """isSafeToPerformEvictions: not while loading or paused, nor on a replica that
        ignores maxmemory."""
        node = self.node
        if node.loading or node.pause_end:
            return False
        cfg = node.config
        return cfg["replicaof"] is None or not cfg["replica-ignore-maxmemory"]

    def free_memory_if_needed(self) -> bool:
        """False when the command must get OOM."""
        return self.perform() != EVICT_FAIL

    def perform(self) -> int:
        maxmemory = self.maxmemory
        if not maxmemory or not self._safe():
            return EVICT_OK
        memory = self.node.memory
        used = memory.for_eviction()
        if used <= maxmemory:
            self._note_exceeded(False)
            return EVICT_OK
        if self.policy == "noeviction":
            self._note_exceeded(True)
            return EVICT_FAIL
        start = _perf_ns()
        result = self._evict(used - maxmemory)
        self._note_exceeded(result != EVICT_OK)
        threshold = self.node.config["latency-monitor-threshold"]
        if threshold:
            from .commands.admin import latency_add_sample_if_needed

            latency_add_sample_if_needed(self.node, "eviction-cycle", (_perf_ns() - start) // 1_000_000)
        return result

    def _evict(self, to_free: int) -> int:
        node = self.node
        memory = node.memory
        pick = self._pick_random if self.policy in RANDOM_POLICIES else self._pick_pooled
        start = _perf_ns()
        freed = keys_freed = 0
        while freed < to_free:
            found = pick()
            if found is None:
                return EVICT_FAIL
            db, key = found
            before = memory.for_eviction()
            self._delete(db, key)
            freed += before - memory.for_eviction()
            keys_freed += 1
            if keys_freed % 16 == 0 and _perf_ns() - start > self.limit_ns:
                if not self.proc_running and node.loop is not None:
                    self.proc_running = True
                    node.loop.call_soon(self._proc)
                return EVICT_RUNNING
        return EVICT_RUNNING if self.proc_running else EVICT_OK

    def _proc(self) -> None:
        """evictionTimeProc: keep evicting, one time slice per loop iteration."""
        self.proc_running = False
        if self.perform() == EVICT_RUNNING and not self.proc_running and self.node.loop is not None:
            self.proc_running = True
            self.node.loop.call_soon(self._proc)

    def _delete(self, db: Database, key: bytes) -> None:
        """Evict one key: delete, count, signal, notify, propagate."""
        node = self.node
        db._delete(key)
        node.stats.evicted_keys += 1
        if node.watched:
            node.watches.touch(db, key)  # signalModifiedKey
        if node.notify_flags:
            node.notify(db, key, "evicted", "e")
        if node.propagating:
            node.propagate(db.id, [b"UNLINK" if self.lazy else b"DEL", key])

    def exceeded_ms(self, total: bool) -> int:
        """INFO's total_/current_eviction_exceeded_time: time spent above maxmemory."""
        current = time.monotonic() - self.exceeded_since if self.exceeded_since else 0.0
        return int(((self.exceeded_total if total else 0.0) + current) * 1000)

    def _note_exceeded(self, exceeded: bool) -> None:
        now = time.monotonic()
        if exceeded:
            if not self.exceeded_since:
                self.exceeded_since = now
        elif self.exceeded_since:
            self.exceeded_total += now - self.exceeded_since
            self.exceeded_since = 0.0

    # -- choosing a key --------------------------------------------------------------------------
    def _pick_random(self):
        """allkeys-random / volatile-random: a random key of the next non-empty database."""
        dbs = self.node.dbs
        accounts = self.node.memory.accounts
        random = self.node.rng.random
        n = len(dbs)
        for _ in range(n):
            self.next_db += 1
            j = self.next_db % n
            db = dbs[j]
            if self.allkeys:
                key = accounts[j].data_index.draw(db.data, random)
            else:
                key = accounts[j].expires_index.draw(db.expires, random)
            if key is not None:
                return db, key
        return None

    def _pick_pooled(self):
        """The LRU / LFU / TTL policies: refill the pool from every database, then take the
        best candidate that still exists ("ghosts" are dropped and sampling starts over)."""
        dbs = self.node.dbs
        pool = self.pool
        allkeys = self.allkeys
        while True:
            total = 0
            for db in dbs:
                keys = len(db.data) if allkeys else len(db.expires)
                if keys:
                    self._populate(db)
                    total += keys
            if not total:
                return None
            while True:
                entry = pool.pop()
                if entry is None:
                    break
                db = dbs[entry[1]]
                key = entry[2]
                if key in (db.data if allkeys else db.expires):
                    return db, key

    def _populate(self, db: Database) -> None:
        """evictionPoolPopulate: sample ``maxmemory-samples`` keys of ``db`` into the pool."""
        node = self.node
        account = node.memory.accounts[db.id]
        random = node.rng.random
        if self.allkeys:
            keys = account.data_index.sample(db.data, self.samples, random)
        else:
            keys = account.expires_index.sample(db.expires, self.samples, random)
        policy = self.policy
        lru = db.lru
        insert = self.pool.insert
        dbid = db.id
        if policy in LRU_POLICIES:
            now = node.clock.lru
            for key in keys:
                field = lru.get(key, now)
                idle = now - field if now >= field else now + (Clock.LRU_MAX - field)
                insert(idle * LRU_CLOCK_RESOLUTION, dbid, key)
        elif policy in LFU_POLICIES:
            seconds = node.clock.ms // 1000
            decay = self.decay_time
            for key in keys:
                insert(255 - lfu_decr_and_return(lru.get(key, 0), seconds, decay), dbid, key)
        else:  # volatile-ttl: the sooner the better
            expires = db.expires
            for key in keys:
                insert(ULLONG_MAX - expires[key], dbid, key)
