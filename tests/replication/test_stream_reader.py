"""The master-stream reader: every command with its exact byte size, fast on canonical RESP,
exact (and still right) on anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from replication.stream import StreamReader, canonical_size
from tests.support.resp import encode_command


def drain(reader: StreamReader) -> list:
    out = []
    while True:
        item = reader.next()
        if item is None:
            return out
        out.append(item)


def test_sizes_of_canonical_commands():
    cmds = [[b"SELECT", b"0"], [b"SET", b"k", b"v" * 12345], [b"ping"], [b"x"] * 12]
    data = b"".join(encode_command(*c) for c in cmds)
    r = StreamReader()
    r.feed(data)
    got = drain(r)
    assert got == [(c, len(encode_command(*c))) for c in cmds]
    assert not r.exact
    assert canonical_size([b"SET", b"k", b"v"]) == len(encode_command("SET", "k", "v"))


def test_a_command_split_anywhere_comes_out_once_complete():
    data = encode_command("SET", "key", "value") + encode_command("INCR", "n")
    for cut in range(1, len(data)):
        r = StreamReader()
        r.feed(data[:cut])
        first = drain(r)
        r.feed(data[cut:])
        assert [argv for argv, _ in first + drain(r)] == [[b"SET", b"key", b"value"], [b"INCR", b"n"]]


def test_empty_lines_switch_to_the_exact_parser_and_count_in_the_offsets():
    data = encode_command("PING") + b"\n" + encode_command("SET", "k", "v") + b"\r\n\n" + encode_command("GET", "k")
    r = StreamReader()
    r.feed(data)
    got = drain(r)
    assert [argv for argv, _ in got] == [[b"PING"], [b"SET", b"k", b"v"], [b"GET", b"k"]]
    assert [size for _, size in got] == [14, 1 + 27, 3 + 20]  # blank lines count with the next command
    assert r.exact


def test_lengths_redis_would_not_accept_are_protocol_errors():
    r = StreamReader()
    r.feed(b"*3\r\n$03\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")  # a leading zero
    assert drain(r) == []
    assert r.error is not None and r.error.reason == "invalid bulk length"


def test_an_inline_command_from_a_master_is_a_protocol_error():
    r = StreamReader()
    r.feed(encode_command("PING") + b"SET a b\r\n")
    assert drain(r) == [([b"PING"], 14)]
    assert r.error is not None and r.error.reason == "Master using the inline protocol. Desync?"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=6), min_size=1, max_size=20),
       st.lists(st.integers(min_value=1, max_value=200), max_size=30))
def test_offsets_add_up_whatever_the_chunking(cmds, cuts):
    data = b"".join(encode_command(*c) for c in cmds)
    r = StreamReader()
    got = []
    pos = 0
    for n in cuts + [len(data)]:
        r.feed(data[pos : pos + n])
        pos += n
        got += drain(r)
    assert [argv for argv, _ in got] == cmds
    assert sum(size for _, size in got) == len(data)
