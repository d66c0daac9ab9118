"""MULTI/EXEC/DISCARD/WATCH/UNWATCH with real clients: redis-py pipelines, WATCH races
between connections, invalidation by expiry, flushes, SWAPDB and RESET, CLIENT LIST flags,
commandstats, blocking commands around EXEC, the gates EXEC passes with its queued
commands' flags, and the MULTI ... EXEC wrapping of what a transaction propagates.

Exact reply bytes are compared with real Redis in tests/differential/test_transactions_diff.py;
here the point is behaviour as clients see it."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.support.resp import RawClient
from tests.support.waiting import wait_for

EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"


def client_fields(admin: RawClient, name: str) -> dict[str, str]:
    for line in admin.call("CLIENT", "LIST").decode().split("\n"):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("name") == name:
            return fields
    raise KeyError(name)


def commandstats(conn: RawClient) -> dict[str, dict[str, int]]:
    out = {}
    for line in conn.call("INFO", "commandstats").decode().split("\r\n"):
        if line.startswith("cmdstat_"):
            name, _, rest = line[len("cmdstat_"):].partition(":")
            out[name] = {k: int(float(v)) for k, v in (kv.split("=") for kv in rest.split(","))}
    return out


@pytest.fixture
def raw(node):
    conns = []

    def connect(name: str | None = None) -> RawClient:
        conn = RawClient(node.port)
        if name:
            assert conn.call("CLIENT", "SETNAME", name) == b"+OK\r\n"
        conns.append(conn)
        return conn

    yield connect
    for conn in conns:
        conn.close()


# -- redis-py pipelines ------------------------------------------------------------------------


def test_a_transaction_pipeline_returns_every_reply_in_order(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("k", 1).incr("k").incrby("k", 10).get("k").lpush("l", "a", "b").lrange("l", 0, -1)
    assert pipe.execute() == [True, 2, 12, b"12", 2, [b"b", b"a"]]


def test_a_run_time_error_leaves_the_other_commands_applied(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "x").lpush("a", "y").set("b", "2")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], redis.ResponseError) and "WRONGTYPE" in str(results[1])
    assert r.get("a") == b"x" and r.get("b") == b"2"


def test_a_queue_time_error_discards_the_whole_transaction(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).execute_command("SET", "k").set("b", 2)
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        pipe.execute()
    assert r.exists("a", "b") == 0


def test_an_unknown_command_inside_multi_is_refused_and_dooms_exec(raw):
    conn = raw()
    assert conn.call("MULTI") == b"+OK\r\n"
    assert conn.call("SET", "a", "1") == b"+QUEUED\r\n"
    assert conn.call("NOSUCHCMD", "x") == b"-ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \r\n"
    assert conn.call("SET", "b", "1") == b"+QUEUED\r\n"
    assert conn.call("EXEC") == EXECABORT
    assert conn.call("EXISTS", "a", "b") == b":0\r\n"
    assert conn.call("EXEC") == b"-ERR EXEC without MULTI\r\n"


def test_commands_refused_inside_multi_doom_it_and_watch_or_multi_errors_do_not(raw):
    conn = raw()
    conn.call("MULTI")
    assert conn.call("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    assert conn.call("WATCH", "k") == b"-ERR WATCH inside MULTI is not allowed\r\n"
    assert conn.call("SET", "k", "v") == b"+QUEUED\r\n"
    assert conn.call("EXEC") == b"*1\r\n+OK\r\n"
    conn.call("MULTI")
    assert conn.call("SHUTDOWN") == b"-ERR Command not allowed inside a transaction\r\n"
    assert conn.call("EXEC") == EXECABORT


def test_discard_forgets_the_queue(raw):
    conn = raw()
    assert conn.call("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    conn.call("MULTI")
    conn.call("SET", "k", "v")
    assert conn.call("DISCARD") == b"+OK\r\n"
    assert conn.call("EXISTS", "k") == b":0\r\n"


def test_an_empty_transaction_answers_an_empty_array(raw):
    conn = raw()
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*0\r\n"


def test_exec_with_arguments_is_refused_and_discards_the_transaction(raw):
    conn = raw()
    conn.call("MULTI")
    conn.call("SET", "k", "v")
    assert conn.call("EXEC", "now") == (
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    )
    assert conn.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert conn.call("EXISTS", "k") == b":0\r\n"


def test_select_inside_a_transaction_moves_the_client(raw):
    conn = raw()
    conn.call("MULTI")
    conn.call("SELECT", "3")
    conn.call("SET", "k", "in3")
    assert conn.call("EXEC") == b"*2\r\n+OK\r\n+OK\r\n"
    assert conn.call("GET", "k") == b"$3\r\nin3\r\n"


# -- WATCH -----------------------------------------------------------------------------------


def test_a_write_by_another_client_makes_the_watching_pipeline_fail(node):
    a = redis.Redis(port=node.port)
    b = redis.Redis(port=node.port)
    with a.pipeline(transaction=True) as pipe:
        pipe.watch("k")
        b.set("k", "theirs")
        pipe.multi()
        pipe.set("k", "mine")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert a.get("k") == b"theirs"


def test_an_untouched_watch_lets_exec_run(r):
    with r.pipeline(transaction=True) as pipe:
        pipe.watch("k")
        pipe.multi()
        pipe.set("k", "mine")
        assert pipe.execute() == [True]


def test_optimistic_increments_from_many_threads_never_lose_an_update(node):
    """The WATCH/GET/MULTI/SET/EXEC retry loop: every increment lands exactly once."""
    threads, rounds = 6, 30
    retries = []

    def worker():
        conn = redis.Redis(port=node.port)

        def increment(pipe):
            value = int(pipe.get("counter") or 0)
            pipe.multi()
            pipe.set("counter", value + 1)

        for _ in range(rounds):
            while True:
                try:
                    conn.transaction(increment, "counter")
                    break
                except redis.WatchError:  # pragma: no cover - transaction() retries itself
                    retries.append(1)
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert redis.Redis(port=node.port).get("counter") == str(threads * rounds).encode()


def test_a_write_by_the_watching_client_itself_also_counts(raw):
    conn = raw()
    conn.call("WATCH", "k")
    conn.call("SET", "k", "1")
    conn.call("MULTI")
    conn.call("PING")
    assert conn.call("EXEC") == b"*-1\r\n"


def test_the_null_reply_is_resp3_null_in_resp3(raw):
    conn = raw()
    conn.call("HELLO", "3")
    conn.call("WATCH", "k")
    conn.call("SET", "k", "1")
    conn.call("MULTI")
    assert conn.call("EXEC") == b"_\r\n"


def test_creating_a_watched_missing_key_fails_exec_and_deleting_nothing_does_not(raw):
    a, b = raw(), raw()
    a.call("WATCH", "k")
    assert b.call("DEL", "k") == b":0\r\n"
    a.call("MULTI")
    assert a.call("EXEC") == b"*0\r\n"
    a.call("WATCH", "k")
    b.call("SET", "k", "1")
    a.call("MULTI")
    assert a.call("EXEC") == b"*-1\r\n"
    a.call("WATCH", "k")
    b.call("DEL", "k")
    a.call("MULTI")
    assert a.call("EXEC") == b"*-1\r\n"


def test_reads_do_not_invalidate_and_watches_are_per_database(raw):
    a, b = raw(), raw()
    b.call("SET", "k", "1")
    a.call("WATCH", "k")
    b.call("GET", "k")
    b.call("SELECT", "1")
    b.call("SET", "k", "other db")
    a.call("MULTI")
    assert a.call("EXEC") == b"*0\r\n"


def test_a_watched_key_that_expires_before_exec_fails_it(raw):
    conn = raw()
    conn.call("SET", "k", "v", "PX", "30")
    conn.call("WATCH", "k")
    time.sleep(0.08)
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*-1\r\n"


def test_a_key_already_expired_when_watched_is_no_change_when_deleted(raw):
    conn, other = raw(), raw()
    conn.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    conn.call("SET", "k", "v", "PX", "1")
    time.sleep(0.02)
    conn.call("WATCH", "k")
    assert other.call("GET", "k") == b"$-1\r\n"  # the lazy deletion is no logical change
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*0\r\n"
    conn.call("SET", "k", "v", "PX", "1")
    time.sleep(0.02)
    conn.call("WATCH", "k")
    other.call("SET", "k", "new")  # deleted, then created: a change
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*-1\r\n"


def test_flushes_invalidate_only_watched_keys_that_existed(raw):
    conn = raw()
    conn.call("WATCH", "missing")
    conn.call("FLUSHDB")
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*0\r\n"
    for flush in (("FLUSHDB",), ("FLUSHALL",), ("FLUSHALL", "ASYNC")):
        conn.call("SET", "k", "v")
        conn.call("WATCH", "k")
        conn.call(*flush)
        conn.call("MULTI")
        assert conn.call("EXEC") == b"*-1\r\n", flush


def test_flushdb_of_another_database_leaves_the_watch_alone(raw):
    a, b = raw(), raw()
    a.call("SET", "k", "v")
    a.call("WATCH", "k")
    b.call("SELECT", "2")
    b.call("SET", "k", "v")
    b.call("FLUSHDB")
    a.call("MULTI")
    assert a.call("EXEC") == b"*0\r\n"


@pytest.mark.parametrize(
    "here, there, invalidated",
    [(True, False, True), (False, True, True), (True, True, True), (False, False, False)],
)
def test_swapdb_invalidates_a_watched_key_present_on_either_side(raw, here, there, invalidated):
    conn = raw()
    if there:
        conn.call("SELECT", "1")
        conn.call("SET", "k", "there")
        conn.call("SELECT", "0")
    if here:
        conn.call("SET", "k", "here")
    conn.call("WATCH", "k")
    conn.call("SWAPDB", "0", "1")
    conn.call("MULTI")
    assert conn.call("EXEC") == (b"*-1\r\n" if invalidated else b"*0\r\n")


def test_swapdb_of_other_databases_or_with_itself_leaves_the_watch_alone(raw):
    conn = raw()
    conn.call("SET", "k", "v")
    conn.call("WATCH", "k")
    conn.call("SWAPDB", "1", "2")
    conn.call("SWAPDB", "0", "0")
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*0\r\n"


def test_unwatch_reset_exec_and_discard_all_stop_watching(raw):
    a, b = raw(), raw()
    for end in (("UNWATCH",), ("RESET",), ("EXEC",), ("DISCARD",)):
        a.call("WATCH", "k")
        if end[0] in ("EXEC", "DISCARD"):
            a.call("MULTI")
            a.call(*end)
        else:
            a.call(*end)
        b.call("SET", "k", "changed")
        a.call("MULTI")
        assert a.call("EXEC") == b"*0\r\n", end


def test_unwatch_clears_an_invalidation_and_watch_after_it_is_a_no_op(raw):
    conn = raw()
    conn.call("WATCH", "k")
    conn.call("SET", "k", "1")
    assert conn.call("WATCH", "other") == b"+OK\r\n"  # already doomed: nothing to watch
    assert conn.call("UNWATCH") == b"+OK\r\n"
    conn.call("MULTI")
    assert conn.call("EXEC") == b"*0\r\n"


def test_reset_inside_multi_leaves_the_transaction(raw):
    conn = raw()
    conn.call("MULTI")
    conn.call("SET", "k", "v")
    assert conn.call("RESET") == b"+RESET\r\n"
    assert conn.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert conn.call("EXISTS", "k") == b":0\r\n"


def test_watchers_leave_no_trace_when_they_go(node, raw):
    a, b = raw(), raw()
    a.call("WATCH", "k1", "k2")
    b.call("SELECT", "4")
    b.call("WATCH", "k1")
    assert len(node.watched) == 2
    a.close()
    b.call("UNWATCH")
    wait_for(lambda: not node.watched)
    c = raw()
    c.call("SET", "k1", "v")  # nobody is told: the write path only tests node.watched
    assert c.call("GET", "k1") == b"$1\r\nv\r\n"


# -- CLIENT LIST -----------------------------------------------------------------------------


def test_client_list_shows_multi_count_and_the_x_and_d_flags(raw):
    a, admin = raw("tx"), raw()
    assert (client_fields(admin, "tx")["flags"], client_fields(admin, "tx")["multi"]) == ("N", "-1")
    a.call("MULTI")
    a.call("SET", "k", "1")
    a.call("GET", "k")
    fields = client_fields(admin, "tx")
    assert (fields["flags"], fields["multi"], fields["multi-mem"]) == ("x", "2", "49")
    a.call("DISCARD")
    a.call("WATCH", "k")
    admin.call("SET", "k", "2")
    assert client_fields(admin, "tx")["flags"] == "d"
    a.call("MULTI")
    a.call("SET", "k", "3")  # a doomed transaction keeps nothing
    fields = client_fields(admin, "tx")
    assert (fields["flags"], fields["multi"]) == ("xd", "0")
    assert a.call("EXEC") == b"*-1\r\n"
    assert client_fields(admin, "tx")["flags"] == "N"


def test_client_info_inside_exec_still_shows_the_transaction(raw):
    conn = raw()
    conn.call("MULTI")
    conn.call("CLIENT", "INFO")
    reply = conn.call("EXEC").decode()
    assert " flags=x " in reply and " multi=1 " in reply and " multi-mem=26 " in reply


# -- statistics ------------------------------------------------------------------------------


def test_queued_commands_count_in_commandstats_when_exec_runs_them(raw):
    conn, admin = raw(), raw()
    admin.call("CONFIG", "RESETSTAT")
    conn.call("MULTI")
    conn.call("SET", "k", "1")
    conn.call("INCR", "k")
    stats = commandstats(admin)
    assert "set" not in stats and "incr" not in stats and stats["multi"]["calls"] == 1
    conn.call("EXEC")
    stats = commandstats(admin)
    assert stats["set"]["calls"] == stats["incr"]["calls"] == stats["exec"]["calls"] == 1


def test_refusals_count_as_rejected_and_execabort_as_failed(raw):
    conn, admin = raw(), raw()
    admin.call("CONFIG", "RESETSTAT")
    conn.call("MULTI")
    conn.call("SET", "k")
    conn.call("EXEC")
    conn.call("EXEC", "x")
    stats = commandstats(admin)
    assert stats["set"]["rejected_calls"] == 1
    assert (stats["exec"]["calls"], stats["exec"]["failed_calls"], stats["exec"]["rejected_calls"]) == (1, 1, 1)
    errors = admin.call("INFO", "errorstats").decode()
    assert "errorstat_EXECABORT:count=2" in errors and "errorstat_ERR:count=1" in errors


# -- blocking --------------------------------------------------------------------------------


def test_blocking_commands_inside_multi_answer_at_once(raw):
    conn = raw()
    conn.call("MULTI")
    conn.call("BLPOP", "nolist", "0")
    conn.call("BRPOPLPUSH", "nolist", "dst", "0")
    conn.call("BZPOPMIN", "nozset", "0")
    assert conn.call("EXEC") == b"*3\r\n*-1\r\n$-1\r\n*-1\r\n"


def test_blocked_clients_are_served_only_after_exec(node, raw):
    waiter, writer, admin = raw("waiter"), raw(), raw()
    waiter.send_command("BLPOP", "l", "0")
    wait_for(lambda: "b" in client_fields(admin, "waiter")["flags"])
    writer.call("MULTI")
    writer.call("RPUSH", "l", "x")
    writer.call("LLEN", "l")
    writer.call("RPUSH", "l", "y")
    assert writer.call("EXEC") == b"*3\r\n:1\r\n:1\r\n:2\r\n"  # nobody popped in between
    assert waiter.read_reply() == b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n"
    assert writer.call("LRANGE", "l", "0", "-1") == b"*1\r\n$1\r\ny\r\n"


def test_a_transaction_that_empties_the_list_again_leaves_the_waiter_blocked(raw):
    waiter, writer, admin = raw("waiter"), raw(), raw()
    waiter.send_command("BLPOP", "l", "0")
    wait_for(lambda: "b" in client_fields(admin, "waiter")["flags"])
    writer.call("MULTI")
    writer.call("LPUSH", "l", "x")
    writer.call("LPOP", "l")
    writer.call("EXEC")
    assert "b" in client_fields(admin, "waiter")["flags"]
    writer.call("LPUSH", "l", "z")
    assert waiter.read_reply() == b"*2\r\n$1\r\nl\r\n$1\r\nz\r\n"


# -- EXEC at the gates -------------------------------------------------------------------------


def test_client_pause_write_holds_an_exec_that_writes_but_not_a_read_only_one(raw):
    reader, writer, admin = raw(), raw(), raw()
    reader.call("MULTI")
    reader.call("GET", "k")
    writer.call("MULTI")
    writer.call("SET", "k", "v")  # queued before the pause: only EXEC meets it
    start = time.monotonic()
    admin.call("CLIENT", "PAUSE", "300", "WRITE")
    assert reader.call("EXEC") == b"*1\r\n$-1\r\n"
    assert time.monotonic() - start < 0.2
    assert writer.call("EXEC") == b"*1\r\n+OK\r\n"
    assert time.monotonic() - start > 0.25


def test_exec_refused_for_authentication_discards_with_the_reason(make_node):
    node = make_node(requirepass="secret")
    with RawClient(node.port) as conn:
        assert conn.call("EXEC") == b"-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n"
        assert conn.call("MULTI") == b"-NOAUTH Authentication required.\r\n"


# -- propagation -----------------------------------------------------------------------------


@pytest.fixture
def recorded(node):
    """The node's propagated commands, as (db, argv), recorded at its propagation point."""
    stream: list[tuple[int, list[bytes]]] = []
    node.propagate = lambda dbid, argv: stream.append((dbid, [bytes(a) for a in argv]))
    node.propagating = True
    node.recompute_gates()
    return stream


def run_all(conn: RawClient, *commands) -> None:
    for cmd in commands:
        conn.call(*cmd)


def test_several_writes_propagate_wrapped_in_multi_exec(raw, recorded):
    run_all(raw(), ("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("INCR", "a"), ("SELECT", "2"), ("SET", "b", "2", "EX", "100"), ("EXEC",))
    assert [(db, argv[:4]) for db, argv in recorded] == [
        (0, [b"MULTI"]),
        (0, [b"SET", b"a", b"1"]),
        (0, [b"INCR", b"a"]),
        (2, [b"SET", b"b", b"2", b"PXAT"]),
        (2, [b"EXEC"]),
    ]


def test_a_single_write_propagates_alone_and_reads_errors_or_aborts_nothing(raw, recorded):
    conn = raw()
    run_all(conn, ("MULTI",), ("GET", "a"), ("DEL", "nothing"), ("SET", "a", "1"), ("LPUSH", "a", "x"), ("EXEC",))
    run_all(conn, ("MULTI",), ("GET", "a"), ("EXEC",))
    run_all(conn, ("MULTI",), ("SET", "b", "1"), ("DISCARD",))
    run_all(conn, ("MULTI",), ("SET", "b", "1"), ("NOSUCH",), ("EXEC",))
    run_all(conn, ("WATCH", "a"), ("SET", "a", "2"), ("MULTI",), ("SET", "b", "1"), ("EXEC",))
    assert recorded == [(0, [b"SET", b"a", b"1"]), (0, [b"SET", b"a", b"2"])]
