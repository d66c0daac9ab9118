"""List commands end to end through redis-py, and the list value itself (RList) checked
against a plain Python list model with hypothesis."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from server.datatypes.list import RList, decode, encode

# -- commands --------------------------------------------------------------------------------


def test_pushes_keep_redis_order(r):
    assert r.lpush("l", "a", "b", "c") == 3
    assert r.rpush("l", "d", "e") == 5
    assert r.lrange("l", 0, -1) == [b"c", b"b", b"a", b"d", b"e"]


def test_pushx_only_touches_existing_lists(r):
    assert r.lpushx("l", "a") == 0
    assert r.rpushx("l", "a") == 0
    assert not r.exists("l")
    r.rpush("l", "x")
    assert r.lpushx("l", "a") == 2
    assert r.rpushx("l", "z") == 3
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"z"]


def test_pops_with_and_without_count_and_the_emptied_key_goes_away(r):
    r.rpush("l", *"abcde")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"e"
    assert r.lpop("l", 2) == [b"b", b"c"]
    assert r.rpop("l", 5) == [b"d"]
    assert not r.exists("l")
    assert r.lpop("l") is None
    assert r.lpop("l", 3) is None


def test_binary_elements_round_trip(r):
    values = [b"", b"\x00", b"a\r\nb", b"\xff" * 300, b"1" * 70000]
    r.rpush("l", *values)
    assert r.lrange("l", 0, -1) == values
    assert r.lindex("l", -1) == values[-1]


def test_lindex_lset_and_their_errors(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 0) == b"a"
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", 3) is None
    assert r.lset("l", -2, "B")
    assert r.lrange("l", 0, -1) == [b"a", b"B", b"c"]
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", 3, "x")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.lset("missing", 0, "x")


def test_linsert_before_and_after_the_first_match(r):
    r.rpush("l", "a", "b", "a")
    assert r.linsert("l", "BEFORE", "a", "x") == 4
    assert r.linsert("l", "AFTER", "a", "y") == 5
    assert r.linsert("l", "AFTER", "nope", "z") == -1
    assert r.linsert("missing", "AFTER", "a", "z") == 0
    assert r.lrange("l", 0, -1) == [b"x", b"a", b"y", b"b", b"a"]


def test_lrem_from_either_end(r):
    r.rpush("l", *"abacaba")
    assert r.lrem("l", 2, "a") == 2
    assert r.lrange("l", 0, -1) == list(map(str.encode, "bcaba"))
    assert r.lrem("l", -1, "a") == 1
    assert r.lrange("l", 0, -1) == list(map(str.encode, "bcab"))
    assert r.lrem("l", 0, "b") == 2
    assert r.lrem("l", 0, "c") == 1
    assert r.lrem("l", 0, "a") == 1
    assert not r.exists("l")


def test_ltrim_keeps_a_range_and_deletes_an_emptied_list(r):
    r.rpush("l", *range(10))
    assert r.ltrim("l", 2, -3)
    assert r.lrange("l", 0, -1) == [b"2", b"3", b"4", b"5", b"6", b"7"]
    assert r.ltrim("l", 5, 1)
    assert not r.exists("l")


def test_lpos_rank_count_maxlen(r):
    r.rpush("l", *"abcabcab")
    assert r.lpos("l", "b") == 1
    assert r.lpos("l", "b", rank=-1) == 7
    assert r.lpos("l", "b", rank=2) == 4
    assert r.lpos("l", "b", count=0) == [1, 4, 7]
    assert r.lpos("l", "b", rank=-2, count=2) == [4, 1]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "z", count=2) == []
    with pytest.raises(redis.ResponseError, match="RANK can't be zero"):
        r.lpos("l", "b", rank=0)


def test_lmove_and_rpoplpush(r):
    r.rpush("s", "1", "2", "3")
    assert r.lmove("s", "d", "LEFT", "RIGHT") == b"1"
    assert r.rpoplpush("s", "d") == b"3"
    assert r.lmove("s", "s", "LEFT", "RIGHT") == b"2"
    assert r.lrange("s", 0, -1) == [b"2"]
    assert r.lrange("d", 0, -1) == [b"3", b"1"]
    assert r.lmove("missing", "d", "LEFT", "LEFT") is None


def test_lmpop_takes_from_the_first_non_empty_list(r):
    assert r.lmpop(2, "a", "b", direction="LEFT") is None
    r.rpush("b", "1", "2", "3")
    assert r.lmpop(2, "a", "b", direction="RIGHT", count=2) == [b"b", [b"3", b"2"]]
    assert r.lmpop(2, "a", "b", direction="LEFT", count=5) == [b"b", [b"1"]]
    assert not r.exists("b")


def test_blocking_commands_pop_at_once_when_they_can(r):
    r.rpush("a", "1", "2")
    assert r.blpop(["none", "a"], timeout=1) == (b"a", b"1")
    assert r.brpop(["a"], timeout=0) == (b"a", b"2")
    r.rpush("a", "x", "y")
    assert r.blmove("a", "b", 0, "LEFT", "LEFT") == b"x"
    assert r.brpoplpush("a", "b", 0) == b"y"
    assert r.blmpop(0, 1, "b", direction="RIGHT", count=5) == [b"b", [b"x", b"y"]]


def test_list_type_encoding_copy_and_wrong_type(r):
    r.rpush("l", "a", "b")
    assert r.type("l") == b"list"
    assert r.object("encoding", "l") == b"quicklist"
    assert r.copy("l", "c")
    r.rpush("c", "z")
    assert r.llen("l") == 2 and r.llen("c") == 3
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("l")


# -- the value type --------------------------------------------------------------------------

_ELEMS = st.sampled_from([b"a", b"b", b"c"])
_IDX = st.integers(-8, 8)


def _model_range(items: list, start: int, stop: int) -> list:
    n = len(items)
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    start = max(start, 0)
    if start > stop or start >= n:
        return []
    return items[start : min(stop, n - 1) + 1]


@settings(max_examples=400, deadline=None)
@given(items=st.lists(_ELEMS, max_size=12), start=_IDX, stop=_IDX)
def test_trim_keeps_what_a_redis_range_selects(items, start, stop):
    lst = RList(items)
    removed = lst.trim(start, stop)
    kept = _model_range(items, start, stop)
    assert list(lst) == kept
    assert removed == len(items) - len(kept)


@settings(max_examples=400, deadline=None)
@given(items=st.lists(_ELEMS, min_size=1, max_size=12), data=st.data())
def test_range_reads_from_either_end_alike(items, data):
    n = len(items)
    start = data.draw(st.integers(0, n - 1))
    stop = data.draw(st.integers(start, n - 1))
    assert [decode(x) for x in RList(items).range(start, stop)] == items[start : stop + 1]


@settings(max_examples=400, deadline=None)
@given(items=st.lists(_ELEMS, max_size=12), value=_ELEMS, count=st.integers(-4, 4))
def test_remove_matches_from_head_or_tail(items, value, count):
    lst = RList(items)
    removed = lst.remove_matches(encode(value), count)
    expected = list(items)
    limit = abs(count) or len(items)
    order = range(len(expected) - 1, -1, -1) if count < 0 else range(len(expected))
    drop = [i for i in order if expected[i] == value][:limit]
    for i in sorted(drop, reverse=True):
        del expected[i]
    assert list(lst) == expected
    assert removed == len(drop)


def test_trim_of_a_long_list_from_the_left():
    lst = RList(str(i).encode() for i in range(1000))
    assert lst.trim(900, -51) == 950
    assert list(lst) == [str(i).encode() for i in range(900, 950)]
    assert lst.object_encoding({}) == b"quicklist"


def test_other_modules_see_plain_values():
    values = [b"", b"a\r\nb", b"$3\r\nfoo", b"x" * 1000]
    lst = RList(values)
    assert list(lst) == values and len(lst) == 4 and lst
    assert lst.items[1] == b"$4\r\na\r\nb\r\n"
    twin = lst.copy()
    assert twin == lst and twin is not lst
    twin.items.pop()
    assert len(lst) == 4 and twin != lst
    assert not RList()
