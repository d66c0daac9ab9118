"""Sorted-set commands end to end through redis-py (large sets, blocking pops across
clients, cursors), and the ZSet value itself checked against a plain-list model of Redis's
listpack walk with hypothesis."""

from __future__ import annotations

import bisect
import threading
import time

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from server.datatypes.zset import LexBound, ZSet, lex_empty
from tests.support.waiting import wait_for

# -- commands --------------------------------------------------------------------------------


def test_zadd_and_the_reads_agree(r):
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert r.zadd("z", {"a": 1, "b": 4}, ch=True) == 1
    assert r.zcard("z") == 3
    assert r.zscore("z", "b") == 4.0
    assert r.zmscore("z", ["a", "x", "c"]) == [1.0, None, -3.0]
    assert r.zrange("z", 0, -1, withscores=True) == [(b"c", -3.0), (b"a", 1.0), (b"b", 4.0)]
    assert r.zrank("z", "b") == 2
    assert r.zrevrank("z", "b") == 0
    assert r.zrank("z", "nope") is None


def test_equal_scores_order_by_member_bytes(r):
    r.zadd("z", {"b": 0, "a": 0, "ab": 0, "": 0, "\xff": 0, "B": 0})
    assert r.zrange("z", 0, -1) == [b"", b"B", b"a", b"ab", b"b", "\xff".encode()]
    assert r.zrangebylex("z", "[a", "(b") == [b"a", b"ab"]
    assert r.zlexcount("z", "-", "+") == 6


def test_zadd_options(r):
    r.zadd("z", {"a": 5})
    assert r.zadd("z", {"a": 1, "b": 1}, nx=True) == 1
    assert r.zscore("z", "a") == 5
    assert r.zadd("z", {"a": 7, "c": 1}, xx=True, ch=True) == 1
    assert r.zadd("z", {"a": 3}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 3}, lt=True, ch=True) == 1
    assert r.zadd("z", {"a": 2}, incr=True) == 5.0
    assert r.zadd("z", {"a": -100}, incr=True, gt=True) is None
    assert r.zincrby("z", 0.5, "b") == 1.5
    with pytest.raises(redis.ResponseError, match="not compatible"):
        r.execute_command("ZADD", "z", "NX", "XX", "1", "a")
    r.zadd("inf", {"m": float("inf")})
    with pytest.raises(redis.ResponseError, match="not a number"):
        r.zadd("inf", {"m": float("-inf")}, incr=True)


def test_score_ranges_exclusive_and_infinite(r):
    r.zadd("z", {"lo": float("-inf"), "a": 1, "b": 2, "c": 3, "hi": float("inf")})
    assert r.zcount("z", "-inf", "+inf") == 5
    assert r.zcount("z", "(1", "(3") == 1
    assert r.zrangebyscore("z", "(-inf", "(inf") == [b"a", b"b", b"c"]
    assert r.zrevrangebyscore("z", "+inf", "2", start=1, num=2) == [b"c", b"b"]
    assert r.zrangebyscore("z", "-inf", "+inf", withscores=True)[0] == (b"lo", float("-inf"))
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zrangebyscore("z", "x", "1")


def test_removing_every_member_deletes_the_key(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zrem("z", "a", "b", "c") == 2
    assert not r.exists("z")
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zremrangebyscore("z", "-inf", "+inf") == 2
    assert not r.exists("z")
    r.zadd("z", {"a": 1})
    assert r.zpopmin("z") == [(b"a", 1.0)]
    assert not r.exists("z")


def test_pops_and_zmpop(r):
    r.zadd("z", {m: i for i, m in enumerate("abcdef")})
    assert r.zpopmin("z", 2) == [(b"a", 0.0), (b"b", 1.0)]
    assert r.zpopmax("z") == [(b"f", 5.0)]
    assert r.zmpop(2, ["nokey", "z"], max=True, count=2) == [b"z", [[b"e", b"4"], [b"d", b"3"]]]
    assert r.zmpop(1, ["nokey"], min=True) is None


def test_set_algebra_with_weights_and_plain_sets(r):
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"y": 10, "z": 20})
    r.sadd("s", "x", "z")
    assert r.zunion(["a", "b"], withscores=True) == [(b"x", 1.0), (b"y", 12.0), (b"z", 20.0)]
    assert r.zinter({"a": 2, "b": 1}, withscores=True) == [(b"y", 14.0)]
    assert r.zdiff(["a", "b"]) == [b"x"]
    assert r.zunionstore("d", ["a", "s"], aggregate="MAX") == 3
    assert r.zrange("d", 0, -1, withscores=True) == [(b"x", 1.0), (b"z", 1.0), (b"y", 2.0)]
    assert r.zintercard(2, ["a", "s"]) == 1


def test_zrangestore_and_limits(r):
    r.zadd("z", {m: i for i, m in enumerate("abcdefgh")})
    assert r.zrangestore("d", "z", 2, 5) == 4
    assert r.zrange("d", 0, -1) == [b"c", b"d", b"e", b"f"]
    assert r.zrangestore("d", "z", "(1", "+inf", byscore=True, offset=1, num=2) == 2
    assert r.zrange("d", 0, -1) == [b"d", b"e"]
    assert r.zrange("z", "[h", "[c", bylex=True, desc=True, offset=0, num=3) == [b"h", b"g", b"f"]
    assert r.zrangestore("d", "z", 10, 20) == 0
    assert not r.exists("d")


def test_encodings_follow_the_config_limits(r):
    r.config_set("zset-max-listpack-entries", 4)
    try:
        r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
        assert r.object("encoding", "z") == b"listpack"
        r.zadd("z", {"e": 5})
        assert r.object("encoding", "z") == b"skiplist"
        r.zrem("z", "a", "b", "c")
        assert r.object("encoding", "z") == b"skiplist"
        r.zunionstore("u", ["z"])
        assert r.object("encoding", "u") == b"listpack"
        r.zadd("long", {"x" * 65: 1})
        assert r.object("encoding", "long") == b"skiplist"
    finally:
        r.config_set("zset-max-listpack-entries", 128)


def test_a_large_set_answers_ranked_queries(r):
    n = 20000
    r.zadd("z", {"m%05d" % i: i // 2 for i in range(n)})
    assert r.object("encoding", "z") == b"skiplist"
    assert r.zcard("z") == n
    assert r.zrank("z", "m12345") == 12345
    assert r.zrevrank("z", "m00000") == n - 1
    assert r.zrange("z", 10000, 10002) == [b"m10000", b"m10001", b"m10002"]
    assert r.zcount("z", "(100", "200") == 200
    assert r.zrangebyscore("z", 5000, "+inf", start=3, num=2) == [b"m10003", b"m10004"]
    assert r.zremrangebyrank("z", 0, 9999) == 10000
    assert r.zrange("z", 0, 0, withscores=True) == [(b"m10000", 5000.0)]
    assert len(r.zpopmax("z", 5000)) == 5000
    assert r.zcard("z") == 5000


def test_zscan_iterates_a_large_set(r):
    members = {"m%d" % i: i for i in range(3000)}
    r.zadd("z", members)
    seen = dict(r.zscan_iter("z", count=50))
    assert seen == {k.encode(): float(v) for k, v in members.items()}
    assert sorted(m for m, _ in r.zscan_iter("z", match="m29*")) == sorted(
        k.encode() for k in members if k.startswith("m29")
    )


def test_zrandmember_with_counts(r):
    r.zadd("z", {m: i for i, m in enumerate("abcdefghij")})
    picks = r.zrandmember("z", 5)
    assert len(set(picks)) == 5
    assert len(r.zrandmember("z", -30)) == 30
    assert r.zrandmember("z", 100) == [m.encode() for m in "jihgfedcba"]
    assert r.zrandmember("nokey") is None


def _blocked_count(r) -> int:
    return r.info("clients")["blocked_clients"]


def test_bzpopmin_is_served_by_a_later_zadd(r, shared_node):
    other = redis.Redis(port=shared_node.port, socket_timeout=10)
    result = {}
    waiter = threading.Thread(target=lambda: result.update(v=other.bzpopmin(["k1", "k2"], 5)))
    waiter.start()
    wait_for(lambda: _blocked_count(r) == 1)
    r.zadd("k2", {"a": 2, "b": 1})
    waiter.join(5)
    other.close()
    assert result["v"] == (b"k2", b"b", 1.0)
    assert r.zrange("k2", 0, -1) == [b"a"]
    assert _blocked_count(r) == 0


def test_bzmpop_times_out_with_a_null(r):
    start = time.monotonic()
    assert r.bzmpop(0.05, 1, ["nokey"], min=True) is None
    assert time.monotonic() - start >= 0.04
    assert r.bzpopmax(["nokey"], 0.01) is None


# -- the value: ZSet against a plain model ---------------------------------------------------


class Model:
    """A sorted set as a sorted Python list, with Redis's listpack walks written naively."""

    def __init__(self):
        self.items: list[tuple[float, bytes]] = []

    def add(self, member, score):
        self.remove(member)
        bisect.insort(self.items, (score, member))

    def remove(self, member):
        self.items = [(s, m) for s, m in self.items if m != member]

    def lex(self, lo, hi, reverse, offset, limit):
        """zzlFirstInLexRange / zzlLastInLexRange, then the skip and the walk of
        genericZrangebylexCommand, over the list."""
        members = [m for _, m in self.items]
        if not members or lex_empty(lo, hi) or offset < 0:  # Redis's skip loop runs off the end
            return []
        gte = [_gte(m, lo) for m in members]
        lte = [_lte(m, hi) for m in members]
        if not gte[-1] or not lte[0]:
            return []
        out = []
        if not reverse:
            i = gte.index(True)
            if not lte[i]:
                return []
            i += offset
            while i < len(members) and len(out) != limit and lte[i]:
                out.append(self.items[i])
                i += 1
        else:
            i = len(members) - 1 - lte[::-1].index(True)
            if not gte[i]:
                return []
            i -= offset
            while i >= 0 and len(out) != limit and gte[i]:
                out.append(self.items[i])
                i -= 1
        return out


def _gte(m, b):
    return b.kind < 0 if b.kind else (m > b.value if b.exclusive else m >= b.value)


def _lte(m, b):
    return b.kind > 0 if b.kind else (m < b.value if b.exclusive else m <= b.value)


MODEL_MEMBERS = st.sampled_from([b"a", b"b", b"c", b"ab", b"", b"ba", b"z"])
MODEL_SCORES = st.sampled_from([0.0, 0.0, 1.0, -1.0, 2.5, float("inf"), float("-inf")])
BOUNDS = st.one_of(
    st.sampled_from([LexBound(-1), LexBound(1)]),
    st.builds(LexBound, st.just(0), MODEL_MEMBERS, st.booleans()),
)
OPS = st.one_of(
    st.tuples(st.just("add"), MODEL_MEMBERS, MODEL_SCORES),
    st.tuples(st.just("remove"), MODEL_MEMBERS),
    st.tuples(st.just("lex"), BOUNDS, BOUNDS, st.booleans(), st.integers(-1, 4), st.integers(-1, 4)),
    st.tuples(st.just("score"), MODEL_SCORES, st.booleans(), MODEL_SCORES, st.booleans()),
    st.tuples(st.just("rank"), st.integers(-9, 9), st.integers(-9, 9)),
    st.tuples(st.just("pop"), st.integers(1, 4), st.booleans()),
)


@settings(max_examples=400, deadline=None, database=None)
@given(ops=st.lists(OPS, max_size=40), uniform=st.booleans())
def test_zset_value_matches_a_plain_model(ops, uniform):
    """Every change and every range of ZSet against the model; ``uniform`` keeps one score
    so lex ranges take the bisecting path, otherwise they take the walking one."""
    z, model = ZSet(listpack=False), Model()
    for op in ops:
        kind = op[0]
        if kind == "add":
            member, score = op[1], 0.0 if uniform else op[2]
            old = z.scores.get(member)
            if old is None:
                z.insert(member, score)
            elif old != score:
                z.update(member, old, score)
            model.add(member, score)
        elif kind == "remove":
            assert z.remove(op[1]) == any(m == op[1] for _, m in model.items)
            model.remove(op[1])
        elif kind == "lex":
            _, lo, hi, reverse, offset, limit = op
            start, stop = z.lex_span(lo, hi, reverse, offset, limit)
            assert z.slice(start, stop, reverse) == model.lex(lo, hi, reverse, offset, limit)
        elif kind == "score":
            _, lo, lo_ex, hi, hi_ex = op
            start, stop = z.score_span(lo, lo_ex, hi, hi_ex)
            expected = [(s, m) for s, m in model.items
                        if (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)]
            assert z.slice(start, stop) == expected
        elif kind == "rank":
            start, stop = z.rank_span(op[1], op[2])
            n = len(model.items)
            a = max(op[1] + n if op[1] < 0 else op[1], 0)
            b = op[2] + n if op[2] < 0 else op[2]
            assert z.slice(start, stop) == (model.items[a: b + 1] if b >= 0 else [])
        else:
            _, count, from_max = op
            popped = z.pop(count, from_max)
            expected = model.items[::-1][:count] if from_max else model.items[:count]
            assert popped == expected
            for _, m in expected:
                model.remove(m)
        assert list(z.order) == model.items
        assert z.scores == {m: s for s, m in model.items}
        for rank, (_, m) in enumerate(model.items):
            assert z.rank(m) == rank
