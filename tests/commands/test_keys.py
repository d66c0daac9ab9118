"""Generic key commands end to end, and SCAN's guarantee.

Replies are compared with real Redis in tests/differential/test_keys_diff.py; here are the
behaviours a byte comparison cannot show: SCAN returns every key that stays present for a
whole iteration while other keys come and go (over TCP, with cursors passed between
clients, and exhaustively on the index itself), COUNT/MATCH/TYPE shape the steps, and the
moves between databases carry values and TTLs along.
"""

from __future__ import annotations

import os
import random
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import Node
from server import scan as scan_mod
from server.scan import reverse64, scan_keys
from tests.support.servers import real_redis

# -- SCAN over TCP ---------------------------------------------------------------------------


def full_scan(clients, **options) -> tuple[list[bytes], int]:
    """One iteration, each step sent by the next client in turn; (keys in order, steps)."""
    cursor, keys, steps = 0, [], 0
    while True:
        client = clients[steps % len(clients)]
        cursor, batch = client.scan(cursor, **options)
        keys += batch
        steps += 1
        if cursor == 0:
            return keys, steps


def test_scan_returns_every_key_of_a_quiet_keyspace(r):
    r.mset({f"k:{i}": i for i in range(1000)})
    keys, steps = full_scan([r], count=10)
    assert set(keys) == {f"k:{i}".encode() for i in range(1000)}
    assert 20 < steps < 1000  # COUNT is a hint, but it does shape the steps


def test_scan_count_bounds_the_step_size(r):
    r.mset({f"k:{i}": i for i in range(2000)})
    cursor, batch = r.scan(0, count=5)
    assert cursor != 0 and 5 <= len(batch) < 40
    cursor, batch = r.scan(0, count=5000)
    assert cursor == 0 and len(batch) == 2000


def test_scan_guarantee_holds_while_keys_come_and_go(shared_node, r):
    """Keys present for the whole iteration are all returned, while others are added and
    deleted between the steps -- enough of them to make the index grow and shrink -- and
    the steps are sent by three different connections."""
    rng = random.Random(7)
    stable = {f"stable:{i}".encode() for i in range(3000)}
    r.mset({k: b"1" for k in stable})
    churn = [f"churn:{i}".encode() for i in range(20000)]
    r.mset({k: b"1" for k in churn[:2000]})
    present = set(churn[:2000])
    others = [redis.Redis(port=shared_node.port) for _ in range(2)]
    ever_present = stable | present
    clients = [r] + others
    cursor, seen, step = 0, [], 0
    while True:
        cursor, batch = clients[step % 3].scan(cursor, count=rng.choice([1, 10, 100]))
        seen += batch
        step += 1
        if cursor == 0:
            break
        # Churn: a burst of new keys (the index grows), or a burst of deletions (it shrinks).
        if step % 40 < 20:
            new = churn[len(present) : len(present) + rng.randrange(0, 400)]
            if new:
                r.mset({k: b"1" for k in new})
                present.update(new)
                ever_present.update(new)
        else:
            gone = rng.sample(sorted(present), min(len(present), rng.randrange(0, 400)))
            if gone:
                r.delete(*gone)
                present.difference_update(gone)
    for c in others:
        c.close()
    assert stable <= set(seen)
    assert set(seen) <= ever_present


def test_scan_guarantee_with_concurrent_iterations_and_flush_of_other_db(r, shared_node):
    r.mset({f"a:{i}": 1 for i in range(500)})
    first_cursor, first = r.scan(0, count=20)
    # A second iteration starts (and finishes) in the middle of the first, with writes.
    r.mset({f"b:{i}": 1 for i in range(3000)})
    second, _ = full_scan([r], count=500)
    assert {f"a:{i}".encode() for i in range(500)} | {f"b:{i}".encode() for i in range(3000)} <= set(second)
    r.delete(*[f"b:{i}" for i in range(3000)])
    other = redis.Redis(port=shared_node.port, db=1)
    other.set("x", 1)
    other.flushdb()
    other.close()
    rest = first
    cursor = first_cursor
    while cursor != 0:
        cursor, batch = r.scan(cursor, count=20)
        rest += batch
    assert {f"a:{i}".encode() for i in range(500)} <= set(rest)


def test_scan_of_a_database_is_rebuilt_after_flushdb_and_swapdb(r, shared_node):
    r.mset({f"a:{i}": 1 for i in range(100)})
    r.scan(0)
    r.flushdb()
    r.mset({f"b:{i}": 1 for i in range(100)})
    keys, _ = full_scan([r], count=7)
    assert set(keys) == {f"b:{i}".encode() for i in range(100)}
    other = redis.Redis(port=shared_node.port, db=1)
    other.mset({f"c:{i}": 1 for i in range(50)})
    r.scan(0)
    other.scan(0)
    r.swapdb(0, 1)
    keys, _ = full_scan([r], count=7)
    assert set(keys) == {f"c:{i}".encode() for i in range(50)}
    keys, _ = full_scan([other], count=7)
    assert set(keys) == {f"b:{i}".encode() for i in range(100)}
    r.set("new-in-0", 1)
    other.set("new-in-1", 1)
    assert b"new-in-0" in full_scan([r])[0]
    assert b"new-in-1" in full_scan([other])[0]
    other.close()


def test_scan_match_and_type_filter_after_the_step(r):
    r.mset({f"user:{i}": i for i in range(200)})
    r.mset({f"item:{i}": i for i in range(200)})
    keys, _ = full_scan([r], match="user:1*", count=20)
    assert set(keys) == {k for k in (f"user:{i}".encode() for i in range(200)) if k.startswith(b"user:1")}
    # Filtering happens after the step: steps with no match come back empty.
    cursor, batch = r.scan(0, match="nothing*", count=10)
    assert cursor != 0 and batch == []
    assert set(full_scan([r], _type="STRING")[0]) == set(r.keys("*"))
    assert full_scan([r], _type="list")[0] == []
    assert full_scan([r], _type="nosuchtype", count=5)[0] == []


def test_scan_skips_and_deletes_expired_keys(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.mset({f"k:{i}": i for i in range(50)})
        for i in range(0, 50, 2):
            r.pexpire(f"k:{i}", 1)
        time.sleep(0.02)
        assert r.dbsize() == 50
        keys, _ = full_scan([r])
        assert sorted(keys) == sorted(f"k:{i}".encode() for i in range(1, 50, 2))
        assert r.dbsize() == 25
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_no_scan_index_is_kept_without_scans(r, shared_node):
    db = shared_node.dbs[0]
    r.mset({f"k:{i}": i for i in range(100)})
    assert db.scan_index is None
    r.scan(0)
    assert db.scan_index is not None
    r.flushall()
    assert db.scan_index is None


def test_an_idle_scan_index_is_dropped_on_the_next_new_key(r, shared_node, monkeypatch):
    monkeypatch.setattr(scan_mod, "IDLE_MS", -1)
    r.mset({f"k:{i}": i for i in range(10)})
    r.scan(0)
    r.set("k:5", "overwrite")  # not a new key: nothing to do
    assert shared_node.dbs[0].scan_index is not None
    r.set("new", 1)
    assert shared_node.dbs[0].scan_index is None
    assert b"new" in full_scan([r])[0]


# -- the index itself, exhaustively ----------------------------------------------------------


def test_reverse64_is_an_involution_and_reverses_bits():
    assert reverse64(1) == 1 << 63
    assert reverse64(0b110) == 0b011 << 61
    for x in (0, 1, 12345678901234567, 2**64 - 1, 2**63):
        assert reverse64(reverse64(x)) == x


def test_small_tables_step_like_redis_reverse_binary_cursors():
    node = Node()
    db = node.dbs[0]
    for i in range(40):  # 16 buckets
        db.set(b"k%d" % i, b"v")
    cursors = []
    cursor = 0
    while True:
        cursor, _ = scan_keys(db, cursor, 1)
        if cursor == 0:
            break
        cursors.append(cursor)
    # Redis's cursor sequence over a 16-bucket table, skipping the steps a COUNT 1 skips.
    redis_order = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    assert cursors == sorted(cursors, key=redis_order.index)
    assert set(cursors) <= set(redis_order)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 400), st.integers(1, 60)),
        st.tuples(st.just("del"), st.integers(0, 400), st.integers(1, 60)),
        st.tuples(st.just("step"), st.integers(0, 2), st.sampled_from([1, 3, 10, 50])),
        st.tuples(st.just("start"), st.integers(0, 2), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.integers(0, 300), ops=_OPS)
def test_scan_guarantee_for_any_interleaving(initial, ops):
    """Three iterations in flight over one database whose keys come and go (enough to make
    the index grow, shrink and rebuild): each one, when it completes, has returned every
    key that was present from its start to its end, exactly once, and nothing that was
    never there."""
    node = Node()
    db = node.dbs[0]
    for i in range(initial):
        db.set(b"k%d" % i, b"v")
    ever = set(db.data)
    iters = [None, None, None]  # [cursor, returned keys, present throughout]

    def begin(n):
        iters[n] = [0, [], set(db.data)]

    def finished(it):
        assert it[2] <= set(it[1])
        assert len(it[1]) == len(set(it[1]))

    for i in range(3):
        begin(i)
    for op, a, b in ops:
        if op == "add":
            for i in range(a, a + b):
                db.set(b"k%d" % i, b"v")
                ever.add(b"k%d" % i)
        elif op == "del":
            for i in range(a, a + b):
                db.delete(b"k%d" % i)
        elif op == "start":
            begin(a)
        else:
            it = iters[a]
            cursor, keys = scan_keys(db, it[0], b)
            assert set(keys) <= ever
            it[1] += keys
            it[0] = cursor
            if cursor == 0:
                finished(it)
                begin(a)
        for it in iters:
            it[2] &= set(db.data)
    for it in iters:  # finish what is left
        while True:
            cursor, keys = scan_keys(db, it[0], 10)
            it[1] += keys
            it[0] = cursor
            if cursor == 0:
                break
        finished(it)


# -- moves between keys and databases --------------------------------------------------------


def test_rename_keeps_value_and_ttl_and_overwrites_the_target(r):
    r.set("a", "1", ex=100)
    r.set("b", "old", ex=5000)
    assert r.rename("a", "b") is True
    assert r.get("b") == b"1" and 95 < r.ttl("b") <= 100
    assert r.exists("a") == 0
    r.set("c", "2")
    r.rename("c", "b")
    assert r.ttl("b") == -1


def test_copy_to_another_database_is_independent_of_the_source(r, shared_node):
    r.set("s", "abc")
    r.append("s", "def")  # a raw string changed in place
    assert r.copy("s", "t", destination_db=2) is True
    r.append("s", "!")
    other = redis.Redis(port=shared_node.port, db=2)
    assert other.get("t") == b"abcdef"
    assert r.get("s") == b"abcdef!"
    other.close()


def test_move_carries_the_ttl_and_refuses_existing_targets(r, shared_node):
    other = redis.Redis(port=shared_node.port, db=1)
    r.set("m", "v", px=100000)
    other.set("taken", "x")
    r.set("taken", "y")
    assert r.move("m", 1) is True
    assert r.move("taken", 1) is False
    assert r.exists("m") == 0 and other.get("m") == b"v"
    assert 99000 < other.pttl("m") <= 100000
    other.close()


def test_swapdb_swaps_data_expires_and_is_seen_by_connected_clients(r, shared_node):
    other = redis.Redis(port=shared_node.port, db=1)
    r.set("zero", "0", ex=100)
    other.set("one", "1")
    assert r.swapdb(0, 1) is True
    assert r.get("one") == b"1" and r.get("zero") is None
    assert other.get("zero") == b"0" and 95 < other.ttl("zero") <= 100
    info = r.info("keyspace")
    assert info["db0"]["keys"] == 1 and info["db0"]["expires"] == 0
    assert info["db1"]["expires"] == 1
    other.close()


def test_dirty_counter_counts_like_redis(r):
    """rdb_changes_since_last_save moves as in Redis 7.0.15 (checked live): RENAME, MOVE,
    SWAPDB, COPY, EXPIRE, PERSIST count once, DEL one per key, FLUSHDB/FLUSHALL the number
    of keys removed."""

    def changes():
        return r.info("persistence")["rdb_changes_since_last_save"]

    r.mset({"a": 1, "b": 2, "c": 3})
    steps = [
        (lambda: r.rename("a", "x"), 1),
        (lambda: r.move("x", 3), 1),
        (lambda: r.swapdb(0, 3), 1),
        (lambda: r.swapdb(0, 3), 1),
        (lambda: r.delete("b", "c", "nokey"), 2),
        (lambda: r.flushdb(), 0),
        (lambda: r.mset({"p": 1, "q": 2}), 2),
        (lambda: r.flushall(), 3),
        (lambda: r.expire("nokey", 10), 0),
        (lambda: r.set("k", 1), 1),
        (lambda: r.expire("k", 10), 1),
        (lambda: r.persist("k"), 1),
        (lambda: r.copy("k", "k2"), 1),
        (lambda: r.copy("k", "k2", replace=True), 1),
        (lambda: r.expire("k", -1), 1),
        (lambda: r.unlink("k2"), 1),
    ]
    for action, delta in steps:
        before = changes()
        action()
        assert changes() - before == delta


@pytest.mark.parametrize("count", [1, 64, 65, 500])
def test_randomkey_returns_live_keys_and_expires_dead_ones(r, count):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.mset({f"live:{i}": 1 for i in range(count)})
        r.mset({f"dead:{i}": 1 for i in range(count * 3)})
        for i in range(count * 3):
            r.pexpire(f"dead:{i}", 1)
        time.sleep(0.02)
        seen = {r.randomkey() for _ in range(50)}
        assert all(k.startswith(b"live:") for k in seen)
        assert r.info("stats")["expired_keys"] >= 1
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    r.flushall()
    assert r.randomkey() is None


def test_object_idletime_counts_seconds_since_the_last_access(node):
    r = redis.Redis(port=node.port)
    r.set("k", "v")
    assert r.object("idletime", "k") == 0
    node.clock.advance(7000)  # DEBUG-style time travel instead of sleeping
    assert r.object("idletime", "k") == 7  # OBJECT itself does not touch the key
    assert r.ttl("k") == -1 and r.type("k") == b"string" and r.exists("k") == 1
    assert r.object("idletime", "k") == 7  # neither do TTL, TYPE, EXISTS
    r.get("k")
    assert r.object("idletime", "k") == 0
    r.close()


def test_exists_and_touch_count_hits_and_misses(r):
    r.config_resetstat()
    r.set("k", "v")
    r.exists("k", "k", "nokey")
    r.touch("k", "nokey")
    stats = r.info("stats")
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == (3, 2)


def _flushall_story(port: int, directory: str) -> list:
    r = redis.Redis(port=port)
    r.config_set("save", "")
    r.flushall()
    r.set("a", "b")
    r.set("c", "d")
    changes = lambda: r.info("persistence")["rdb_changes_since_last_save"]  # noqa: E731
    out = [changes()]
    r.flushall()  # no save points: the deleted keys are changes
    out.append(changes())
    r.set("a", "b")
    r.config_set("save", "3600 1")
    saved_before = r.lastsave()
    time.sleep(1.05)
    r.flushall()  # save points: the empty dataset is saved at once
    out += [changes(), r.lastsave() > saved_before, os.path.getsize(os.path.join(directory, "dump.rdb")) < 200]
    r.config_set("save", "")
    r.close()
    return [x - out[0] if isinstance(x, int) and not isinstance(x, bool) else x for x in out]


def test_flushall_saves_at_once_when_save_points_are_set_like_redis(make_node, tmp_path):
    (tmp_path / "v").mkdir()
    n = make_node(dir=str(tmp_path / "v"), save="")
    with real_redis() as ref:
        ref_dir = redis.Redis(port=ref.port).config_get("dir")["dir"]
        expected = _flushall_story(ref.port, ref_dir)
    assert expected[-2:] == [True, True]
    assert _flushall_story(n.port, str(tmp_path / "v")) == expected
