"""Keyspace notifications, compared with real Redis 7.0 as a subscriber sees them.

One connection on each server PSUBSCRIBEs ``__key*@*__:*``; another runs commands. After
each step the subscriber's messages are collected without sleeping (``received``: a PING on
the subscriber's connection answers after every message already delivered) and compared
byte for byte, in order.

* ``CASES`` holds representative invocations (with their setup) of every write command;
  each implemented command's cases run under ``KEA`` and under ``KEAnm`` (new-key and
  key-miss events on top). A test fails when an implemented write command has no case, so
  a newly added command gets its notifications checked.
* ``READ_CASES`` exercise ``keymiss`` (``m``) for read commands.
* Flag classes: one script touching every class under many flag strings.
* Expiry (lazy and active), blocked clients served by a push, db numbers in channel names,
  the order keyspace-then-keyevent, and a RESP3 client notified of its own writes.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from server.commands.table import build_table
from tests.support.pubsub import Twin, received
from tests.support.resp import RawClient, encode_command

PATTERN = "__key*@*__:*"


def cmd(text: str) -> tuple:
    """'SET k v' -> ('SET', 'k', 'v'); arguments that need spaces or are empty use tuples."""
    return tuple(text.split())


def case(setup: str | tuple, command: str | tuple) -> tuple:
    """A case: setup commands separated by ';', then the command under test."""
    if isinstance(setup, str):
        steps = [cmd(s) for s in setup.split(";") if s.strip()]
    else:
        steps = list(setup)
    return tuple(steps), (command if isinstance(command, tuple) else cmd(command))


#: DUMP payloads from Redis 7.0.15: the string "v" and the list [a, b].
DUMP_STRING = b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce"
DUMP_LIST = b"\x12\x01\x02\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\n\x00h\xeb\n\x89\x13A\xbb\xb1"

#: Write commands -> cases. Keep one entry per write command of Redis 7.0 that Vermilion
#: implements (commands not implemented yet are listed ahead and run once they land).
CASES: dict[str, list[tuple]] = {
    # strings
    "set": [case("", "SET k v"), case("SET k a", "SET k v"), case("", "SET k v EX 100"),
            case("SET k a", "SET k v NX"), case("", "SET k v XX"), case("SET k a EX 100", "SET k v KEEPTTL"),
            case("SET k a", "SET k v GET"), case("", "SET k v GET"), case("", "SET k v PX 100000 NX"),
            case("RPUSH k a", "SET k v GET")],
    "setnx": [case("", "SETNX k v"), case("SET k a", "SETNX k v")],
    "setex": [case("", "SETEX k 100 v"), case("SET k a", "SETEX k 0 v")],
    "psetex": [case("", "PSETEX k 100000 v")],
    "getset": [case("SET k a", "GETSET k v"), case("", "GETSET k v")],
    "getdel": [case("SET k a", "GETDEL k"), case("", "GETDEL k")],
    "getex": [case("SET k a", "GETEX k EX 100"), case("SET k a EX 100", "GETEX k PERSIST"),
              case("SET k a", "GETEX k PXAT 1"), case("SET k a", "GETEX k"), case("", "GETEX k EX 10"),
              case("SET k a", "GETEX k PERSIST")],
    "append": [case("", "APPEND k x"), case("SET k a", "APPEND k b")],
    "setrange": [case("", "SETRANGE k 3 x"), case("SET k abc", "SETRANGE k 1 x"), case("", ("SETRANGE", "k", "0", "")),
                 case("SET k abc", ("SETRANGE", "k", "1", ""))],
    "incr": [case("", "INCR n"), case("SET n 5", "INCR n"), case("SET n x", "INCR n")],
    "decr": [case("", "DECR n"), case("SET n 5", "DECR n")],
    "incrby": [case("", "INCRBY n 3"), case("SET n 5", "INCRBY n -2")],
    "decrby": [case("", "DECRBY n 3")],
    "incrbyfloat": [case("", "INCRBYFLOAT n 1.5"), case("SET n 5", "INCRBYFLOAT n 0.5"), case("SET n x", "INCRBYFLOAT n 1")],
    "mset": [case("", "MSET a 1 b 2 a 3")],
    "msetnx": [case("", "MSETNX a 1 b 2"), case("SET b x", "MSETNX a 1 b 2")],
    # bitmaps
    "setbit": [case("", "SETBIT b 7 1"), case("SETBIT b 7 1", "SETBIT b 7 1"), case("SET b x", "SETBIT b 100 0")],
    "bitfield": [case("", "BITFIELD b SET u8 0 255"), case("", "BITFIELD b GET u8 0"),
                 case("SET b x", "BITFIELD b INCRBY u8 0 1 GET u8 0"),
                 case("", "BITFIELD b OVERFLOW FAIL INCRBY u2 0 10")],
    "bitop": [case("SET a x;SET b y", "BITOP AND d a b"), case("SET d z", "BITOP OR d m1 m2"),
              case("SET a x", "BITOP NOT d a"), case("", "BITOP XOR d m1")],
    # keys
    "del": [case("SET a 1;SET b 2", "DEL a b c"), case("", "DEL a")],
    "unlink": [case("SET a 1;RPUSH b x", "UNLINK a b c")],
    "expire": [case("SET k v", "EXPIRE k 100"), case("SET k v", "EXPIRE k -1"), case("SET k v", "EXPIRE k 100 XX"),
               case("", "EXPIRE k 100"), case("SET k v EX 100", "EXPIRE k 50 GT")],
    "pexpire": [case("SET k v", "PEXPIRE k 100000"), case("SET k v", "PEXPIRE k 0")],
    "expireat": [case("SET k v", "EXPIREAT k 1"), case("SET k v", "EXPIREAT k 99999999999")],
    "pexpireat": [case("SET k v", "PEXPIREAT k 1"), case("SET k v", "PEXPIREAT k 99999999999999 NX")],
    "persist": [case("SET k v EX 100", "PERSIST k"), case("SET k v", "PERSIST k"), case("", "PERSIST k")],
    "rename": [case("SET a 1", "RENAME a b"), case("SET a 1;SET b 2", "RENAME a b"), case("SET a 1", "RENAME a a"),
               case("", "RENAME a b"), case("SET a 1 EX 100", "RENAME a b")],
    "renamenx": [case("SET a 1", "RENAMENX a b"), case("SET a 1;SET b 2", "RENAMENX a b")],
    "copy": [case("SET a 1", "COPY a b"), case("SET a 1;SET b 2", "COPY a b REPLACE"), case("SET a 1;SET b 2", "COPY a b"),
             case("SET a 1", "COPY a b DB 1"), case("RPUSH l x", "COPY l l2"), case("", "COPY a b")],
    "move": [case("SET a 1", "MOVE a 1"), case("", "MOVE a 1")],
    "swapdb": [case("SET a 1", "SWAPDB 0 1")],
    "flushdb": [case("SET a 1", "FLUSHDB")],
    "flushall": [case("SET a 1", "FLUSHALL")],
    "restore": [case("", ("RESTORE", "k", "0", DUMP_STRING)), case("SET k a", ("RESTORE", "k", "0", DUMP_STRING, "REPLACE")),
                case("SET k a", ("RESTORE", "k", "0", DUMP_STRING)), case("", ("RESTORE", "k", "100000", DUMP_LIST)),
                case("SET k a", ("RESTORE", "k", "1", DUMP_STRING, "ABSTTL", "REPLACE")),
                case("", ("RESTORE", "k", "1", DUMP_STRING, "ABSTTL"))],
    # lists
    "lpush": [case("", "LPUSH l a b"), case("RPUSH l x", "LPUSH l a"), case("SET l x", "LPUSH l a")],
    "rpush": [case("", "RPUSH l a b"), case("RPUSH l x", "RPUSH l a")],
    "lpushx": [case("", "LPUSHX l a"), case("RPUSH l x", "LPUSHX l a b")],
    "rpushx": [case("", "RPUSHX l a"), case("RPUSH l x", "RPUSHX l a")],
    "lpop": [case("RPUSH l a b", "LPOP l"), case("RPUSH l a", "LPOP l"), case("RPUSH l a b c", "LPOP l 2"),
             case("RPUSH l a", "LPOP l 5"), case("", "LPOP l"), case("RPUSH l a", "LPOP l 0")],
    "rpop": [case("RPUSH l a b", "RPOP l"), case("RPUSH l a", "RPOP l 3")],
    "linsert": [case("RPUSH l a c", "LINSERT l BEFORE c b"), case("RPUSH l a", "LINSERT l AFTER zz b"),
                case("", "LINSERT l AFTER a b")],
    "lset": [case("RPUSH l a", "LSET l 0 b"), case("RPUSH l a", "LSET l 5 b")],
    "lrem": [case("RPUSH l a b a", "LREM l 0 a"), case("RPUSH l a", "LREM l 1 a"), case("RPUSH l a", "LREM l 1 z")],
    "ltrim": [case("RPUSH l a b c", "LTRIM l 0 1"), case("RPUSH l a b", "LTRIM l 5 10"), case("RPUSH l a b", "LTRIM l 0 -1")],
    "lmove": [case("RPUSH s a b", "LMOVE s d LEFT RIGHT"), case("RPUSH s a", "LMOVE s d LEFT LEFT"),
              case("RPUSH s a b", "LMOVE s s LEFT RIGHT"), case("RPUSH s a;RPUSH d b", "LMOVE s d RIGHT LEFT"),
              case("", "LMOVE s d LEFT LEFT")],
    "rpoplpush": [case("RPUSH s a", "RPOPLPUSH s d"), case("RPUSH s a b", "RPOPLPUSH s s")],
    "lmpop": [case("RPUSH l a b", "LMPOP 2 x l LEFT COUNT 5"), case("RPUSH l a b", "LMPOP 1 l RIGHT")],
    "blpop": [case("RPUSH l a b", "BLPOP x l 1"), case("RPUSH l a", "BLPOP l 1")],
    "brpop": [case("RPUSH l a", "BRPOP l 1")],
    "blmove": [case("RPUSH s a", "BLMOVE s d LEFT RIGHT 1")],
    "brpoplpush": [case("RPUSH s a b", "BRPOPLPUSH s d 1")],
    "blmpop": [case("RPUSH l a b", "BLMPOP 1 2 x l LEFT COUNT 2")],
    # hashes
    "hset": [case("", "HSET h f v g w"), case("HSET h f v", "HSET h f v2")],
    "hsetnx": [case("", "HSETNX h f v"), case("HSET h f v", "HSETNX h f x")],
    "hmset": [case("", "HMSET h f v")],
    "hdel": [case("HSET h f v g w", "HDEL h f"), case("HSET h f v", "HDEL h f"), case("HSET h f v", "HDEL h zz")],
    "hincrby": [case("", "HINCRBY h f 5"), case("HSET h f x", "HINCRBY h f 1")],
    "hincrbyfloat": [case("", "HINCRBYFLOAT h f 1.5"), case("HSET h f 1", "HINCRBYFLOAT h f 2")],
    # sets
    "sadd": [case("", "SADD s a b"), case("SADD s a", "SADD s a")],
    "srem": [case("SADD s a b", "SREM s a"), case("SADD s a", "SREM s a"), case("SADD s a", "SREM s z")],
    "spop": [case("SADD s a", "SPOP s"), case("SADD s a b c", "SPOP s 2"), case("SADD s a b", "SPOP s 5"),
             case("SADD s a b", "SPOP s 0"), case("", "SPOP s")],
    "smove": [case("SADD s a;SADD d b", "SMOVE s d a"), case("SADD s a b", "SMOVE s d a"), case("SADD s a", "SMOVE s d z"),
              case("SADD s a;SADD d a", "SMOVE s d a"), case("SADD s a", "SMOVE s s a")],
    "sinterstore": [case("SADD a 1 2;SADD b 2 3", "SINTERSTORE d a b"), case("SET d x", "SINTERSTORE d m1 m2")],
    "sunionstore": [case("SADD a 1", "SUNIONSTORE d a"), case("SADD d 9", "SUNIONSTORE d m")],
    "sdiffstore": [case("SADD a 1;SADD d 9", "SDIFFSTORE d a a"), case("SADD a 1 2;SADD b 2", "SDIFFSTORE d a b")],
    # sorted sets
    "zadd": [case("", "ZADD z 1 a 2 b"), case("ZADD z 1 a", "ZADD z NX 2 a"), case("ZADD z 1 a", "ZADD z INCR 2 a"),
             case("ZADD z 1 a", "ZADD z 1 a"), case("ZADD z 1 a", "ZADD z XX CH 3 a")],
    "zincrby": [case("", "ZINCRBY z 1 a"), case("ZADD z 1 a", "ZINCRBY z 2 a")],
    "zrem": [case("ZADD z 1 a 2 b", "ZREM z a"), case("ZADD z 1 a", "ZREM z a"), case("ZADD z 1 a", "ZREM z q")],
    "zremrangebyscore": [case("ZADD z 1 a 2 b", "ZREMRANGEBYSCORE z 1 1"), case("ZADD z 1 a", "ZREMRANGEBYSCORE z 0 5"),
                         case("ZADD z 1 a", "ZREMRANGEBYSCORE z 5 6")],
    "zremrangebyrank": [case("ZADD z 1 a 2 b", "ZREMRANGEBYRANK z 0 0"), case("ZADD z 1 a", "ZREMRANGEBYRANK z 0 -1")],
    "zremrangebylex": [case("ZADD z 0 a 0 b", "ZREMRANGEBYLEX z [a [a"), case("ZADD z 0 a", "ZREMRANGEBYLEX z - +")],
    "zpopmin": [case("ZADD z 1 a 2 b", "ZPOPMIN z"), case("ZADD z 1 a", "ZPOPMIN z 5"), case("", "ZPOPMIN z")],
    "zpopmax": [case("ZADD z 1 a 2 b", "ZPOPMAX z"), case("ZADD z 1 a", "ZPOPMAX z")],
    "bzpopmin": [case("ZADD z 1 a 2 b", "BZPOPMIN x z 1")],
    "bzpopmax": [case("ZADD z 1 a", "BZPOPMAX z 1")],
    "zmpop": [case("ZADD z 1 a", "ZMPOP 1 z MIN"), case("ZADD z 1 a 2 b", "ZMPOP 1 z MAX COUNT 1")],
    "bzmpop": [case("ZADD z 1 a 2 b", "BZMPOP 1 1 z MIN COUNT 5")],
    "zrangestore": [case("ZADD z 1 a 2 b", "ZRANGESTORE d z 0 -1"), case("ZADD d 1 x", "ZRANGESTORE d z 0 -1")],
    "zunionstore": [case("ZADD a 1 x;ZADD b 2 y", "ZUNIONSTORE d 2 a b"), case("ZADD d 1 x", "ZUNIONSTORE d 1 m")],
    "zinterstore": [case("ZADD a 1 x;ZADD b 2 x", "ZINTERSTORE d 2 a b"), case("ZADD a 1 x;ZADD d 1 q", "ZINTERSTORE d 2 a b")],
    "zdiffstore": [case("ZADD a 1 x 2 y;ZADD b 2 y", "ZDIFFSTORE d 2 a b"), case("ZADD d 1 x", "ZDIFFSTORE d 1 m")],
    # HyperLogLog, SORT (run once implemented)
    "pfadd": [case("", "PFADD h a b"), case("PFADD h a", "PFADD h a"), case("", "PFADD h")],
    "pfmerge": [case("PFADD a x;PFADD b y", "PFMERGE d a b"), case("", "PFMERGE d")],
    "pfdebug": [case("PFADD h a", "PFDEBUG TODENSE h"), case("PFADD h a", "PFDEBUG ENCODING h"),
                case("PFADD h a", "PFDEBUG GETREG h")],
    "sort": [case("RPUSH l 3 1 2", "SORT l STORE d"), case("SET d x", "SORT nol STORE d"), case("RPUSH l 3 1 2", "SORT l")],
}

#: Read commands that look keys up, for ``keymiss`` (run once implemented).
READ_CASES: list[tuple] = [
    case("", c) for c in (
        "GET k", "MGET a b", "STRLEN k", "GETRANGE k 0 1", "EXISTS a b", "TYPE k", "TTL k", "PTTL k",
        "EXPIRETIME k", "OBJECT ENCODING k", "DUMP k", "TOUCH a b", "GETBIT k 1", "BITCOUNT k", "BITPOS k 1",
        "BITFIELD_RO k GET u8 0", "LCS a b", "HGET h f", "HMGET h f", "HGETALL h", "HLEN h", "HEXISTS h f",
        "HRANDFIELD h", "LRANGE l 0 -1", "LLEN l", "LINDEX l 0", "LPOS l a", "SMEMBERS s", "SISMEMBER s a",
        "SCARD s", "SRANDMEMBER s", "SINTER a b", "SUNION a b", "SDIFF a b", "SINTERCARD 2 a b",
        "ZRANGE z 0 -1", "ZSCORE z a", "ZCARD z", "ZRANK z a", "ZCOUNT z 0 1", "ZRANDMEMBER z",
        "ZUNION 2 a b", "ZINTER 2 a b", "ZDIFF 2 a b", "ZINTERCARD 2 a b", "SORT_RO l", "PFCOUNT h",
        "GETDEL k", "GETEX k", "RENAME k k2", "LPOP l", "SET k v GET", "HINCRBY h f 1", "SPOP s",
    )
]

FLAG_SETS = ("KEA", "KEAnm")


#: The command table the node runs (what is implemented decides which cases are collected).
TABLE = build_table()


def implemented(command: tuple) -> bool:
    if command[0] == "SLEEP":
        return True
    spec = TABLE.get(command[0].encode())
    if spec is None:
        return False
    if spec.subcommands is not None and len(command) > 1:
        return spec.subcommands.get(command[1].lower().encode()) is not None
    return True


class Watch:
    """An executing connection and a ``__key*@*__:*`` subscriber on each server."""

    def __init__(self, redis_port: int, our_port: int):
        self.run_conn = Twin(redis_port, our_port)
        self.sub = Twin(redis_port, our_port)
        self.sub.check("PSUBSCRIBE", PATTERN)
        self.flags = None

    def close(self) -> None:
        self.set_flags("")
        self.run_conn.close()
        self.sub.close()

    def set_flags(self, flags: str) -> None:
        if flags != self.flags:
            assert self.run_conn.both("CONFIG", "SET", "notify-keyspace-events", flags) == (b"+OK\r\n",) * 2
            self.flags = flags

    @contextlib.contextmanager
    def lazy_expiry_only(self):
        """Turn the active expire cycle off on both servers, so keys expire when touched."""
        assert self.run_conn.both("DEBUG", "SET-ACTIVE-EXPIRE", "0") == (b"+OK\r\n",) * 2
        try:
            yield
        finally:
            self.run_conn.both("DEBUG", "SET-ACTIVE-EXPIRE", "1")

    def step(self, command: tuple) -> tuple:
        """Run one command (or ``("SLEEP", seconds)``); return (replies, notifications) per side."""
        if command[0] == "SLEEP":
            # What expires meanwhile is collected with the next command: the active cycle
            # of either server may or may not get to it first, the events are the same.
            time.sleep(command[1])
            return (None, None), ([], [])
        return self.run_conn.both(*command), self.sub.received()

    def compare(self, steps, what: str) -> None:
        log = []
        for command in steps:
            (r_reply, o_reply), (r_notes, o_notes) = self.step(command)
            log.append(f"  {' '.join(map(str, command))}  -> redis {r_reply!r} / vermilion {o_reply!r}")
            assert o_notes == r_notes, (
                f"{what}: notifications differ after {command}\n"
                + "\n".join(log)
                + f"\n  redis:     {_messages(r_notes)}\n  vermilion: {_messages(o_notes)}"
            )


def _messages(notes: list[bytes]) -> list[str]:
    """pmessage replies -> 'channel message' strings for readable failures."""
    out = []
    for n in notes:
        parts = n.split(b"\r\n")
        out.append(f"{parts[6].decode('latin-1')} {parts[8].decode('latin-1')}" if len(parts) > 8 else repr(n))
    return out


@pytest.fixture(scope="module")
def watch(redis_ref, diff_node):
    w = Watch(redis_ref.port, diff_node.port)
    yield w
    w.close()


def _write_params():
    """Every case whose commands are all implemented (the others join once they land)."""
    for name, cases in CASES.items():
        for i, (setup, command) in enumerate(cases):
            if all(implemented(c) for c in (*setup, command)):
                for flags in FLAG_SETS:
                    yield pytest.param(name, (setup, command), flags, id=f"{name}-{i}-{flags}")


@pytest.mark.parametrize("name, the_case, flags", list(_write_params()))
def test_write_command_notifications_match_redis(watch, name, the_case, flags):
    setup, command = the_case
    watch.set_flags(flags)
    watch.compare([("FLUSHALL",), *setup], f"{name} setup")
    watch.compare([command], f"{name} [{flags}]")


def test_every_write_command_has_a_case():
    """Each implemented write command must have a case in CASES that runs here (fails when
    a write command lands without a notification case)."""
    covered = {p.values[0] for p in _write_params()}
    missing = sorted(
        spec.name for spec in TABLE.all_specs() if spec.write and spec.parent is None and spec.name not in covered
    )
    assert not missing, f"add keyspace-notification cases to CASES for: {missing}"


_READS = [c for c in READ_CASES if implemented(c[1])]


@pytest.mark.parametrize("the_case", _READS, ids=[" ".join(c[1]) for c in _READS])
def test_keymiss_from_read_commands_matches_redis(watch, the_case):
    setup, command = the_case
    watch.set_flags("KEAm")
    watch.compare([("FLUSHALL",), command], "keymiss")


# -- flag classes ------------------------------------------------------------------------------

EVERY_CLASS_SCRIPT = [
    cmd(c) for c in (
        "SET k v", "APPEND k x", "EXPIRE k 100", "PERSIST k", "LPUSH l a", "SADD s a", "HSET h f v", "ZADD z 1 a",
        "RENAME l l2", "DEL s", "GET nokey", "INCR n", "SET e v PX 1",
    )
] + [("SLEEP", 0.01), ("GET", "e"), ("HGET", "nohash", "f")]


@pytest.mark.parametrize(
    "flags",
    ["KEA", "K$", "Eg", "Kl", "Es", "Kh", "Ez", "Kx", "Em", "Kn", "En", "KEAmn", "Ag", "KE", "Kg$lshzxetd", "Ktd",
     "AK", "mn", "E$lx", "KEmn", "g$E"],
)
def test_flag_classes_select_events_like_redis(watch, flags):
    watch.set_flags(flags)
    with watch.lazy_expiry_only():
        watch.compare([("FLUSHALL",), *EVERY_CLASS_SCRIPT], f"flags {flags!r}")


def test_config_get_shows_the_canonical_flags(watch):
    conn = watch.run_conn
    for flags in ("KEA", "AKE", "gK", "Kmn", "n$E", "A", "KElsh$zxetdg"):
        assert conn.both("CONFIG", "SET", "notify-keyspace-events", flags)[1] == b"+OK\r\n"
        r, o = conn.both("CONFIG", "GET", "notify-keyspace-events")
        assert o == r, flags
    r, o = conn.both("CONFIG", "SET", "notify-keyspace-events", "KEQ")
    assert o == r
    watch.flags = None


# -- events not caused by a command ------------------------------------------------------------


def test_lazy_expiry_fires_expired_before_the_commands_own_events(watch):
    watch.set_flags("KEAnm")
    with watch.lazy_expiry_only():
        watch.compare([("FLUSHALL",), cmd("SET k v PX 1"), cmd("RPUSH l a"), cmd("PEXPIRE l 1"), ("SLEEP", 0.01),
                       cmd("SET k w"), cmd("GET l"), cmd("LPUSH l b"), cmd("HSET h f v"), cmd("PEXPIRE h 1"),
                       ("SLEEP", 0.01), cmd("EXISTS h"), cmd("HSET h f v")], "lazy expiry")


def test_active_expiry_fires_expired(watch):
    watch.set_flags("KEA")
    watch.compare([("FLUSHALL",), cmd("SET k v PX 30"), cmd("HSET h f v"), cmd("PEXPIRE h 30")], "setup")
    deadline = time.monotonic() + 5
    got = ([], [])
    while len(got[0]) < 4 or len(got[1]) < 4:
        assert time.monotonic() < deadline, f"expired events never came: {got}"
        time.sleep(0.02)
        r, o = watch.sub.received()
        got[0].extend(r)
        got[1].extend(o)
    assert sorted(got[1]) == sorted(got[0])  # both keys expire; the order is the cycle's
    assert {_messages([m])[0] for m in got[1]} == {
        "__keyspace@0__:k expired", "__keyevent@0__:expired k",
        "__keyspace@0__:h expired", "__keyevent@0__:expired h"}


def test_database_number_is_in_the_channel_names(watch):
    watch.set_flags("KEAn")
    watch.compare([("FLUSHALL",), cmd("SELECT 5"), cmd("SET k v"), cmd("MOVE k 3"), cmd("SELECT 3"),
                   cmd("DEL k"), cmd("SELECT 0")], "db numbers")


def test_keyspace_message_precedes_keyevent_message(node):
    with RawClient(node.port) as sub, RawClient(node.port) as c:
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("PSUBSCRIBE", "*")
        c.call("LPUSH", "mylist", "x")
        assert received(sub) == [
            b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$21\r\n__keyspace@0__:mylist\r\n$5\r\nlpush\r\n",
            b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$20\r\n__keyevent@0__:lpush\r\n$6\r\nmylist\r\n",
        ]
        # A channel subscription is served before the patterns, for each message.
        sub.call("SUBSCRIBE", "__keyevent@0__:del")
        c.call("DEL", "mylist")
        assert received(sub) == [
            b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$21\r\n__keyspace@0__:mylist\r\n$3\r\ndel\r\n",
            b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$6\r\nmylist\r\n",
            b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$18\r\n__keyevent@0__:del\r\n$6\r\nmylist\r\n",
        ]


def test_nothing_is_published_when_disabled(node):
    with RawClient(node.port) as sub, RawClient(node.port) as c:
        sub.call("PSUBSCRIBE", "*")
        c.call("SET", "k", "v")
        c.call("GET", "nokey")
        assert received(sub) == []
        assert c.call("CONFIG", "SET", "notify-keyspace-events", "A") == b"+OK\r\n"  # no K or E
        c.call("SET", "k", "w")
        assert received(sub) == []


def test_blocked_client_served_by_a_push_fires_its_pop_events(redis_ref, diff_node, watch):
    watch.set_flags("KEAn")
    watch.compare([("FLUSHALL",)], "setup")
    blocker = Twin(redis_ref.port, diff_node.port)
    try:
        blocker.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
        for conn in (watch.run_conn.redis, watch.run_conn.ours):
            deadline = time.monotonic() + 5
            while b"blocked_clients:1" not in conn.call("INFO", "clients"):
                assert time.monotonic() < deadline
                time.sleep(0.005)
        watch.compare([cmd("RPUSH src a")], "served")
        assert blocker.replies(1) == ([b"$1\r\na\r\n"], [b"$1\r\na\r\n"])
    finally:
        blocker.close()


def test_resp3_client_gets_notifications_of_its_own_writes_in_order(redis_ref, diff_node, watch):
    watch.set_flags("KEA")
    me = Twin(redis_ref.port, diff_node.port, resp=3)
    try:
        me.check("PSUBSCRIBE", "__keyspace@0__:*")
        pipeline = b"".join(
            encode_command(*c) for c in [("SET", "k", "v"), ("GET", "k"), ("APPEND", "k", "w"), ("DEL", "k"), ("DEL", "k")]
        )
        me.send_raw(pipeline)
        expected, got = me.replies(8)
        assert got == expected
    finally:
        me.close()


def test_own_notifications_inside_exec_are_embedded_in_its_reply(redis_ref, diff_node, watch):
    """Redis writes a push into the output buffer when it happens: inside EXEC's array,
    after the previous command's reply."""
    watch.set_flags("KEA")
    me = Twin(redis_ref.port, diff_node.port, resp=3)
    try:
        me.check("SUBSCRIBE", "__keyevent@0__:set")
        me.check("MULTI")
        me.check("SET", "k", "v")
        me.check("INCR", "k")
        me.check("SET", "k", "w")
        me.check("EXEC", n=3)  # EXEC's array holds two pushes between the replies
    finally:
        me.close()


def test_eviction_fires_evicted_for_each_key(node):
    with RawClient(node.port) as sub, RawClient(node.port) as c:
        c.call("CONFIG", "SET", "notify-keyspace-events", "Ee")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        sub.call("PSUBSCRIBE", "__keyevent@*__:evicted")
        for i in range(300):
            c.call("SET", f"key:{i}", "x" * 1000)
        used = int(c.call("INFO", "memory").split(b"used_memory:")[1].split(b"\r\n")[0])
        assert c.call("CONFIG", "SET", "maxmemory", str(used - 100_000)) == b"+OK\r\n"
        c.call("SET", "one-more", "v")  # a denyoom command: evicts until under the limit
        evicted = [m.split(b"\r\n")[-2] for m in received(sub)]
        stats = c.call("INFO", "stats")
        assert len(evicted) == int(stats.split(b"evicted_keys:")[1].split(b"\r\n")[0]) >= 50
        assert len(set(evicted)) == len(evicted)
        assert all(c.call("EXISTS", key) == b":0\r\n" for key in evicted)
        c.call("CONFIG", "SET", "maxmemory", "0")
