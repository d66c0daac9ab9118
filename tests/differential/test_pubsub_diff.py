"""Pub/sub against real Redis 7.0: the exact bytes of every confirmation, message, push,
PUBSUB reply and error, with several connections per server (``Twin``: the same connection
opened to both servers and driven in lockstep)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import fuzz
from tests.support.pubsub import Twin
from tests.support.resp import encode_command


@pytest.fixture
def conns(redis_ref, diff_node):
    """``conns(resp=2)`` opens a twin connection; all are closed after the test.

    The servers are shared with other tests: wait until no subscription of an earlier test
    is left (closing a connection is processed asynchronously)."""
    opened: list[Twin] = []

    def open_twin(resp: int = 2) -> Twin:
        t = Twin(redis_ref.port, diff_node.port, resp)
        opened.append(t)
        return t

    admin = open_twin()
    admin.both("FLUSHALL")
    deadline = time.monotonic() + 5
    idle = (b"*0\r\n", b"*0\r\n")
    while not (
        admin.both("PUBSUB", "CHANNELS") == idle
        and admin.both("PUBSUB", "SHARDCHANNELS") == idle
        and admin.both("PUBSUB", "NUMPAT") == (b":0\r\n", b":0\r\n")
    ):
        assert time.monotonic() < deadline, "subscriptions of an earlier test never went away"
        time.sleep(0.01)
    open_twin.admin = admin
    yield open_twin
    for t in opened:
        t.close()


def sorted_pushes(replies: list[bytes]) -> list[bytes]:
    return sorted(replies)


# -- confirmations -------------------------------------------------------------------------


@pytest.mark.parametrize("resp", [2, 3])
def test_subscribe_confirmations_count_channels_and_patterns(conns, resp):
    s = conns(resp)
    s.check("SUBSCRIBE", "c1", "c2", "c1", n=3)
    s.check("PSUBSCRIBE", "p*", "p*", "q?", n=3)
    s.check("SSUBSCRIBE", "s1", "s2", n=2)
    s.check("SUBSCRIBE", "c3", n=1)
    s.check("UNSUBSCRIBE", "c2", "nope", n=2)
    s.check("PUNSUBSCRIBE", "q?", "zz", n=2)
    s.check("SUNSUBSCRIBE", "s2", "s9", n=2)
    s.check("PUNSUBSCRIBE", n=1)
    s.check("SUNSUBSCRIBE", n=1)
    s.check("UNSUBSCRIBE", "c1", "c3", n=2)


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("command", ["UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"])
def test_unsubscribe_all_without_subscriptions_confirms_with_null(conns, resp, command):
    s = conns(resp)
    s.check(command, n=1)
    s.check(command, n=1)
    s.check("GET", "x")  # still not in subscribed mode


@pytest.mark.parametrize("resp", [2, 3])
def test_unsubscribe_all_confirms_each_channel_with_decreasing_counts(conns, resp):
    s = conns(resp)
    s.check("SUBSCRIBE", "a", "b", "c", n=3)
    s.check("PSUBSCRIBE", "x*", n=1)
    s.send("UNSUBSCRIBE")
    expected, got = s.replies(3)
    # Redis walks its channel dict in hash order: compare the channels as a set, and the
    # counts, which go down one by one whatever the order.
    assert [r.rsplit(b"\r\n:", 1)[1] for r in got] == [r.rsplit(b"\r\n:", 1)[1] for r in expected]
    assert sorted(r.split(b"\r\n")[4] for r in got) == sorted(r.split(b"\r\n")[4] for r in expected)
    s.check("PSUBSCRIBE", "y*", "z*", n=2)
    s.check("PUNSUBSCRIBE", n=3)  # patterns leave in subscription order (a list in 7.0)


def test_punsubscribe_all_goes_in_subscription_order(conns):
    s = conns()
    s.check("PSUBSCRIBE", "p3", "p1", "p2", "p0", n=4)
    s.check("PUNSUBSCRIBE", n=4)


def test_binary_and_empty_names(conns):
    s = conns()
    p = conns()
    s.check("SUBSCRIBE", "", "a\r\nb", "\x00\xff", n=3)
    p.check("PUBLISH", "", "empty channel")
    p.check("PUBLISH", "a\r\nb", "x\r\ny")
    p.check("PUBLISH", "\x00\xff", "")
    s.check_received()
    p.check("PUBSUB", "NUMSUB", "", "a\r\nb", "\x00\xff")


# -- the subscribed state ----------------------------------------------------------------------


def test_resp2_subscriber_may_only_subscribe_ping_quit_and_reset(conns):
    s = conns()
    s.check("SUBSCRIBE", "c", n=1)
    for cmd in (("GET", "k"), ("SET", "k", "v"), ("HELLO", "3"), ("CLIENT", "ID"), ("PUBLISH", "c", "m"),
                ("PUBSUB", "NUMPAT"), ("SELECT", "1"), ("NOSUCHCOMMAND",)):
        s.check(*cmd)
    s.check("PING")
    s.check("PING", "hello")
    s.check("PING", "a", "b")
    s.check("PSUBSCRIBE", "x", n=1)
    s.check("UNSUBSCRIBE", n=1)
    s.check("GET", "k")  # one pattern left: still restricted
    s.check("PUNSUBSCRIBE", n=1)
    s.check("GET", "k")  # free again
    s.check("PING")


def test_a_shard_subscription_alone_keeps_the_resp2_restriction(conns):
    s = conns()
    s.check("SSUBSCRIBE", "s", n=1)
    s.check("SUBSCRIBE", "c", n=1)
    s.check("UNSUBSCRIBE", n=1)
    s.check("GET", "k")
    s.check("SUNSUBSCRIBE", n=1)
    s.check("GET", "k")


def test_resp3_subscriber_may_run_any_command(conns):
    s = conns(3)
    s.check("SUBSCRIBE", "c", n=1)
    s.check("SET", "k", "v")
    s.check("GET", "k")
    s.check("PING")
    s.check("PUBSUB", "NUMSUB", "c")
    s.both("HELLO", "2")  # (the reply holds the client id)
    s.check("GET", "k")  # back in RESP2 while subscribed: restricted


def test_reset_leaves_every_subscription_silently(conns):
    s = conns()
    admin = conns.admin
    s.check("SUBSCRIBE", "c", n=1)
    s.check("PSUBSCRIBE", "p*", n=1)
    s.check("SSUBSCRIBE", "s", n=1)
    s.check("RESET")
    s.check("GET", "k")
    admin.check("PUBSUB", "NUMSUB", "c")
    admin.check("PUBSUB", "SHARDNUMSUB", "s")
    admin.check("PUBSUB", "NUMPAT")


def test_subscribe_inside_exec_is_embedded_in_the_reply_and_ssubscribe_refused(conns):
    s = conns()
    s.check("MULTI")
    s.check("SUBSCRIBE", "q")
    s.check("SSUBSCRIBE", "s")
    s.check("EXEC")
    s.check("GET", "k")  # subscribed now


def test_client_reply_off_does_not_silence_pushes(conns):
    for resp in (2, 3):
        s = conns(resp)
        p = conns()
        s.send("CLIENT", "REPLY", "OFF")
        s.check("SUBSCRIBE", "c", n=1)  # the confirmation still arrives
        p.check("PUBLISH", "c", "m")
        expected, got = s.replies(1)  # (PING would not answer: replies are off)
        assert got == expected


# -- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize("resp", [2, 3])
def test_message_and_pmessage_bytes(conns, resp):
    s = conns(resp)
    p = conns()
    s.check("SUBSCRIBE", "news.tech", n=1)
    s.check("PSUBSCRIBE", "news.*", n=1)
    p.check("PUBLISH", "news.tech", "hello")  # delivered twice: channel and pattern
    p.check("PUBLISH", "news.art", "x")
    p.check("PUBLISH", "other", "y")
    s.check_received()


def test_pattern_syntax_follows_redis_glob(conns):
    s = conns()
    p = conns()
    patterns = ["h?llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\*llo", "*", "h*o"]
    s.check("PSUBSCRIBE", *patterns, n=len(patterns))
    for channel in ["hello", "hallo", "hxllo", "h*llo", "hbllo", ""]:
        p.check("PUBLISH", channel, "m")
        # Redis tries patterns in hash order: compare each publication's messages as a set.
        s.check_received(normalize=sorted_pushes)


def test_shard_channels_are_a_separate_namespace(conns):
    s = conns()
    p = conns()
    s.check("SSUBSCRIBE", "x", n=1)
    s.check("SUBSCRIBE", "y", n=1)
    p.check("PUBLISH", "x", "not for shard subscribers")
    p.check("SPUBLISH", "y", "not for channel subscribers")
    p.check("SPUBLISH", "x", "shard message")
    p.check("PUBLISH", "y", "channel message")
    s.check_received()
    s3 = conns(3)
    s3.check("SSUBSCRIBE", "x", n=1)
    p.check("SPUBLISH", "x", "two receivers")
    s3.check_received()


def test_publish_counts_every_receiver(conns):
    subs = [conns() for _ in range(3)]
    p = conns()
    subs[0].check("SUBSCRIBE", "c", n=1)
    subs[1].check("SUBSCRIBE", "c", n=1)
    subs[1].check("PSUBSCRIBE", "c*", "*", n=2)
    subs[2].check("PSUBSCRIBE", "c*", n=1)
    p.check("PUBLISH", "c", "m")
    p.check("PUBLISH", "d", "m")
    p.check("PUBLISH", "c", "")
    subs[0].check_received()
    subs[2].check_received()


def test_resp3_subscriber_gets_its_own_message_before_the_publish_reply(conns):
    s = conns(3)
    s.check("SUBSCRIBE", "me", n=1)
    pipeline = b"".join(
        encode_command(*c) for c in [("PUBLISH", "me", "1"), ("GET", "k"), ("PUBLISH", "me", "2"), ("PING",)]
    )
    s.send_raw(pipeline)
    expected, got = s.replies(6)
    assert got == expected


def test_published_after_disconnect_reaches_nobody(conns):
    s = conns()
    p = conns()
    s.check("SUBSCRIBE", "c", n=1)
    s.check("PSUBSCRIBE", "c*", n=1)
    s.close()
    deadline = time.monotonic() + 5
    while p.both("PUBSUB", "NUMSUB", "c") != (b"*2\r\n$1\r\nc\r\n:0\r\n",) * 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    p.check("PUBLISH", "c", "m")
    p.check("PUBSUB", "NUMPAT")


# -- PUBSUB --------------------------------------------------------------------------------


def test_pubsub_introspection(conns):
    a = conns()
    b = conns()
    q = conns.admin
    a.check("SUBSCRIBE", "news", "sport", "", n=3)
    b.check("SUBSCRIBE", "news", n=1)
    a.check("PSUBSCRIBE", "n*", "s*", n=2)
    b.check("PSUBSCRIBE", "n*", n=1)
    a.check("SSUBSCRIBE", "shard1", "shard2", n=2)
    b.check("SSUBSCRIBE", "shard1", n=1)
    for cmd in [
        ("PUBSUB", "NUMSUB"),
        ("PUBSUB", "NUMSUB", "news", "sport", "none", "", "shard1"),
        ("PUBSUB", "SHARDNUMSUB"),
        ("PUBSUB", "SHARDNUMSUB", "shard1", "shard2", "news"),
        ("PUBSUB", "NUMPAT"),
        ("PUBSUB", "CHANNELS", "s*"),
        ("PUBSUB", "CHANNELS", "zzz*"),
        ("PUBSUB", "SHARDCHANNELS", "*2"),
    ]:
        q.check(*cmd)
    for cmd in [("PUBSUB", "CHANNELS"), ("PUBSUB", "CHANNELS", "*"), ("PUBSUB", "SHARDCHANNELS")]:
        q.send(*cmd)
        expected, got = q.replies(1)
        assert got[0].split(b"\r\n", 1)[0] == expected[0].split(b"\r\n", 1)[0]
        assert sorted(got[0].split(b"\r\n")[1:]) == sorted(expected[0].split(b"\r\n")[1:])
    r3 = conns(3)
    r3.check("PUBSUB", "NUMSUB", "news")
    r3.check("PUBSUB", "SHARDNUMSUB", "shard1")
    r3.check("PUBSUB", "CHANNELS", "sp*")


def test_pubsub_help_and_errors(conns):
    q = conns.admin
    for cmd in [
        ("PUBSUB", "HELP"),
        ("PUBSUB", "help"),
        ("PUBSUB", "HELP", "x"),
        ("PUBSUB",),
        ("PUBSUB", "NOSUCH"),
        ("PUBSUB", "CHANNELS", "a", "b"),
        ("PUBSUB", "Channels", "a", "b"),
        ("PUBSUB", "SHARDCHANNELS", "a", "b"),
        ("PUBSUB", "NUMPAT", "x"),
        ("PUBLISH", "c"),
        ("PUBLISH", "c", "m", "x"),
        ("SPUBLISH", "c"),
        ("SUBSCRIBE",),
        ("PSUBSCRIBE",),
        ("SSUBSCRIBE",),
    ]:
        q.check(*cmd)


def test_client_list_and_info_show_subscriptions(conns):
    s = conns()
    q = conns.admin
    s.check("SUBSCRIBE", "a", "b", n=2)
    s.check("PSUBSCRIBE", "p*", n=1)
    s.check("SSUBSCRIBE", "s", n=1)
    r_line, o_line = q.both("CLIENT", "LIST", "TYPE", "pubsub")

    def fields(line: bytes) -> dict:
        return dict(f.split(b"=", 1) for f in line.split() if b"=" in f)

    for name in (b"flags", b"sub", b"psub", b"ssub", b"cmd"):
        assert fields(o_line)[name] == fields(r_line)[name], name
    r_info, o_info = q.both("INFO", "stats")
    for name in (b"pubsub_channels", b"pubsub_patterns", b"pubsubshard_channels"):
        assert o_info.split(name + b":")[1].split(b"\r\n")[0] == r_info.split(name + b":")[1].split(b"\r\n")[0]


# -- generated sequences -------------------------------------------------------------------

_NAMES = st.sampled_from([b"a", b"b", b"ab", b"", b"a*", b"*"])
_PATTERNS = st.sampled_from([b"a*", b"*", b"?", b"a", b"[ab]*", b"b?"])


def _command(names, min_size=0):
    return st.lists(names, min_size=min_size, max_size=3).map(tuple)


_STEP = st.one_of(
    st.tuples(st.integers(0, 2), st.just(b"SUBSCRIBE"), _command(_NAMES, 1)),
    st.tuples(st.integers(0, 2), st.just(b"UNSUBSCRIBE"), _command(_NAMES)),
    st.tuples(st.integers(0, 2), st.just(b"PSUBSCRIBE"), _command(_PATTERNS, 1)),
    st.tuples(st.integers(0, 2), st.just(b"PUNSUBSCRIBE"), _command(_PATTERNS)),
    st.tuples(st.integers(0, 2), st.just(b"SSUBSCRIBE"), _command(_NAMES, 1)),
    st.tuples(st.integers(0, 2), st.just(b"SUNSUBSCRIBE"), _command(_NAMES)),
    st.tuples(st.just(3), st.sampled_from([b"PUBLISH", b"SPUBLISH"]), st.tuples(_NAMES, st.just(b"m"))),
    st.tuples(st.just(3), st.just(b"PUBSUB"), st.sampled_from([
        (b"NUMSUB", b"a", b"b", b"ab", b""), (b"SHARDNUMSUB", b"a", b"b"), (b"NUMPAT",), (b"CHANNELS",),
        (b"CHANNELS", b"a*"), (b"SHARDCHANNELS",)])),
    st.tuples(st.integers(0, 2), st.sampled_from([b"GET", b"RESET"]), st.just((b"k",))),
)

_UNSUB_KINDS = (b"unsubscribe", b"punsubscribe", b"sunsubscribe")


def _normalize(replies: list[bytes], listing: bool = False) -> tuple:
    """What may legitimately differ is the order Redis walks its hash tables in: UNSUBSCRIBE
    without names, several patterns matching one message, PUBSUB CHANNELS. Confirmations of
    leaving are compared as a set of names and the sequence of counts; a listing as a set;
    everything else as a multiset (one step publishes at most one message)."""
    left, counts, rest = [], [], []
    for r in replies:
        parts = r.split(b"\r\n")
        if len(parts) > 4 and parts[2] in _UNSUB_KINDS:
            named = parts[3].startswith(b"$") and parts[3] != b"$-1"
            left.append(parts[2] + b" " + (parts[4] if named else b"(null)"))
            counts.append(parts[-2])
        elif listing:
            rest.append(parts[0] + b" " + b" ".join(sorted(parts[1:])))
        else:
            rest.append(r)
    return sorted(left), counts, sorted(rest)


@fuzz(150)
@given(steps=st.lists(_STEP, min_size=1, max_size=15), resp=st.sampled_from([2, 3]))
def test_random_pubsub_sequences_behave_like_redis(conns, steps, resp):
    subs = [conns(resp) for _ in range(3)]
    publisher = conns()
    everyone = subs + [publisher]
    try:
        for who, name, args in steps:
            conn = everyone[who]
            conn.send(name, *args)
            listing = name == b"PUBSUB" and args[0] in (b"CHANNELS", b"SHARDCHANNELS")
            seen = [(conn.received(), listing)]  # its replies (up to the PING's answer)
            seen += [(other.received(), False) for other in everyone if other is not conn]
            for (theirs, ours), is_listing in seen:
                assert _normalize(ours, is_listing) == _normalize(theirs, is_listing), (
                    f"after {name} {args} on connection {who}:\n  redis: {theirs!r}\n  ours:  {ours!r}"
                )
    finally:
        for t in everyone:
            t.close()
        admin = conns.admin
        deadline = time.monotonic() + 5
        while admin.both("PUBSUB", "NUMPAT") != (b":0\r\n", b":0\r\n") or admin.both(
            "PUBSUB", "CHANNELS") != (b"*0\r\n", b"*0\r\n") or admin.both("PUBSUB", "SHARDCHANNELS") != (b"*0\r\n", b"*0\r\n"):
            assert time.monotonic() < deadline
            time.sleep(0.005)
