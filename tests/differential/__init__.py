"""Differential tests: the same commands to Debian's redis-server 7.0 and to Vermilion, with
the raw reply bytes (and, where it matters, the propagated commands and keyspace events)
compared.

Helpers shared by the modules here (and ``conftest.py``'s module-scoped ``mirrored`` fixture;
``blocking.py`` holds the clients-blocked-then-served scenario machinery):

- ``check_all`` (with the ``Sorted``/``S`` marker for hash-order replies), ``resp3``,
  ``decode`` and ``full_scan``: the small steps every reply test is made of.
- ``fuzz``: hypothesis settings for tests that talk to servers.
- ``make_foreign``: a key of another type on both servers (a real list where RPUSH exists;
  until then a value of an unknown class planted in the in-process node), for WRONGTYPE.
- ``Mirror``: real Redis seen from a replica link (SYNC) and a PSUBSCRIBE connection, next to
  a Vermilion node whose single propagation point (``node.propagate``) and publish sink
  (``node.publish``) are recorded. ``mirror.run(commands)`` returns both sides' propagated
  commands and keyspace events for comparison.
- hypothesis strategies for string and bitmap commands over small key/value alphabets.
- ``pipeline_compare`` and ``check_lookup_stats``: replies of a pipeline; INFO's
  keyspace_hits/keyspace_misses after each command.
"""

from __future__ import annotations

import contextlib

import hiredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.support.differential import sorted_reply
from tests.support.resp import RawClient
from tests.support.servers import real_redis, vermilion

# -- replies ---------------------------------------------------------------------------------


def decode(raw: bytes):
    """One RESP reply (RESP2 or RESP3) as Python values."""
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


class Sorted(tuple):
    """A command whose reply lists a hash table's elements in seed-dependent order: ``check_all``
    compares it sorted. A marker subclass may set its own ``normalize``."""

    normalize = staticmethod(sorted_reply)


def S(*args) -> Sorted:
    return Sorted(args)


def check_all(pair, *commands) -> None:
    """``pair.check`` each command (a marked command with its ``normalize``)."""
    for cmd in commands:
        pair.check(*cmd, normalize=getattr(cmd, "normalize", None))


def resp3(pair) -> None:
    """Switch both connections of ``pair`` to RESP3 (HELLO's reply carries ids: not compared)."""
    theirs, ours = pair.compare("HELLO", "3")
    assert theirs.startswith(b"%7") and ours.startswith(b"%7")


def full_scan(conn, command: str, key, *options) -> tuple[list, int]:
    """Iterate ``command`` (SSCAN, HSCAN, ZSCAN) over ``key`` from cursor 0 until it is 0
    again; returns every element returned (flat, duplicates kept) and the number of calls."""
    cursor, found, calls = b"0", [], 0
    while True:
        cursor, batch = decode(conn.call(command, key, cursor, *options))
        found += batch
        calls += 1
        if cursor == b"0":
            return found, calls


# -- another type ----------------------------------------------------------------------------


class ForeignValue:
    """Stands for a value of a type the string commands do not handle (lists, hashes...)."""


def make_foreign(pair, node, key: bytes | str) -> None:
    """Give ``key`` a non-string value on both servers of ``pair`` (``node`` is ours)."""
    if isinstance(key, str):
        key = key.encode()
    assert pair.redis.call("RPUSH", key, "x") == b":1\r\n"
    if node.commands.get(b"rpush") is not None:
        assert pair.ours.call("RPUSH", key, "x") == b":1\r\n"
    else:
        # No other type exists yet: plant one. The node is idle between our calls.
        node.dbs[0].data[key] = ForeignValue()


# -- propagation and keyspace events ---------------------------------------------------------

_MARK = b"__mirror_end__"
_IGNORED = {b"SELECT", b"PING", b"MULTI", b"EXEC", b"FLUSHALL", b"REPLCONF"}
#: Arguments above this are absolute unix times in ms, compared with a tolerance.
_TIMESTAMP_MIN = 10**12
_TIMESTAMP_TOLERANCE_MS = 5000


class _RealSide:
    """Real Redis with notify-keyspace-events KEA, watched as a replica and as a subscriber."""

    def __init__(self, port: int):
        self.port = port
        self.client = RawClient(port)
        self.events = RawClient(port)
        assert self.events.call("PSUBSCRIBE", "__key*__:*").startswith(b"*3")
        self.replica = RawClient(port)
        self.replica.send(b"SYNC\r\n")
        self._skip_rdb()

    def _skip_rdb(self) -> None:
        rep = self.replica
        while True:
            rep._need(1)
            if rep.buf[:1] == b"\n":  # keepalive newlines while the RDB is produced
                rep.buf = rep.buf[1:]
                continue
            end = rep._line_end(0)
            size = int(rep.buf[1:end])
            rep._need(end + 2 + size)
            rep.buf = rep.buf[end + 2 + size :]
            return

    def close(self) -> None:
        for conn in (self.client, self.events, self.replica):
            conn.close()

    def run(self, commands) -> tuple[list, list, list]:
        replies = [self.client.call(*cmd) for cmd in commands]
        self.client.call("SET", _MARK, "1")
        stream = []
        while True:
            argv = decode(self.replica.read_reply())
            if argv[:2] == [b"SET", _MARK]:
                break
            if argv[0].upper() not in _IGNORED:
                stream.append(argv)
        events = []
        while True:
            msg = decode(self.events.read_reply())
            _, _, channel, data = msg
            if channel == b"__keyevent@0__:set" and data == _MARK:
                break
            if not channel.endswith(_MARK):
                events.append((channel, data))
        return replies, stream, events


class Mirror:
    """See the module docstring. Use through ``mirror()``; ``run`` flushes both sides first."""

    def __init__(self, real: _RealSide, node):
        self.real = real
        self.node = node
        self.stream: list[list[bytes]] = []
        self.events: list[tuple[bytes, bytes]] = []
        node.propagate = lambda dbid, argv: self.stream.append([bytes(a) for a in argv])
        node.publish = self._publish
        node.propagating = True
        node.recompute_gates()
        self.ours = RawClient(node.port)

    def _publish(self, channel: bytes, message: bytes) -> int:
        self.events.append((bytes(channel), bytes(message)))
        return 0

    def run(self, commands):
        """Run ``commands`` on both; returns ((replies, stream, events) of redis, of ours)."""
        self.real.client.call("FLUSHALL")
        self.ours.call("FLUSHALL")
        self.stream.clear()
        self.events.clear()
        theirs = self.real.run(commands)
        replies = [self.ours.call(*cmd) for cmd in commands]
        stream = [argv for argv in self.stream if argv[0].upper() not in _IGNORED]
        return theirs, (replies, stream, list(self.events))

    def check(self, *commands) -> None:
        """Assert identical replies, propagated commands and keyspace events."""
        (r_replies, r_stream, r_events), (o_replies, o_stream, o_events) = self.run(commands)
        assert o_replies == r_replies, _explain("replies", commands, r_replies, o_replies)
        assert same_stream(r_stream, o_stream), _explain("propagated", commands, r_stream, o_stream)
        assert o_events == r_events, _explain("keyspace events", commands, r_events, o_events)

    def close(self) -> None:
        self.ours.close()


def same_stream(theirs: list, ours: list) -> bool:
    """Equal command streams, with absolute times (PXAT, PEXPIREAT) within a tolerance."""
    if len(theirs) != len(ours):
        return False
    for a, b in zip(theirs, ours):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if x == y:
                continue
            if not (x.isdigit() and y.isdigit()):
                return False
            tx, ty = int(x), int(y)
            if min(tx, ty) < _TIMESTAMP_MIN or abs(tx - ty) > _TIMESTAMP_TOLERANCE_MS:
                return False
    return True


def _explain(what: str, commands, theirs, ours) -> str:
    cmds = "\n".join("  " + " ".join(map(str, c)) for c in commands)
    return f"{what} differ\ncommands:\n{cmds}\nredis: {theirs!r}\nours:  {ours!r}"


@contextlib.contextmanager
def real_side():
    """A dedicated real Redis with keyspace events on (module fixture material)."""
    with real_redis("--notify-keyspace-events", "KEA") as rp:
        side = _RealSide(rp.port)
        try:
            yield side
        finally:
            side.close()


@contextlib.contextmanager
def mirror(real: _RealSide):
    with vermilion(notify_keyspace_events="KEA") as node:
        m = Mirror(real, node)
        try:
            yield m
        finally:
            m.close()


# -- hypothesis ------------------------------------------------------------------------------


def fuzz(examples: int, *also_suppress: HealthCheck):
    """Hypothesis settings for tests that talk to servers (fixtures reused across examples)."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, *also_suppress],
    )



def _cmd(*parts):
    """A strategy for one command: each part is a strategy for a tuple of arguments or for a
    single argument (bytes)."""

    def flatten(values):
        out = []
        for v in values:
            out.extend(v if isinstance(v, tuple) else (v,))
        return tuple(out)

    return st.tuples(*(p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts)).map(flatten)


def _one_of(*options):
    return st.sampled_from(options)


KEYS = _one_of(b"a", b"b", b"c")
VALUES = st.one_of(
    _one_of(b"", b"0", b"1", b"-1", b"10", b"9223372036854775807", b"1.5", b"abc", b"a\x00\r\nb"),
    st.binary(max_size=6),
    st.integers(-1000, 1000).map(lambda i: b"%d" % i),
)
SMALL_INTS = st.one_of(st.integers(-20, 20), _one_of(-(2**63), 2**63 - 1, 2**31)).map(lambda i: b"%d" % i)
OFFSETS = st.integers(0, 40).map(lambda i: b"%d" % i)


def _fixed_point(t) -> bytes:
    value, places = t
    sign = b"-" if value < 0 else b""
    digits = b"%0*d" % (places + 1, abs(value))
    return sign + digits[: len(digits) - places] + (b"." + digits[-places:] if places else b"")


#: Texts for INCRBYFLOAT: fixed point, Python floats, exponents, Decimal spellings, edge words.
FLOAT_TEXTS = st.one_of(
    st.tuples(st.integers(-(10**25), 10**25), st.integers(0, 25)).map(_fixed_point),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode()),
    st.tuples(st.integers(-999, 999), st.integers(-60, 60)).map(lambda t: b"%de%d" % t),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: str(d).encode()),
    _one_of(b"inf", b"-inf", b"nan", b"1e", b".", b"", b" 1", b"0x1p-3", b"5.", b".5", b"1e4932",
            b"-1e4932", b"1e-4940", b"0.1", b"-0.1", b"3.0000000000000000001", b"1\x00"),
)

# Relative TTLs stay long (the two servers run a sequence some ms apart); absolute ones are
# far in the past or the future.
_TTL_ARGS = _one_of(b"100000", b"0", b"-5", b"abc", b"9223372036854775807", b"99999999999999")
_AT_ARGS = _one_of(b"1", b"0", b"-5", b"abc", b"100000", b"9223372036854775807", b"99999999999999")
_FUTURE_AT_ARGS = _one_of(b"0", b"-5", b"abc", b"9223372036854775807", b"99999999999999")
_SET_FLAGS = _one_of((), (b"NX",), (b"XX",), (b"GET",), (b"KEEPTTL",), (b"nx", b"get"), (b"XX", b"GET"),
                     (b"EX",), (b"NX", b"XX"), (b"KEEPTTL", b"PX", b"5"))
_GETEX_FLAGS = _one_of((), (b"PERSIST",), (b"EX", b"100"), (b"PXAT", b"99999999999999"), (b"EXAT", b"0"), (b"NX",))
_GETEX_PAST = _one_of((b"PXAT", b"1"), (b"EXAT", b"100000"))
_LCS_FLAGS = _one_of((), (b"LEN",), (b"IDX",), (b"IDX", b"WITHMATCHLEN"), (b"IDX", b"MINMATCHLEN", b"2"))


def string_commands(past_times: bool = True):
    """One random string command, as a tuple of arguments. ``past_times`` allows absolute
    expiry times in the past (keys that exist but are already expired)."""
    k, v = KEYS, VALUES
    at_args = _AT_ARGS if past_times else _FUTURE_AT_ARGS
    getex_flags = st.one_of(_GETEX_FLAGS, _GETEX_PAST) if past_times else _GETEX_FLAGS
    return st.one_of(
        _cmd(b"GET", k),
        _cmd(b"SET", k, v, _SET_FLAGS),
        _cmd(b"SET", k, v, _one_of(b"EX", b"PX"), _TTL_ARGS),
        _cmd(b"SET", k, v, _one_of(b"EXAT", b"PXAT"), at_args),
        _cmd(b"SETNX", k, v),
        _cmd(b"SETEX", k, _one_of(b"100", b"0", b"x"), v),
        _cmd(b"PSETEX", k, _one_of(b"100000", b"-1"), v),
        _cmd(b"GETEX", k, getex_flags),
        _cmd(b"GETDEL", k),
        _cmd(b"GETSET", k, v),
        _cmd(b"MGET", k, k, k),
        _cmd(b"MSET", k, v, k, v),
        _cmd(b"MSETNX", k, v, k, v),
        _cmd(b"APPEND", k, v),
        _cmd(b"STRLEN", k),
        _cmd(_one_of(b"GETRANGE", b"SUBSTR"), k, SMALL_INTS, SMALL_INTS),
        _cmd(b"SETRANGE", k, OFFSETS, v),
        _cmd(_one_of(b"INCR", b"DECR"), k),
        _cmd(_one_of(b"INCRBY", b"DECRBY"), k, SMALL_INTS),
        _cmd(b"INCRBYFLOAT", k, FLOAT_TEXTS),
        _cmd(b"LCS", k, k, _LCS_FLAGS),
    )


_TYPES = _one_of(b"u1", b"u3", b"u8", b"i5", b"i8", b"i16", b"u63", b"i64")
_FIELD_OFFSETS = st.one_of(OFFSETS, st.integers(0, 5).map(lambda i: b"#%d" % i))
_OVERFLOW = _one_of((), (b"OVERFLOW", b"WRAP"), (b"OVERFLOW", b"SAT"), (b"OVERFLOW", b"FAIL"))
_FIELD_OP = st.one_of(
    _cmd(_OVERFLOW, b"GET", _TYPES, _FIELD_OFFSETS),
    _cmd(_OVERFLOW, _one_of(b"SET", b"INCRBY"), _TYPES, _FIELD_OFFSETS, SMALL_INTS),
)
_BITCOUNT_RANGES = _one_of((), (b"0", b"-1"), (b"1", b"2"), (b"-2", b"-1"), (b"3", b"17", b"BIT"),
                           (b"-9", b"-2", b"BIT"), (b"0", b"0", b"BYTE"), (b"5", b"2"))
_BITPOS_RANGES = _one_of((), (b"1",), (b"-1",), (b"2", b"-1"), (b"3", b"21", b"BIT"), (b"0", b"-3", b"bit"),
                         (b"1", b"1", b"BYTE"), (b"9", b"9", b"BIT"))


def bitmap_commands():
    """One random bitmap command, as a tuple of arguments."""
    k = KEYS
    return st.one_of(
        _cmd(b"SETBIT", k, OFFSETS, _one_of(b"0", b"1")),
        _cmd(b"GETBIT", k, OFFSETS),
        _cmd(b"BITCOUNT", k, _BITCOUNT_RANGES),
        _cmd(b"BITPOS", k, _one_of(b"0", b"1"), _BITPOS_RANGES),
        _cmd(b"BITOP", _one_of(b"AND", b"OR", b"XOR"), k, k, k),
        _cmd(b"BITOP", b"NOT", k, k),
        _cmd(b"BITFIELD", k, st.lists(_FIELD_OP, min_size=1, max_size=3).map(lambda ops: sum(ops, ()))),
        _cmd(b"BITFIELD_RO", k, b"GET", _TYPES, _FIELD_OFFSETS),
    )


def _lookup_stats(conn) -> tuple[int, int]:
    info = conn.call("INFO", "stats")
    return tuple(int(info.split(name + b":", 1)[1].split(b"\r\n", 1)[0]) for name in (b"keyspace_hits", b"keyspace_misses"))


def check_lookup_stats(pair, commands) -> None:
    """Each command moves keyspace_hits / keyspace_misses as on Redis (read lookups count,
    write lookups do not)."""
    for cmd in commands:
        before = _lookup_stats(pair.redis), _lookup_stats(pair.ours)
        pair.check(*cmd)
        after = _lookup_stats(pair.redis), _lookup_stats(pair.ours)
        theirs = tuple(x - y for x, y in zip(after[0], before[0]))
        ours = tuple(x - y for x, y in zip(after[1], before[1]))
        assert ours == theirs, f"{cmd}: (hits, misses) moved by {ours}, Redis {theirs}"


def pipeline_compare(pair, commands) -> None:
    """Send the commands to both servers as one pipeline each and compare reply by reply."""
    expected = pair.redis.pipeline(list(commands))
    got = pair.ours.pipeline(list(commands))
    for cmd, want, have in zip(commands, expected, got):
        assert have == want, _explain("replies", commands, (cmd, want), (cmd, have))


__all__ = [
    "decode",
    "Sorted",
    "S",
    "check_all",
    "resp3",
    "full_scan",
    "fuzz",
    "ForeignValue",
    "make_foreign",
    "Mirror",
    "mirror",
    "real_side",
    "same_stream",
    "string_commands",
    "bitmap_commands",
    "pipeline_compare",
    "check_lookup_stats",
    "FLOAT_TEXTS",
]
