"""MULTI/EXEC/DISCARD/WATCH/UNWATCH against real Redis 7.0.15: reply bytes of every reply and
error in RESP2 and RESP3, WATCH scenarios with two connections run in lockstep on both
servers (writes by others, expiry, flushes, SWAPDB, RESET), CLIENT LIST's transaction fields,
commandstats and errorstats, the MONITOR feed, the propagated stream (MULTI ... EXEC as a
replica of Redis receives it), and hypothesis-generated sequences from two clients mixing
valid, refused and failing commands.

The module runs its own real Redis and Vermilion node: some scenarios switch active expiry
off, set a password or pause clients, which the shared servers must not see."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import _RealSide, decode, fuzz
from tests.support.differential import Pair
from tests.support.resp import RawClient
from tests.support.servers import real_redis, vermilion


@pytest.fixture(scope="module")
def servers():
    with real_redis() as real, vermilion() as node:
        yield real, node


class Clients:
    """Connection pairs (one to each server) driven in lockstep; ``run`` checks each reply."""

    def __init__(self, servers):
        self.real, self.node = servers
        self.pairs: list[Pair] = []

    def __call__(self, name: str | None = None) -> Pair:
        pair = Pair(self.real.port, self.node.port)
        if name is not None:
            pair.check("CLIENT", "SETNAME", name)
        self.pairs.append(pair)
        return pair

    def run(self, steps) -> None:
        """``steps``: (client index, command...) tuples, or ("sleep", seconds)."""
        for step in steps:
            if step[0] == "sleep":
                time.sleep(step[1])
            else:
                self.pairs[step[0]].check(*step[1:])

    def close(self) -> None:
        for pair in self.pairs:
            pair.close()


@pytest.fixture
def clients(servers):
    group = Clients(servers)
    first = group()
    first.check("FLUSHALL")
    yield group
    group.close()


# -- replies -----------------------------------------------------------------------------------

CASES = {
    "without multi": [("EXEC",), ("DISCARD",), ("UNWATCH",), ("WATCH", "a", "b", "a")],
    "queue and exec": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("LRANGE", "a", "0", "-1"), ("EXEC",)],
    "empty": [("MULTI",), ("EXEC",), ("MULTI",), ("DISCARD",)],
    "nested multi and watch inside": [("MULTI",), ("MULTI",), ("WATCH", "a"), ("SET", "a", "1"), ("EXEC",)],
    "unknown command": [("MULTI",), ("SET", "a", "1"), ("NOSUCH", "x", "y"), ("nosuch",), ("GET", "a"), ("EXEC",), ("GET", "a")],
    "wrong arity": [("MULTI",), ("SET", "a"), ("GET",), ("SET", "b", "1"), ("EXEC",), ("EXISTS", "b")],
    "unknown subcommand": [("MULTI",), ("CONFIG", "NOSUCH"), ("CLIENT", "NOSUCH"), ("EXEC",)],
    "arity of the transaction commands": [("MULTI", "x"), ("MULTI",), ("MULTI", "x"), ("DISCARD", "x"), ("UNWATCH", "x"), ("WATCH",), ("EXEC",)],
    "exec with arguments outside multi": [("EXEC", "x"), ("EXEC", "x", "y")],
    "exec with arguments inside multi": [("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXEC",), ("EXISTS", "a")],
    "discard with arguments inside multi": [("MULTI",), ("DISCARD", "x"), ("DISCARD",), ("EXEC",)],
    "not allowed inside a transaction": [("MULTI",), ("SHUTDOWN",), ("SHUTDOWN", "NOSAVE"), ("EXEC",)],
    "run time errors": [("SET", "s", "x"), ("MULTI",), ("LPUSH", "s", "a"), ("INCR", "s"), ("SET", "t", "1"), ("GET", "t"), ("EXPIRE", "t", "abc"), ("EXEC",), ("GET", "t")],
    "blocking commands answer at once": [("MULTI",), ("BLPOP", "l", "0"), ("BRPOP", "l", "m", "1"), ("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "l", "d", "0"), ("BZPOPMIN", "z", "0"), ("BZPOPMAX", "z", "0"), ("BLMPOP", "0", "1", "l", "LEFT"), ("BZMPOP", "0", "1", "z", "MIN"), ("EXEC",)],
    "blocking commands with data": [("RPUSH", "l", "a", "b"), ("ZADD", "z", "1", "m"), ("MULTI",), ("BLPOP", "l", "0"), ("BRPOPLPUSH", "l", "d", "0"), ("BZPOPMIN", "z", "0"), ("BLPOP", "l", "0"), ("EXEC",)],
    "monitor and subscribe inside": [("MULTI",), ("MONITOR",), ("SUBSCRIBE", "ch"), ("PING",), ("EXEC",), ("PING",), ("UNSUBSCRIBE",), ("PING",)],
    "select inside": [("MULTI",), ("SELECT", "1"), ("SET", "a", "in1"), ("SELECT", "99"), ("EXEC",), ("GET", "a"), ("SELECT", "0"), ("GET", "a")],
    "flushall and swapdb inside": [("SET", "a", "1"), ("MULTI",), ("SWAPDB", "0", "1"), ("GET", "a"), ("FLUSHALL",), ("SELECT", "1"), ("GET", "a"), ("EXEC",)],
    "watch own write": [("WATCH", "a"), ("SET", "a", "1"), ("MULTI",), ("PING",), ("EXEC",), ("MULTI",), ("PING",), ("EXEC",)],
    "watch then unwatch": [("WATCH", "a"), ("SET", "a", "1"), ("WATCH", "b"), ("UNWATCH",), ("MULTI",), ("PING",), ("EXEC",)],
    "unwatch queued": [("WATCH", "a"), ("MULTI",), ("UNWATCH",), ("SET", "a", "2"), ("EXEC",), ("GET", "a")],
    "dirty and aborted": [("WATCH", "a"), ("SET", "a", "1"), ("MULTI",), ("NOSUCH",), ("EXEC",)],
    "watch writes that count": [
        ("SET", "a", "1"), ("WATCH", "a"), ("SET", "a", "1"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("EXPIRE", "a", "100"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("PERSIST", "a"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("PERSIST", "a"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("APPEND", "a", "x"), ("MULTI",), ("EXEC",),
        ("WATCH", "b"), ("RENAME", "a", "b"), ("MULTI",), ("EXEC",),
        ("WATCH", "b"), ("GET", "b"), ("EXISTS", "b"), ("MULTI",), ("EXEC",),
        ("WATCH", "c"), ("DEL", "c"), ("LPOP", "c"), ("MULTI",), ("EXEC",),
        ("WATCH", "b"), ("MOVE", "b", "1"), ("MULTI",), ("EXEC",),
    ],
    "watch and flushes": [
        ("WATCH", "a"), ("FLUSHDB",), ("MULTI",), ("EXEC",),
        ("SET", "a", "1"), ("WATCH", "a"), ("FLUSHDB",), ("MULTI",), ("EXEC",),
        ("SET", "a", "1"), ("WATCH", "a"), ("FLUSHALL",), ("MULTI",), ("EXEC",),
        ("SELECT", "3"), ("SET", "a", "1"), ("WATCH", "a"), ("SELECT", "0"), ("FLUSHDB",), ("MULTI",), ("EXEC",),
        ("FLUSHALL",), ("MULTI",), ("EXEC",),
    ],
    "watch and swapdb": [
        ("SET", "a", "1"), ("WATCH", "a"), ("SWAPDB", "0", "1"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("SWAPDB", "0", "1"), ("MULTI",), ("EXEC",),
        ("WATCH", "zz"), ("SWAPDB", "0", "1"), ("MULTI",), ("EXEC",),
        ("WATCH", "a"), ("SWAPDB", "2", "3"), ("SWAPDB", "0", "0"), ("MULTI",), ("EXEC",),
    ],
    "reset": [("WATCH", "a"), ("SET", "a", "1"), ("RESET",), ("MULTI",), ("SET", "b", "1"), ("RESET",), ("EXEC",), ("MULTI",), ("EXEC",)],
}


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_transaction_replies(clients, name, resp):
    pair = clients()
    if resp == 3:
        theirs, ours = pair.compare("HELLO", "3")
        assert theirs[:2] == ours[:2] == b"%7"
    for cmd in CASES[name]:
        pair.check(*cmd)


# -- several clients -----------------------------------------------------------------------------

SCENARIOS = {
    "another client writes": [(0, "WATCH", "k"), (1, "SET", "k", "v"), (0, "MULTI"), (0, "GET", "k"), (0, "EXEC")],
    "another client creates a watched missing key": [(0, "WATCH", "k"), (0, "MULTI"), (1, "SET", "k", "v"), (0, "PING"), (0, "EXEC")],
    "another client reads": [(1, "SET", "k", "v"), (0, "WATCH", "k"), (1, "GET", "k"), (0, "MULTI"), (0, "EXEC")],
    "another database": [(0, "SELECT", "1"), (0, "WATCH", "k"), (0, "SELECT", "0"), (1, "SET", "k", "v"), (0, "MULTI"), (0, "EXEC")],
    "two watchers, one transaction wins": [
        (0, "WATCH", "k"), (1, "WATCH", "k"), (0, "MULTI"), (1, "MULTI"), (0, "INCR", "k"), (1, "INCR", "k"),
        (0, "EXEC"), (1, "EXEC"), (1, "GET", "k"),
    ],
    "watch several keys": [(0, "WATCH", "a", "b", "c"), (1, "SET", "c", "v"), (1, "SET", "a", "v"), (0, "MULTI"), (0, "EXEC"), (0, "MULTI"), (0, "EXEC")],
    "flushall by another client": [(1, "SELECT", "5"), (1, "SET", "k", "v"), (1, "WATCH", "k"), (0, "FLUSHALL"), (1, "MULTI"), (1, "EXEC")],
    "a watched key expires": [(0, "SET", "k", "v", "PX", "30"), (0, "WATCH", "k"), ("sleep", 0.08), (0, "MULTI"), (0, "EXEC")],
    "a watched key expires and another client reads it": [
        (0, "SET", "k", "v", "PX", "30"), (0, "WATCH", "k"), ("sleep", 0.08), (1, "GET", "k"), (0, "MULTI"), (0, "EXEC"),
    ],
    "a key with a distant ttl": [(0, "SET", "k", "v", "EX", "1000"), (0, "WATCH", "k"), (0, "MULTI"), (0, "EXEC")],
}

#: With active expiry off a key can be watched while already expired.
EXPIRED_WHEN_WATCHED = {
    "and left alone": [],
    "and lazily deleted": [(1, "EXISTS", "k")],
    "and written": [(1, "SET", "k", "new")],
    "and deleted then written": [(1, "GET", "k"), (1, "SET", "k", "new")],
    "and flushed": [(1, "FLUSHDB")],
    "and swapped with a missing key": [(1, "SWAPDB", "0", "1")],
    "and swapped with a live key": [(1, "SELECT", "1"), (1, "SET", "k", "other"), (1, "SWAPDB", "0", "1")],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_watch_scenarios_with_two_clients(clients, name):
    clients(), clients()
    clients.run(SCENARIOS[name])


@pytest.fixture
def no_active_expiry(clients):
    pair = clients.pairs[0]
    pair.check("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield
    pair.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@pytest.mark.parametrize("name", sorted(EXPIRED_WHEN_WATCHED))
def test_a_key_expired_when_watched(clients, no_active_expiry, name):
    clients(), clients()
    steps = [(0, "SET", "k", "v", "PX", "1"), ("sleep", 0.02), (0, "WATCH", "k")]
    steps += EXPIRED_WHEN_WATCHED[name]
    steps += [(0, "MULTI"), (0, "PING"), (0, "EXEC"), (0, "SELECT", "0"), (0, "EXISTS", "k")]
    clients.run(steps)


def test_a_missing_watched_key_swapped_with_an_expired_one(clients, no_active_expiry):
    clients(), clients()
    clients.run([
        (1, "SELECT", "1"), (1, "SET", "k", "v", "PX", "1"), ("sleep", 0.02),
        (0, "WATCH", "k"), (1, "SWAPDB", "0", "1"), (0, "MULTI"), (0, "EXEC"),
        (0, "WATCH", "k"), (1, "SWAPDB", "0", "1"), (0, "MULTI"), (0, "EXEC"),
    ])


def _tx_fields(reply: bytes) -> bytes:
    """The transaction fields of the named clients' CLIENT LIST lines."""
    lines = []
    for line in reply.split(b"\n"):
        fields = dict(f.split(b"=", 1) for f in line.split() if b"=" in f)
        if fields.get(b"name", b"").startswith(b"tx"):
            lines.append(b" ".join(b"%s=%s" % (k, fields[k]) for k in (b"name", b"flags", b"db", b"multi", b"multi-mem")))
    return b"\n".join(sorted(lines))


def test_client_list_transaction_fields(clients):
    a, b = clients("tx-a"), clients("tx-b")

    def show():
        b.check("CLIENT", "LIST", normalize=_tx_fields)

    show()
    a.check("MULTI")
    show()
    a.check("SET", "k", "1")
    a.check("GET", "k")
    show()
    a.check("SET", "k")
    a.check("GET", "k")
    show()
    a.check("DISCARD")
    a.check("WATCH", "k")
    show()
    b.check("SET", "k", "2")
    show()
    a.check("MULTI")
    a.check("SET", "abcdefghij", "x" * 100)
    show()
    a.check("EXEC")
    show()
    a.check("MULTI")
    a.check("CLIENT", "INFO")
    a.check("EXEC", normalize=lambda r: b" ".join(f for f in r.split() if f.split(b"=")[0] in (b"flags", b"multi", b"multi-mem", b"db")))


# -- statistics, MONITOR ---------------------------------------------------------------------------


def _stats(reply: bytes) -> bytes:
    lines = []
    for line in reply.split(b"\r\n"):
        if line.startswith((b"cmdstat_", b"errorstat_")) and not line.startswith(b"cmdstat_config|resetstat"):
            name, _, rest = line.partition(b":")
            kept = [kv for kv in rest.split(b",") if not kv.startswith((b"usec", b"usec_per_call"))]
            lines.append(name + b":" + b",".join(kept))
    return b"\n".join(sorted(lines))


STATS_CASES = {
    "queued then run": [("MULTI",), ("SET", "k", "1"), ("GET", "k"), ("INCR", "k"), ("EXEC",)],
    "queued then discarded": [("MULTI",), ("SET", "k", "1"), ("DISCARD",)],
    "refused while queueing": [("MULTI",), ("SET", "k"), ("NOSUCH",), ("SHUTDOWN",), ("GET", "k"), ("EXEC",)],
    "run time errors": [("SET", "k", "v"), ("MULTI",), ("LPUSH", "k", "x"), ("GET", "k"), ("INCR", "k"), ("EXEC",)],
    "refused exec": [("EXEC", "x"), ("MULTI",), ("EXEC", "x"), ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "k"), ("DISCARD",)],
    "watch failure": [("WATCH", "k"), ("SET", "k", "2"), ("MULTI",), ("GET", "k"), ("EXEC",), ("UNWATCH",)],
}


@pytest.mark.parametrize("name", sorted(STATS_CASES))
def test_commandstats_and_errorstats(clients, name):
    pair, admin = clients(), clients()
    admin.compare("CONFIG", "RESETSTAT")
    for cmd in STATS_CASES[name]:
        pair.check(*cmd)
    admin.check("INFO", "commandstats", normalize=_stats)
    admin.check("INFO", "errorstats", normalize=_stats)


def _monitor_lines(raw: bytes) -> list[bytes]:
    """MONITOR lines without their time stamp and client address (database kept)."""
    out = []
    for line in raw.split(b"\r\n"):
        if line:
            head, _, command = line.partition(b"] ")
            out.append(head.split(b"[", 1)[1].split(b" ")[0] + b" " + command)
    return out


def test_monitor_sees_transactions_as_redis_shows_them(clients, servers):
    real, node = servers
    watchers = RawClient(real.port), RawClient(node.port)
    try:
        for w in watchers:
            assert w.call("MONITOR") == b"+OK\r\n"
        pair = clients()
        for cmd in [
            ("MULTI",), ("SET", "k", "1"), ("GET", "k"), ("EXEC",), ("MULTI",), ("SET", "k"), ("EXEC",),
            ("MULTI",), ("EXEC", "x"), ("EXEC", "y"), ("WATCH", "k"), ("UNWATCH",), ("MULTI",), ("DISCARD",),
            ("MULTI",), ("CONFIG", "GET", "maxmemory"), ("SELECT", "2"), ("EXEC",), ("PING",),
        ]:
            pair.check(*cmd)
        theirs, ours = (_monitor_lines(w.read_all(0.3)) for w in watchers)
        assert ours == theirs
    finally:
        for w in watchers:
            w.close()


# -- gates ------------------------------------------------------------------------------------------


def test_exec_refused_in_resp2_subscriber_context_discards(clients):
    pair = clients()
    for cmd in [("SUBSCRIBE", "ch"), ("EXEC",), ("MULTI",), ("DISCARD",), ("WATCH", "k"), ("RESET",), ("EXEC",)]:
        pair.check(*cmd)


def test_exec_refused_without_authentication(clients):
    admin = clients()
    admin.check("CONFIG", "SET", "requirepass", "secret")
    try:
        stranger = clients()
        for cmd in [("EXEC",), ("EXEC", "x"), ("MULTI",), ("WATCH", "k"), ("DISCARD",), ("UNWATCH",)]:
            stranger.check(*cmd)
    finally:
        admin.check("AUTH", "secret")
        admin.check("CONFIG", "SET", "requirepass", "")


def test_out_of_memory_refuses_queueing_and_execs_that_would_grow(clients, servers):
    """Real Redis with maxmemory 1 is out of memory for good. Vermilion has no eviction yet:
    its eviction hook is made to report failure, as it will when nothing can be evicted."""
    _, node = servers
    pair, admin = clients(), clients()
    pair.check("SET", "k", "v")
    try:
        pair.check("MULTI")
        pair.check("SET", "k", "1")
        pair.check("GET", "k")
        node.free_memory_if_needed = lambda: False
        admin.check("CONFIG", "SET", "maxmemory", "1")
        for cmd in [
            ("EXEC",), ("MULTI",), ("GET", "k"), ("PING",), ("EXEC",),
            ("MULTI",), ("DISCARD",), ("GET", "k"), ("SET", "k", "2"),
        ]:
            pair.check(*cmd)
        admin.check("CONFIG", "SET", "maxmemory", "0")
        pair.check("MULTI")
        pair.check("GET", "k")
        pair.check("DEL", "k")
        admin.check("CONFIG", "SET", "maxmemory", "1")
        pair.check("EXEC")  # nothing queued may grow the dataset: it runs
    finally:
        admin.check("CONFIG", "SET", "maxmemory", "0")
        del node.free_memory_if_needed


# -- propagation --------------------------------------------------------------------------------------


class _Recorder:
    """Vermilion's propagation point, recorded as (db, argv)."""

    def __init__(self, node):
        self.stream: list[tuple[int, list[bytes]]] = []
        node.propagate = lambda dbid, argv: self.stream.append((dbid, [bytes(a) for a in argv]))
        node.propagating = True
        node.recompute_gates()


_MARK = b"__tx_mark__"


def _replica_stream(side: _RealSide) -> list[tuple[int, list[bytes]]]:
    """What Redis sent its replica since the last mark, as (db, argv) (SELECT folded in)."""
    side.client.call("SELECT", "0")
    side.client.call("SET", _MARK, "1")
    out, db = [], 0
    while True:
        argv = decode(side.replica.read_reply())
        name = argv[0].upper()
        if name == b"SELECT":
            db = int(argv[1])
        elif argv[:2] == [b"SET", _MARK]:
            return out
        elif name not in (b"PING", b"REPLCONF"):
            out.append((db, argv))


@pytest.fixture(scope="module")
def propagation(servers):
    real, node = servers
    side = _RealSide(real.port)
    recorder = _Recorder(node)
    ours = RawClient(node.port)
    _replica_stream(side)
    yield side, recorder, ours
    ours.close()
    side.close()


PROPAGATION = {
    "one write goes alone": [("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",)],
    "several writes are wrapped": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("DEL", "nokey"), ("EXEC",)],
    "read only sends nothing": [("MULTI",), ("GET", "a"), ("EXISTS", "a"), ("EXEC",)],
    "failed commands are left out": [("SET", "s", "x"), ("MULTI",), ("SET", "b", "1"), ("LPUSH", "s", "y"), ("SET", "c", "1"), ("EXEC",)],
    "rewritten commands": [("MULTI",), ("SET", "a", "2", "EX", "100"), ("INCRBYFLOAT", "f", "1.5"), ("EXPIRE", "f", "100"), ("EXEC",)],
    "databases change inside": [("MULTI",), ("SET", "a", "2"), ("SELECT", "1"), ("SET", "a", "3"), ("SELECT", "0"), ("EXEC",)],
    "one write in another database": [("MULTI",), ("SELECT", "2"), ("SET", "a", "3"), ("SELECT", "0"), ("EXEC",)],
    "flushall alone and with a write": [("MULTI",), ("FLUSHALL",), ("EXEC",), ("MULTI",), ("FLUSHDB",), ("SET", "z", "1"), ("EXEC",)],
    "discarded, aborted and watched out": [
        ("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("MULTI",), ("SET", "a", "1"), ("NOSUCH",), ("EXEC",),
        ("WATCH", "a"), ("SET", "a", "0"), ("MULTI",), ("SET", "b", "1"), ("EXEC",),
    ],
    "lazy expiry inside joins the transaction": [
        ("DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("SET", "x", "1", "PX", "1"), ("SET", "w", "1", "PX", "1"), ("DEBUG", "SLEEP", "0.01"),
        ("MULTI",), ("GET", "x"), ("SET", "y", "1"), ("EXEC",), ("MULTI",), ("GET", "w"), ("EXEC",),
        ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ],
    "pops inside become their effect": [("RPUSH", "l", "a", "b"), ("SADD", "s", "m"), ("MULTI",), ("BLPOP", "l", "0"), ("SPOP", "s"), ("RPOPLPUSH", "l", "d"), ("EXEC",)],
}


@pytest.mark.parametrize("name", sorted(PROPAGATION))
def test_propagated_stream_matches_a_redis_replica(propagation, name):
    side, recorder, ours = propagation
    side.client.call("FLUSHALL")
    ours.call("FLUSHALL")
    _replica_stream(side)
    recorder.stream.clear()
    for cmd in PROPAGATION[name]:
        assert ours.call(*cmd) == side.client.call(*cmd), cmd
    ours.call("SELECT", "0")
    theirs = _replica_stream(side)
    mine = recorder.stream
    assert [(db, _untimed(argv)) for db, argv in mine] == [(db, _untimed(argv)) for db, argv in theirs]
    assert bool(theirs) == (name != "read only sends nothing")  # the replica link works


def _untimed(argv: list[bytes]) -> list[bytes]:
    """Absolute unix times in ms (PXAT, PEXPIREAT) differ between the servers."""
    return [b"<time>" if a.isdigit() and int(a) > 10**12 else a for a in argv]


# -- generated sequences --------------------------------------------------------------------------------

_KEYS = st.sampled_from([b"a", b"b"])
_VALUES = st.sampled_from([b"1", b"x", b"-3"])


def _cmd(*parts):
    return st.tuples(*(p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts))


_COMMANDS = st.one_of(
    st.sampled_from([(b"MULTI",), (b"EXEC",), (b"DISCARD",), (b"UNWATCH",), (b"EXEC", b"x"), (b"WATCH",), (b"PING",)]),
    _cmd(b"WATCH", _KEYS),
    _cmd(b"WATCH", _KEYS, _KEYS),
    _cmd(b"SET", _KEYS, _VALUES),
    _cmd(b"GET", _KEYS),
    _cmd(b"INCR", _KEYS),
    _cmd(b"LPUSH", _KEYS, _VALUES),
    _cmd(b"DEL", _KEYS),
    _cmd(b"EXPIRE", _KEYS, st.sampled_from([b"100", b"x"])),
    _cmd(b"SELECT", st.sampled_from([b"0", b"1"])),
    st.sampled_from([(b"SWAPDB", b"0", b"1"), (b"FLUSHDB",), (b"NOSUCH", b"a"), (b"SET", b"a"), (b"GET",), (b"SHUTDOWN",)]),
    st.just((b"CLIENT", b"LIST")),
)
_STEPS = st.lists(st.tuples(st.integers(0, 1), _COMMANDS), min_size=1, max_size=25)


def _safe(steps):
    """SHUTDOWN only where it is refused (inside MULTI), CLIENT LIST only outside: track each
    client's MULTI state."""
    in_multi = [False, False]
    out = []
    for who, cmd in steps:
        name = cmd[0]
        if name == b"SHUTDOWN" and not in_multi[who]:
            continue
        if name == b"CLIENT" and in_multi[who]:
            continue  # its ids and addresses would come back inside EXEC's reply
        if name == b"MULTI" and len(cmd) == 1:
            in_multi[who] = True
        elif name in (b"EXEC", b"DISCARD") and (len(cmd) == 1 or name == b"EXEC"):
            in_multi[who] = False
        out.append((who, cmd))
    return out


def _run_generated(servers, steps, resp3: bool) -> None:
    group = Clients(servers)
    try:
        a, b = group("tx-a"), group("tx-b")
        a.check("FLUSHALL")
        if resp3:
            a.compare("HELLO", "3")
        for who, cmd in _safe(steps):
            if cmd == (b"sleep",):
                time.sleep(0.15)
            elif cmd == (b"CLIENT", b"LIST"):
                group.pairs[who].check(*cmd, normalize=_tx_fields)
            else:
                group.pairs[who].check(*cmd)
    finally:
        group.close()


@fuzz(80)
@given(steps=_STEPS, resp3=st.booleans())
def test_generated_transactions_from_two_clients(servers, steps, resp3):
    _run_generated(servers, steps, resp3)


#: Keys that expire 100 ms after being set; "sleep" waits 150 ms. Active expiry is off on
#: both servers, so only the commands decide when an expired key goes. The margins are wide
#: because each command reaches real Redis a moment before it reaches us: on a loaded machine
#: a 20 ms expiry could pass between the two.
_EXPIRING = st.one_of(
    _COMMANDS,
    _cmd(b"SET", _KEYS, _VALUES, b"PX", b"100"),
    _cmd(b"PEXPIRE", _KEYS, b"100"),
    st.just((b"sleep",)),
)


@fuzz(30)
@given(steps=st.lists(st.tuples(st.integers(0, 1), _EXPIRING), min_size=1, max_size=20))
def test_generated_transactions_mixed_with_expiry(servers, steps):
    admin = Clients(servers)
    admin().check("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        _run_generated(servers, steps, False)
    finally:
        admin.pairs[0].check("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        admin.close()
