"""Pipelined runs of one command against real Redis 7.0.15.

The connection's hot loop serves a run of GETs, SETs, INCRs, DECRs, LPUSHes, RPUSHes,
LPOPs, RPOPs, SADDs, HSETs or ZADDs through the command's run handler (``CommandSpec.run``): the command's own path with the
lookups hoisted out of the loop, which stops at the first request it cannot serve. These
tests send pipelines made of such runs -- broken up by everything that must stop one (a TTL that has passed or is still to
come, another type, a raw string, an integer-encoded value, wrong arity, another spelling
of the name, another command) -- to both servers in one write, and compare the replies and
what the runs leave behind: hit and miss counts, expired keys, call counts, encodings, TTLs,
access times, and what watchers, blocked clients and keyspace subscribers see.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from tests.differential import fuzz, pipeline_compare, resp3
from tests.support.resp import RawClient

KEYS = [b"a", b"b", b"c", b"d", b"t", b"gone", b"s", b"h", b"z"]
FIELDS = [b"f1", b"f2", b"f3"]
VALUES = [b"", b"v", b"12", b"a\r\n*1\r\n$1\r\nx", b"%1\r\n+ok", b"x" * 1023, b"y" * 1024, b"z" * 5000]
#: Scores in plain decimal (the run's) and in every other syntax ZADD takes.
SCORES = [b"0", b"1", b"-0", b"1.5", b"-2.25", b"007", b"1e3", b"inf", b"-inf", b"+1", b".5", b"1.", b"0x10",
          b"1_0", b" 1", b"nan", b"x"]
#: Absolute expiry times, so that EXPIRETIME compares exactly however long the test runs.
LATER = int(time.time()) + 100_000

_names = st.sampled_from(
    [(b"GET", b"get", b"Get"), (b"SET", b"set", b"sEt"), (b"INCR", b"incr"), (b"DECR", b"Decr"),
     (b"LPUSH", b"lpush"), (b"RPUSH", b"rPush"), (b"LPOP", b"lpop"), (b"RPOP", b"rPop"), (b"SADD", b"sadd"),
     (b"HSET", b"hSet"), (b"ZADD", b"zadd")]
).flatmap(lambda names: st.tuples(st.just(names[0]), st.sampled_from(names)))


@st.composite
def _run(draw):
    """A run: one command, 1-20 times, mostly in one spelling."""
    (upper, spelling) = draw(_names)
    out = []
    for _ in range(draw(st.integers(1, 20))):
        name = spelling if draw(st.integers(0, 9)) else upper
        key = draw(st.sampled_from(KEYS))
        if upper in (b"SET", b"LPUSH", b"RPUSH", b"SADD"):
            out.append((name, key, draw(st.sampled_from(VALUES))))
        elif upper == b"ZADD":
            out.append((name, key, draw(st.sampled_from(SCORES)), draw(st.sampled_from(VALUES))))
        elif upper == b"HSET":
            out.append((name, key, draw(st.sampled_from(FIELDS)), draw(st.sampled_from(VALUES))))
        else:
            out.append((name, key))
    return out


#: What may stand between two runs (or end one): each changes the state a run handler
#: looks at, or is a request the handler must leave to the ordinary path.
BREAKERS = [
    (b"RPUSH", b"c", b"x"),  # another type
    (b"APPEND", b"b", b"++"),  # a raw (bytearray) string
    (b"INCR", b"a"),  # an integer-encoded value: SET must drop its encoding hint
    (b"SET", b"t", b"ttl", b"EXAT", b"%d" % LATER),  # a TTL still to come
    (b"PEXPIREAT", b"d", b"%d" % (LATER * 1000)),
    (b"PERSIST", b"t"),
    (b"PEXPIREAT", b"c", b"%d" % (LATER * 1000)),  # a list with a TTL
    (b"PERSIST", b"c"),
    (b"LPUSH", b"c", b"x", b"y"),  # two elements: the command's own path
    (b"SADD", b"s", b"7", b"8"),
    (b"HSET", b"h", b"f1", b"1", b"f2", b"2"),
    (b"PEXPIREAT", b"s", b"%d" % (LATER * 1000)),  # a set and a hash with a TTL
    (b"PEXPIREAT", b"h", b"%d" % (LATER * 1000)),
    (b"SREM", b"s", b"v", b"12"),
    (b"HDEL", b"h", b"f1"),
    (b"ZADD", b"z", b"NX", b"5", b"v"),  # an option, and two pairs
    (b"ZADD", b"z", b"1", b"v", b"2", b"12"),
    (b"PEXPIREAT", b"z", b"%d" % (LATER * 1000)),  # a sorted set with a TTL
    (b"ZREM", b"z", b"v", b"m"),
    (b"RPOP", b"c", b"2"),  # a count
    (b"RPUSH", b"c", b"1", b"2", b"3", b"4", b"5"),  # a list for pop runs to take from
    (b"GET", b"a", b"b"),  # wrong arity inside a run
    (b"SET", b"a"),
    (b"SET", b"a", b"v", b"NX"),  # options: the handler's own path
    (b"DEL", b"a"),
    (b"MGET", b"a", b"b", b"c"),
    (b"MSET", b"a", b"1", b"t", b"2", b"b", b"3"),  # over a TTL still to come
    (b"MSET", b"gone", b"x", b"d", b"4", b"c", b"5"),  # over a TTL that passed, and a list
    (b"EXISTS", b"gone"),
    # values a counter run must leave to INCR/DECR themselves
    (b"SET", b"a", b"-5"),
    (b"SET", b"a", b"007"),
    (b"SET", b"a", b"999999999999999999"),  # 18 digits: the run's limit
    (b"SET", b"a", b"9223372036854775806"),  # one step from overflow
    (b"SET", b"d", b"9223372036854775807"),
    (b"SET", b"d", b"1.5"),
    (b"INCRBYFLOAT", b"d", b"1"),
]


#: What a pipeline left behind, as commands to compare on both servers.
AFTER = [
    cmd
    for key in KEYS
    for cmd in [(b"TYPE", key), (b"OBJECT", b"ENCODING", key), (b"EXPIRETIME", key), (b"STRLEN", key),
                (b"LRANGE", key, b"0", b"-1"), (b"SCARD", key), (b"SMISMEMBER", key, *VALUES),
                (b"HLEN", key), (b"HMGET", key, *FIELDS), (b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")]
] + [(b"DBSIZE",)]


def _twins(pair) -> tuple[RawClient, RawClient]:
    """One more connection to each server."""
    return tuple(RawClient(conn.sock.getpeername()[1]) for conn in (pair.redis, pair.ours))


def _stats(conn: RawClient, changes_before: int) -> dict[bytes, object]:
    """The counters a run moves since ``_prepare``: lookups, expired keys, and the calls of
    the commands with run handlers (reset there), and the changes made (counted from there)."""
    fields: dict[bytes, object] = {b"changes": _changes(conn) - changes_before}
    text = conn.call("INFO", "stats") + conn.call("INFO", "commandstats")
    for line in text.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name in (b"keyspace_hits", b"keyspace_misses", b"expired_keys"):
            fields[name] = value
        elif name in (b"cmdstat_get", b"cmdstat_set", b"cmdstat_incr", b"cmdstat_decr", b"cmdstat_lpush",
                      b"cmdstat_rpush", b"cmdstat_lpop", b"cmdstat_rpop", b"cmdstat_sadd", b"cmdstat_hset", b"cmdstat_zadd"):
            fields[name] = value.split(b",usec=")[0]  # calls and failures, not times
            fields[name + b" failures"] = value.split(b"failed_calls=")[1]
    return fields


def _on_both(pair, *commands) -> None:
    """Set-up: each command to both servers (replies not compared)."""
    for conn in (pair.redis, pair.ours):
        for cmd in commands:
            conn.call(*cmd)


def _changes(conn: RawClient) -> int:
    info = conn.call("INFO", "persistence")
    return int(info.split(b"rdb_changes_since_last_save:")[1].split(b"\r\n")[0])


def _prepare(pair) -> tuple[int, int]:
    """A keyspace with every state a run can meet: plain strings, another type, a raw
    string, an integer, a TTL still to come, and a key whose TTL has passed (active expiry
    off, so only the pipeline's lookups can expire it). Returns each server's change count."""
    _on_both(
        pair,
        (b"FLUSHALL",),
        (b"CONFIG", b"RESETSTAT"),
        (b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"),
        (b"SET", b"a", b"1"),
        (b"RPUSH", b"c", b"x"),
        (b"SET", b"b", b"raw"),
        (b"APPEND", b"b", b"!"),
        (b"SET", b"t", b"ttl", b"EXAT", b"%d" % LATER),
        (b"SET", b"gone", b"soon", b"PX", b"1"),
        (b"SADD", b"s", b"1", b"2"),
        (b"HSET", b"h", b"f1", b"v"),
        (b"ZADD", b"z", b"1", b"m"),
    )
    time.sleep(0.01)
    return _changes(pair.redis), _changes(pair.ours)


def _restore(pair) -> None:
    _on_both(pair, ("DEBUG", "SET-ACTIVE-EXPIRE", "1"))


@fuzz(60)
@given(st.lists(st.one_of(_run(), st.sampled_from(BREAKERS).map(lambda cmd: [cmd])), min_size=1, max_size=12))
def test_pipelines_of_runs_match_redis(pair, pieces):
    commands = [cmd for piece in pieces for cmd in piece]
    theirs, ours = _prepare(pair)
    try:
        pipeline_compare(pair, commands)
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs), commands
        pipeline_compare(pair, AFTER)
    finally:
        _restore(pair)


def test_runs_over_resp3(pair):
    """A miss inside a run answers RESP3's null to a RESP3 client."""
    theirs, ours = _prepare(pair)
    try:
        resp3(pair)
        run = [(b"GET", key) for key in KEYS * 3] + [(b"SET", key, b"v") for key in (b"x", b"y", b"x")]
        run += [(b"LPOP", b"nope")] * 3 + [(b"RPOP", key) for key in (b"nope", b"c", b"nope")]
        pipeline_compare(pair, run + [(b"GET", key) for key in (b"x", b"nope", b"y")])
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
    finally:
        _restore(pair)


def test_runs_update_the_access_time(pair):
    _on_both(pair, ("SET", "idle", "v"), ("SET", "other", "v"), ("RPUSH", "l", "x"), ("SET", "m1", "v"), ("SET", "m2", "v"),
             ("RPUSH", "q", "1", "2", "3"), ("ZADD", "zz", "1", "m"),
             ("SADD", "s", "x"), ("HSET", "h", "f", "v"))
    time.sleep(2.1)
    # (Not INCR: Redis stores small results as shared integer objects, whose idle time is
    # that of the last key holding the same number that was touched.)
    runs = [(b"GET", b"idle")] * 5 + [(b"SET", b"other", b"w")] * 3 + [(b"LPUSH", b"l", b"y")] * 3
    runs += [(b"SADD", b"s", b"x")] * 3 + [(b"HSET", b"h", b"f", b"w")] * 3  # existing member, field
    runs += [(b"RPOP", b"q")] * 2 + [(b"ZADD", b"zz", b"1", b"m")] * 3
    pipeline_compare(pair, runs + [(b"MSET", b"m1", b"w", b"m2", b"w")])
    for key in (b"idle", b"other", b"l", b"m1", b"m2", b"s", b"h", b"q", b"zz"):
        # Idle 2 s before the runs; 0 now, or 1 where the seconds-clock ticked since.
        assert pair.check("OBJECT", "IDLETIME", key, normalize=lambda reply: reply.replace(b":1\r\n", b":0\r\n")) == b":0\r\n"


def test_a_run_of_sets_aborts_watchers_transactions(pair):
    watchers = _twins(pair)
    try:
        for w in watchers:
            assert w.call("WATCH", "w") == b"+OK\r\n"
        pipeline_compare(pair, [(b"SET", b"w", b"%d" % i) for i in range(10)])
        for w in watchers:
            w.call("MULTI")
            w.call("GET", "w")
        replies = [w.call("EXEC") for w in watchers]
        assert replies[0] == replies[1] == b"*-1\r\n"
    finally:
        for w in watchers:
            w.close()


def test_a_run_of_sets_fires_keyspace_events(pair):
    subscribers = _twins(pair)
    try:
        _on_both(pair, ("CONFIG", "SET", "notify-keyspace-events", "KEAnm"))
        for s in subscribers:
            s.call("PSUBSCRIBE", "__key*__:*")
        pipeline_compare(pair, [(b"SET", b"n%d" % (i % 3), b"v") for i in range(6)] + [(b"GET", b"n9")] * 3)
        events = [s.read_all(0.3) for s in subscribers]
        assert events[1] == events[0]
        # Each event twice (keyspace and keyevent): 6 sets, 3 new keys, 3 misses.
        assert events[0].count(b"pmessage") == 2 * (6 + 3 + 3)
    finally:
        _on_both(pair, ("CONFIG", "SET", "notify-keyspace-events", ""))
        for s in subscribers:
            s.close()


def test_runs_expire_keys_whose_ttl_passed(pair):
    theirs, ours = _prepare(pair)
    try:
        _on_both(pair, *[("SET", "e%d" % i, "v", "PX", "1") for i in range(5)], ("RPUSH", "list", "x"), ("PEXPIRE", "list", "1"),
                 ("SADD", "set", "x"), ("PEXPIRE", "set", "1"), ("HSET", "hash", "f", "x"), ("PEXPIRE", "hash", "1"))
        time.sleep(0.01)
        pipeline_compare(pair, [(b"GET", b"a")] + [(b"GET", b"e%d" % i) for i in range(5)] + [(b"GET", b"a")] * 2)
        pipeline_compare(pair, [(b"RPUSH", b"list", b"y")] * 3 + [(b"LRANGE", b"list", b"0", b"-1")])
        pipeline_compare(pair, [(b"SADD", b"set", b"y")] * 3 + [(b"SMEMBERS", b"set")])
        pipeline_compare(pair, [(b"HSET", b"hash", b"g", b"y")] * 3 + [(b"HGETALL", b"hash")])
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
        pair.check("DBSIZE")
    finally:
        _restore(pair)


def test_a_run_of_sets_wakes_nothing_but_reaches_blocked_clients_keys(pair):
    """SET on a key a client blocks on with BLPOP makes a string: the client stays blocked
    (then times out) on both servers, and the value is the string."""
    blocked = _twins(pair)
    try:
        for b in blocked:
            b.send_command("BLPOP", "q", "1")
        time.sleep(0.1)
        pipeline_compare(pair, [(b"SET", b"q", b"s%d" % i) for i in range(4)] + [(b"GET", b"q")] * 2)
        assert [b.read_reply() for b in blocked] == [b"*-1\r\n"] * 2
        pair.check("GET", "q")
    finally:
        for b in blocked:
            b.close()


def test_runs_forget_that_incrbyfloat_left_an_embstr(pair):
    """INCRBYFLOAT's integer-looking result stays embstr in Redis; the same text SET again,
    or reached again by INCR and DECR, is int-encoded. (One-byte strings are shared objects in Python, so only forgetting the
    hint tells the two apart.)"""
    check = [(b"OBJECT", b"ENCODING", b"f")]
    pipeline_compare(pair, [(b"SET", b"f", b"4"), (b"INCRBYFLOAT", b"f", b"1")] + check)
    pipeline_compare(pair, [(b"SET", b"f", b"5")] * 3 + check)
    # ... and so do INCR and DECR, coming back to the same text.
    pipeline_compare(pair, [(b"SET", b"f", b"4"), (b"INCRBYFLOAT", b"f", b"1")] + check)
    pipeline_compare(pair, [(b"INCR", b"f")] * 2 + [(b"DECR", b"f")] * 2 + check)
    # ... and MSET.
    pipeline_compare(pair, [(b"SET", b"f", b"4"), (b"INCRBYFLOAT", b"f", b"1")] + check)
    pipeline_compare(pair, [(b"MSET", b"f", b"5", b"g", b"5")] + check)


def test_counter_runs_leave_what_they_cannot_step(pair):
    """Runs of INCR/DECR over every value the run handler must leave to the command: a
    leading zero, a sign, a float, 19 digits (overflow is near), a raw string, a TTL (passed,
    or still to come), and a missing key."""
    theirs, ours = _prepare(pair)
    try:
        _on_both(
            pair,
            (b"SET", b"zero", b"007"),
            (b"SET", b"near", b"9223372036854775805"),
            (b"SET", b"neg", b"-5"),
            (b"SET", b"float", b"1.5"),
            (b"SET", b"long", b"999999999999999998"),
            (b"SET", b"raw", b"1"),
            (b"APPEND", b"raw", b"2"),
            (b"SET", b"later", b"5", b"EXAT", b"%d" % LATER),
            (b"SET", b"past", b"5", b"PX", b"1"),
        )
        time.sleep(0.01)
        keys = [b"zero", b"near", b"neg", b"float", b"long", b"raw", b"later", b"past", b"new"]
        runs = [(name, key) for key in keys for name in (b"INCR", b"INCR", b"INCR", b"DECR", b"DECR")]
        pipeline_compare(pair, runs)
        pipeline_compare(pair, [cmd for key in keys for cmd in [(b"GET", key), (b"OBJECT", b"ENCODING", key), (b"EXPIRETIME", key)]])
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
    finally:
        _restore(pair)


def test_other_forms_inside_runs_and_what_they_change(pair):
    """Inside each run, the command in another form (more arguments, an option) and requests
    that change nothing (an existing member or field, the same value): replies, and the
    change count Redis keeps (SADD counts only new members)."""
    theirs, ours = _prepare(pair)
    try:
        pipeline = [
            (b"SADD", b"s", b"1"), (b"SADD", b"s", b"3"), (b"SADD", b"s", b"4", b"5"), (b"SADD", b"s", b"3"),
            (b"HSET", b"h", b"f1", b"v"), (b"HSET", b"h", b"f2", b"w"), (b"HSET", b"h", b"f1", b"1", b"f3", b"3"),
            (b"HSET", b"h", b"f2", b"w"),
            (b"RPUSH", b"c", b"y"), (b"RPUSH", b"c", b"y", b"z"), (b"RPUSH", b"c", b"y"),
            (b"SET", b"a", b"1"), (b"SET", b"a", b"2", b"GET"), (b"SET", b"a", b"3"),
            (b"INCR", b"a"), (b"INCR", b"a", b"1"), (b"INCR", b"a"),
            (b"GET", b"a"), (b"GET", b"a", b"b"), (b"GET", b"a"),
        ]
        pipeline_compare(pair, pipeline + AFTER)
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
    finally:
        _restore(pair)


def test_pop_runs_leave_what_they_cannot_pop(pair):
    """Runs of LPOP/RPOP over every list the run handler must leave to the command -- its
    last element (the key goes), a TTL still to come or passed, another type, a count inside
    the run -- and over missing keys, which it answers itself."""
    theirs, ours = _prepare(pair)
    try:
        _on_both(
            pair,
            (b"RPUSH", b"one", b"x"),
            (b"RPUSH", b"two", b"x", b"y"),
            (b"RPUSH", b"many", *[b"%d" % i for i in range(40)]),
            (b"RPUSH", b"later", b"1", b"2", b"3"),
            (b"EXPIREAT", b"later", b"%d" % LATER),
            (b"RPUSH", b"past", b"1", b"2", b"3"),
            (b"PEXPIRE", b"past", b"1"),
        )
        time.sleep(0.01)
        keys = [b"one", b"two", b"later", b"past", b"a", b"s", b"h", b"missing"]
        # (A run handler starts where a run opens: PING opens each case's run afresh.)
        runs = [cmd for key in keys for name in (b"LPOP", b"RPOP") for cmd in [(b"PING",)] + [(name, key)] * 3]
        for other in [(b"LPOP", b"many", b"2"), (b"LPOP", b"many", b"0"), (b"lpop", b"many"), (b"RPOP", b"many"),
                      (b"LPOP", b"missing"), (b"LLEN", b"many")]:
            runs += [(b"PING",), (b"LPOP", b"many"), (b"LPOP", b"many"), other, (b"LPOP", b"many")]
        pipeline_compare(pair, runs)
        keys.append(b"many")
        pipeline_compare(pair, [cmd for key in keys for cmd in [(b"TYPE", key), (b"LRANGE", key, b"0", b"-1"), (b"EXPIRETIME", key)]])
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
    finally:
        _restore(pair)


def test_zadd_runs_leave_what_they_cannot_add(pair):
    """Runs of ZADD key score member over every case the run handler must leave to the
    command -- a missing key (the set is created), a TTL still to come or passed, another
    type, an option or more pairs inside the run, a score in any syntax but plain decimal --
    and over what it serves: new members, new scores, the same score, a member too long for
    a listpack."""
    theirs, ours = _prepare(pair)
    try:
        _on_both(
            pair,
            (b"ZADD", b"zs", b"1", b"a"),
            (b"ZADD", b"later", b"1", b"a"),
            (b"EXPIREAT", b"later", b"%d" % LATER),
            (b"ZADD", b"past", b"1", b"a"),
            (b"PEXPIRE", b"past", b"1"),
        )
        time.sleep(0.01)
        keys = [b"zs", b"later", b"past", b"a", b"c", b"missing"]
        # (A run handler starts where a run opens: PING opens each case's run afresh.)
        runs = [cmd for key in keys for cmd in [(b"PING",)] + [
            (b"ZADD", key, score, member)
            for score, member in [(b"1", b"a"), (b"2", b"a"), (b"2", b"a"), (b"3", b"b"), (b"-0", b"c"), (b"0", b"c")]]]
        runs += [cmd for score in SCORES for cmd in [(b"PING",), (b"ZADD", b"zs", b"4", b"t"), (b"ZADD", b"zs", score, b"s")]]
        for other in [(b"ZADD", b"zs", b"NX", b"6", b"u"), (b"ZADD", b"zs", b"8", b"v", b"9", b"w"),
                      (b"zadd", b"zs", b"11", b"a"), (b"HSET", b"zs", b"1", b"x")]:
            runs += [(b"PING",), (b"ZADD", b"zs", b"5", b"a"), (b"ZADD", b"zs", b"6", b"a"), other, (b"ZADD", b"zs", b"7", b"a")]
        pipeline_compare(pair, runs)
        check = [cmd for key in keys for cmd in [(b"TYPE", key), (b"OBJECT", b"ENCODING", key), (b"EXPIRETIME", key),
                                                  (b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")]]
        pipeline_compare(pair, check)
        pipeline_compare(pair, [(b"ZADD", b"zs", b"%d" % i, b"m" * (60 + i)) for i in range(10)] + check)
        assert _stats(pair.ours, ours) == _stats(pair.redis, theirs)
    finally:
        _restore(pair)
