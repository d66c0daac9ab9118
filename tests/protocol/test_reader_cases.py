"""Both request readers on hand-written streams, fed whole, a byte at a time and in random
chunks: same requests, same error, same bytes held (see cases.py for the streams)."""

from __future__ import annotations

import resource
import time

import pytest

from protocol import errors as E
from protocol.errors import ProtocolError
from protocol.reader import (
    INLINE_MAX_SIZE,
    MAX_BULK_LEN,
    RequestReader,
    split_inline,
)
from tests.protocol.cases import CASES, PING, req
from tests.protocol.feeding import READERS, agree, bytewise, cut, outcome, run, whole


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_readers_agree_with_the_expected_outcome(case):
    kw = dict(authenticated=case.auth, **case.reader_kw)
    # Unauthenticated clients take requests one at a time (each may be AUTH).
    got = agree(case.data, max_requests=0 if case.auth else 1, **kw)
    assert got.requests == case.requests
    assert got.error == case.error
    if case.pending is not None:
        assert got.pending == case.pending


@pytest.mark.parametrize("case", [c for c in CASES if c.auth], ids=lambda c: c.id)
def test_one_request_at_a_time_reads_the_same(case):
    assert agree(case.data, max_requests=1) == agree(case.data)


# -- limits at their exact edges --------------------------------------------------------------


@pytest.mark.parametrize("cls", READERS)
def test_inline_limit_counts_the_whole_unparsed_buffer(cls):
    # 64 KB without a newline waits; one byte more is an error, however it arrived.
    assert outcome(b"a" * INLINE_MAX_SIZE, cls).error is None
    for chunks in (whole(b"a" * (INLINE_MAX_SIZE + 1)), [b"a" * INLINE_MAX_SIZE, b"a"]):
        assert run(cls(), chunks).error == E.TOO_BIG_INLINE


@pytest.mark.parametrize("cls", READERS)
def test_long_inline_line_is_accepted_when_its_newline_came_with_it(cls):
    # Redis checks the limit only when no newline is buffered yet.
    line = b"ECHO " + b"x" * (2 * INLINE_MAX_SIZE) + b"\n"
    assert outcome(line, cls).requests == ((b"ECHO", b"x" * (2 * INLINE_MAX_SIZE)),)
    assert run(cls(), [line[:INLINE_MAX_SIZE + 1], line[INLINE_MAX_SIZE + 1 :]]).error == E.TOO_BIG_INLINE


@pytest.mark.parametrize("cls", READERS)
def test_count_and_length_lines_have_the_same_64k_limit(cls):
    assert outcome(b"*" + b"1" * (INLINE_MAX_SIZE - 1), cls).error is None
    assert outcome(b"*" + b"1" * INLINE_MAX_SIZE, cls).error == E.TOO_BIG_MBULK_COUNT
    head = b"*1\r\n$"
    assert outcome(head + b"1" * (INLINE_MAX_SIZE - 1), cls).error is None
    assert outcome(head + b"1" * INLINE_MAX_SIZE, cls).error == E.TOO_BIG_BULK_COUNT


@pytest.mark.parametrize("cls", READERS)
def test_bulk_length_limit_follows_max_bulk_len(cls):
    limit = 1 << 20
    ok = req("ECHO", b"y" * limit)
    assert outcome(ok, cls, max_bulk_len=limit).requests == ((b"ECHO", b"y" * limit),)
    too_big = b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (limit + 1)
    assert outcome(too_big, cls, max_bulk_len=limit).error == E.INVALID_BULK_LEN
    # A complete request in one chunk is refused too (the fast path must not take it).
    assert outcome(req("ECHO", b"y" * (limit + 1)), cls, max_bulk_len=limit).error == E.INVALID_BULK_LEN


@pytest.mark.parametrize("cls", READERS)
def test_max_bulk_len_change_applies_to_the_next_request(cls):
    reader = cls()
    assert reader.feed(req("ECHO", b"z" * 2000)) == ([[b"ECHO", b"z" * 2000]], None)
    reader.max_bulk_len = 1000
    reqs, err = reader.feed(req("ECHO", b"z" * 2000))
    assert reqs == [] and err.reason == E.INVALID_BULK_LEN


@pytest.mark.parametrize("cls", READERS)
def test_query_buffer_is_what_redis_would_hold(cls):
    # Parsed arguments do not count; Redis reads a big bulk only up to its end.
    reader = cls()
    reader.feed(b"*3\r\n$4\r\nECHO\r\n$3\r\nabc\r\n$100\r\n" + b"x" * 40)
    assert reader.query_buffer() == reader.pending() == 40
    assert reader.query_buffer(30) == 70
    assert reader.query_buffer(1000) == 102
    inline = cls()
    inline.feed(b"ECHO abc")
    assert inline.query_buffer(10) == 18


# -- the master link ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", READERS)
def test_master_link_has_no_bulk_limit(cls):
    head = b"*2\r\n$3\r\nSET\r\n$%d\r\n" % (MAX_BULK_LEN + 1)
    got = outcome(head, cls, master=True)
    assert got.error is None and got.pending == 0


@pytest.mark.parametrize("cls", READERS)
def test_master_link_refuses_inline_commands_but_not_empty_lines(cls):
    assert outcome(b"\n\r\n" + PING, cls, master=True).requests == ((b"PING",),)
    assert outcome(b"PING\r\n", cls, master=True).error == "Master using the inline protocol. Desync?"
    # Redis looks at the line's length, not at its words: blanks are a desync too.
    assert outcome(b"  \r\n", cls, master=True).error == "Master using the inline protocol. Desync?"


# -- authentication changes the limits mid-stream -------------------------------------------


@pytest.mark.parametrize("cls", READERS)
def test_limits_lift_for_requests_after_auth(cls):
    reader = cls(authenticated=False)
    stream = req("AUTH", "pw") + req("ECHO", *["a"] * 20) + req("ECHO", b"x" * 20000)
    reqs, err = reader.feed(stream, 1)
    assert (reqs, err) == ([[b"AUTH", b"pw"]], None)
    reader.authenticated = True
    rest = []
    while True:
        more, err = reader.feed(b"", 1)
        assert err is None
        if not more:
            break
        rest += more
    assert rest == [[b"ECHO"] + [b"a"] * 20, [b"ECHO", b"x" * 20000]]


def test_fast_reader_resumes_after_auth_and_returns_to_hiredis():
    reader = RequestReader(authenticated=False)
    reqs, err = reader.feed(req("AUTH", "pw") + PING + PING, 1)
    assert reqs == [[b"AUTH", b"pw"]]
    reader.authenticated = True
    assert reader.resume() == ([[b"PING"], [b"PING"]], None)
    big = PING * 100
    assert reader.feed(big) == ([[b"PING"]] * 100, None)
    assert reader.pending() == 0


@pytest.mark.parametrize("cls", READERS)
def test_limits_apply_again_when_authentication_is_revoked(cls):
    reader = cls()
    reader.authenticated = False
    assert reader.feed(req("ECHO", *["a"] * 11), 1)[1].reason == E.UNAUTH_MBULK_LEN


# -- errors are final ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", READERS)
def test_error_is_sticky_and_drops_everything_after_it(cls):
    reader = cls()
    reqs, err = reader.feed(PING + b"*x\r\n" + PING)
    assert reqs == [[b"PING"]] and err.reason == E.INVALID_MBULK_LEN
    assert reader.feed(PING) == ([], err)
    assert reader.pending() == 0


def test_protocol_error_reply_bytes():
    assert ProtocolError(E.INVALID_BULK_LEN).reply == b"-ERR Protocol error: invalid bulk length\r\n"
    # The offending byte is echoed raw; CR and LF become spaces like in every error reply.
    assert ProtocolError(E.expected_dollar(0xFF)).reply == b"-ERR Protocol error: expected '$', got '\xff'\r\n"
    assert ProtocolError(E.expected_dollar(13)).reply == b"-ERR Protocol error: expected '$', got ' '\r\n"


# -- hiredis screens: what hiredis reads differently, and what it would allocate ------------


@pytest.mark.parametrize(
    "tail",
    [b"~1\r\n$4\r\nPING\r\n", b">1\r\n$4\r\nPING\r\n", b"%1\r\n$4\r\nPING\r\n$1\r\na\r\n",
     b"+PING\r\n", b"(1\r\n", b"=8\r\ntxt:PING\r\n", b"|1\r\n$1\r\na\r\n$1\r\nb\r\n",
     b":1\r\n", b"_\r\n", b"#t\r\n", b",1.5\r\n", b"-ERR x\r\n", b"!1\r\nx\r\n", b"$4\r\nPING\r\n",
     b"$0\r\n\r\n", b"%0\r\n"],
)
def test_other_resp_types_at_a_request_start_are_inline_lines(tail):
    # hiredis would read most of these as values (a RESP3 set even as a request).
    inline = [tuple(line.split(b" ")) for line in tail.split(b"\r\n") if line]
    assert agree(PING + tail + PING).requests == ((b"PING",), *inline, (b"PING",))
    # ... also when a value before them holds the bytes the screen looks for first.
    echo = req("ECHO", "x=y>z")
    assert agree(echo + tail + PING).requests == ((b"ECHO", b"x=y>z"), *inline, (b"PING",))


HUGE_COUNTS = [(head, count) for head in b"*~%" for count in (2147483647, 10**8)] + [
    # A regression here would really allocate (8 bytes and more per element): keep it modest.
    (head, 10**8) for head in b">|"
]


@pytest.mark.parametrize("head,count", HUGE_COUNTS, ids=[f"{chr(h)}{c}" for h, c in HUGE_COUNTS])
def test_huge_counts_cost_no_time_and_no_memory(head, count):
    # hiredis allocates an array when it reads its header; Redis waits for the elements.
    head = bytes([head])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # A value holding "= > + ( | ~" sends the fast reader's screen down its other branch.
    screened = req("ECHO", "a=b>c+d(e|f~g")
    for data in (
        b"*%d\r\n" % count,
        PING + head + b"%d\r\n" % count,
        b"*1\r\n" + head + b"%d\r\n" % count,
        screened + head + b"%d\r\n" % count,
        screened + b"*1\r\n" + head + b"%d\r\n" % count,
    ):
        start = time.monotonic()
        agree(data)
        assert time.monotonic() - start < 0.5, data
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000


def test_a_chunk_ending_mid_request_is_reparsed_by_the_reference():
    stream = PING * 3 + req("ECHO", "abcdef")
    for at in range(1, len(stream)):
        reader = RequestReader()
        got = run(reader, cut(stream, [at]))
        assert got.requests == ((b"PING",),) * 3 + ((b"ECHO", b"abcdef"),)
        assert got.pending == 0


def test_bytewise_feeding_of_a_big_bulk_holds_every_byte():
    value = bytes(range(256)) * 400
    stream = req("ECHO", value)
    for cls in READERS:
        reader = cls()
        seen = []
        for i, chunk in enumerate(bytewise(stream)):
            reqs, err = reader.feed(chunk)
            assert err is None
            seen += reqs
            if not reqs:
                assert reader.pending() <= i + 1
        assert seen == [[b"ECHO", value]] and reader.pending() == 0


# -- sdssplitargs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,args",
    [
        (b"", []),
        (b" \t\x0b\x0c\r\n", []),
        (b"a b  c", [b"a", b"b", b"c"]),
        (b'"a\\x4a"', [b"aJ"]),
        (b'"\\x4"', [b"x4"]),
        (b"'\\x41'", [b"\\x41"]),
        (b"'a\\\\'", None),  # the second backslash escapes the closing quote
        (b'"a\\', None),
        (b'"a" "b"', [b"a", b"b"]),
        (b'"a""b"', None),
        (b"''", [b""]),
        (b"'a'\t", [b"a"]),
        (b"x'y z'", [b"xy z"]),
        (b"'", None),
        (b'"', None),
        (b'a"', None),
    ],
)
def test_split_inline_follows_sdssplitargs(line, args):
    assert split_inline(line) == args
