"""SORT and SORT_RO behaviour on a Vermilion node (redis-py)."""

from __future__ import annotations

import threading

import pytest
import redis

from server.commands.sort import strtod_score


def test_numeric_and_alpha_orders(r):
    r.rpush("l", 3, 1, 2, 10, "1.5")
    assert r.sort("l") == [b"1", b"1.5", b"2", b"3", b"10"]
    assert r.sort("l", desc=True, start=1, num=2) == [b"3", b"2"]
    assert r.sort("l", alpha=True) == [b"1", b"1.5", b"10", b"2", b"3"]


def test_weights_and_values_from_patterns(r):
    r.rpush("ids", 1, 2, 3)
    r.mset({"rank_1": 30, "rank_2": 10, "rank_3": 20})
    r.hset("user_1", mapping={"name": "ann", "age": "40"})
    r.hset("user_2", mapping={"name": "bob", "age": "20"})
    assert r.sort("ids", by="rank_*") == [b"2", b"3", b"1"]
    assert r.sort("ids", by="user_*->age", get=["#", "user_*->name"]) == [b"3", None, b"2", b"bob", b"1", b"ann"]
    assert r.sort("ids", by="nosort", desc=True) == [b"3", b"2", b"1"]


def test_store_writes_a_list_and_drops_the_ttl(r):
    r.rpush("l", 2, 1)
    r.set("dst", "x", ex=100)
    assert r.sort("l", store="dst") == 2
    assert r.lrange("dst", 0, -1) == [b"1", b"2"]
    assert r.ttl("dst") == -1
    assert r.sort("missing", store="dst") == 0
    assert not r.exists("dst")


def test_store_serves_a_client_blocked_on_the_new_key(r, shared_node):
    r.rpush("l", 3, 1, 2)
    got = []
    waiter = redis.Redis(port=shared_node.port, socket_timeout=10)
    t = threading.Thread(target=lambda: got.append(waiter.blpop("dst", timeout=5)))
    t.start()
    deadline = 50
    while not r.info("clients")["blocked_clients"] and deadline:
        threading.Event().wait(0.02)
        deadline -= 1
    assert r.sort("l", store="dst") == 3
    t.join(5)
    waiter.close()
    assert got == [(b"dst", b"1")]
    assert r.lrange("dst", 0, -1) == [b"2", b"3"]


def test_sorting_a_sorted_set_converts_it_to_a_skiplist(r):
    r.zadd("z", {"c": 3, "a": 1, "b": 2})
    assert r.object("encoding", "z") == b"listpack"
    assert r.sort("z", by="nosort", desc=True) == [b"c", b"b", b"a"]
    assert r.object("encoding", "z") == b"skiplist"


def test_sets_sort_by_value(r):
    r.sadd("s", 5, -1, 3)
    assert r.sort("s") == [b"-1", b"3", b"5"]
    r.sadd("t", "b", "a", "c")
    assert r.sort("t", by="nosort", store="out") == 3
    assert r.lrange("out", 0, -1) == [b"a", b"b", b"c"]  # sorted ALPHA to be deterministic


def test_errors(r):
    r.rpush("l", "1", "x")
    with pytest.raises(redis.ResponseError, match="One or more scores can't be converted into double"):
        r.sort("l")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("SORT_RO", "l", "STORE", "d")
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.sort("s")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("SORT", "l", "LIMIT", "a", "1")


def test_getkeys_includes_the_store_key(r):
    assert r.command_getkeys("SORT", "l", "LIMIT", "0", "1", "STORE", "d") == ["l", "d"]
    assert r.command_getkeys("SORT_RO", "l", "BY", "w_*") == ["l"]


@pytest.mark.parametrize(
    "text, value",
    [(b"", 0.0), (b" 1", 1.0), (b"\t-2.5e1", -25.0), (b"0x10", 16.0), (b"inf", float("inf")), (b"-Infinity", float("-inf")),
     (b"1\x00junk", 1.0), (b".5", 0.5), (b"5.", 5.0), (b"0x1p-1074", 5e-324), (b"0e-999", 0.0)],
)
def test_weights_accepted_like_strtod(text, value):
    assert strtod_score(text) == value


@pytest.mark.parametrize("text", [b"1 ", b" ", b"nan", b"1e", b"0x", b"1e400", b"1e-400", b"1e-310", b"1_0", b"infinit", b"."])
def test_weights_refused_like_strtod(text):
    assert strtod_score(text) is None
