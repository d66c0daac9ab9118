"""HyperLogLog behaviour on a Vermilion node (redis-py): counts, encodings, errors, the
cached cardinality, and the representation's pure helpers."""

from __future__ import annotations

import pytest
import redis

from server.datatypes import hyperloglog as hll


def test_pfadd_reports_whether_a_register_changed(r):
    assert r.pfadd("h", "a", "b") == 1
    assert r.pfadd("h", "a") == 0
    assert r.pfadd("h") == 0
    assert r.pfadd("new") == 1  # creating the key is a change
    assert r.pfcount("new") == 0


def test_counts_are_close_to_the_truth_sparse_and_dense(r):
    r.pfadd("small", *[f"s{i}" for i in range(100)])
    assert 95 <= r.pfcount("small") <= 105
    assert r.execute_command("PFDEBUG", "ENCODING", "small") == b"sparse"
    for start in range(0, 20000, 1000):
        r.pfadd("big", *[f"b{i}" for i in range(start, start + 1000)])
    assert r.execute_command("PFDEBUG", "ENCODING", "big") == b"dense"
    assert r.strlen("big") == hll.DENSE_SIZE
    assert abs(r.pfcount("big") - 20000) < 20000 * 0.02


def test_union_of_several_keys(r):
    r.pfadd("a", *range(0, 600))
    r.pfadd("b", *range(300, 900))
    assert abs(r.pfcount("a", "b", "missing") - 900) < 20
    assert r.pfmerge("m", "a", "b")
    assert r.pfcount("m") == r.pfcount("a", "b")
    assert r.pfcount("missing1", "missing2") == 0


def test_pfcount_caches_the_cardinality_in_the_value(r):
    r.pfadd("h", "a", "b", "c")
    value = r.get("h")
    assert value[15] & 0x80  # stale after an update
    assert r.pfcount("h") == 3
    cached = r.get("h")
    assert not cached[15] & 0x80 and int.from_bytes(cached[8:16], "little") == 3
    # A forged cache is believed until the next change.
    r.set("h", cached[:8] + (12345).to_bytes(8, "little") + cached[16:])
    assert r.pfcount("h") == 12345
    r.pfadd("h", "z")
    assert r.pfcount("h") == 4


def test_pfcount_storing_its_count_breaks_a_watch(r):
    r.pfadd("h", "a")
    with r.pipeline() as p:
        p.watch("h")
        assert r.pfcount("h") == 1
        p.multi()
        p.ping()
        with pytest.raises(redis.WatchError):
            p.execute()


def test_an_hll_is_a_raw_string(r):
    r.pfadd("h", "a")
    assert r.type("h") == b"string"
    assert r.object("encoding", "h") == b"raw"
    assert r.get("h")[:5] == b"HYLL\x01"


def test_errors(r):
    r.rpush("l", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against"):
        r.pfadd("l", "a")
    r.set("s", "not an hll")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE Key is not a valid HyperLogLog string value."):
        r.pfcount("s")
    r.set("c", b"HYLL\x01" + bytes(10) + b"\x80" + b"\x7f\x00")  # runs cover 16129 registers
    with pytest.raises(redis.ResponseError, match="^INVALIDOBJ Corrupted HLL object detected"):
        r.pfcount("c")
    with pytest.raises(redis.ResponseError, match="^INVALIDOBJ"):
        r.pfmerge("d", "c")


def test_sparse_limit_is_configurable(r):
    r.config_set("hll-sparse-max-bytes", 100)
    try:
        r.pfadd("h", *range(60))
        assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    finally:
        r.config_set("hll-sparse-max-bytes", 3000)


def test_pfmerge_into_a_dense_destination_when_a_source_is_dense(r):
    r.pfadd("d", *range(5000))
    r.pfadd("s", "x")
    r.pfmerge("t", "s", "d")
    assert r.execute_command("PFDEBUG", "ENCODING", "t") == b"dense"
    r.pfmerge("u", "s")
    assert r.execute_command("PFDEBUG", "ENCODING", "u") == b"sparse"


# -- the representation -------------------------------------------------------------------------


def test_empty_hll_counts_zero():
    hist = [0] * 64
    hist[0] = hll.REGISTERS
    assert hll.estimate(hist) == 0


def test_dense_registers_round_trip_through_raw_form():
    raw = bytes(i % 64 for i in range(hll.REGISTERS))
    dense = bytearray(hll.MAGIC + bytes(12)) + hll.pack(raw)
    assert bytes(hll.raw_from_dense(dense)) == raw
    hist = hll.dense_histogram(dense)
    assert hist == [hll.REGISTERS // 64] * 64


def test_register_wise_maximum():
    a = bytes([1, 5, 0, 63] * (hll.REGISTERS // 4))
    b = bytes([2, 5, 7, 0] * (hll.REGISTERS // 4))
    assert hll.raw_max(a, b) == bytes([2, 5, 7, 63] * (hll.REGISTERS // 4))


def test_dense_set_only_raises_a_register():
    buf = bytearray(hll.MAGIC + bytes(12)) + bytearray(hll.REGISTERS * 6 // 8)
    for index in (0, 1, 2, 3, 5, 16383):
        assert hll.dense_set(buf, index, 7)
        assert not hll.dense_set(buf, index, 6)
        assert hll.dense_set(buf, index, 63)
    raw = hll.raw_from_dense(buf)
    assert [i for i, v in enumerate(raw) if v] == [0, 1, 2, 3, 5, 16383]
    assert all(raw[i] == 63 for i in (0, 1, 2, 3, 5, 16383))


def test_sparse_parse_and_serialise_are_inverse():
    value = hll.EMPTY
    sp = hll.Sparse(value)
    assert sp.to_bytes() == value and sp.total() == hll.REGISTERS
    for index, count in ((5, 3), (6, 3), (100, 1), (16383, 32), (4, 3)):
        assert sp.set(index, count, 3000) == 1
    again = hll.Sparse(sp.to_bytes())
    assert again.to_bytes() == sp.to_bytes()
    assert again.raw() == sp.raw()
    raw = sp.raw()
    assert raw[4:7] == b"\x03\x03\x03" and raw[100] == 1 and raw[16383] == 32
