"""Helpers for the replication tests: waiting on replication state, a mixed write load, and
dataset comparison between a master and its replicas."""

from __future__ import annotations

import random
import time

import redis

from tests.persistence.support import diff, snapshot

#: Redis 7.0 stops on SIGTERM only once its replicas caught up, for up to shutdown-timeout
#: (10 s): a test's hand-driven replica that stopped acknowledging would cost that much.
NO_SHUTDOWN_WAIT = ("--shutdown-timeout", "0")
#: Settings every test master and replica gets, so that nothing waits on Redis's defaults
#: (a 5 s diskless delay, 10 s pings, a 60 s timeout).
FAST_VERMILION = dict(repl_diskless_sync_delay=0, repl_ping_replica_period=1)
FAST_REDIS = ("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1", *NO_SHUTDOWN_WAIT)


def info(port: int) -> dict:
    r = redis.Redis(port=port)
    try:
        return r.info("replication")
    finally:
        r.close()


def wait_link_up(port: int, timeout: float = 15.0) -> dict:
    return wait_for(lambda: (lambda i: i if i.get("master_link_status") == "up" else None)(info(port)),
                    timeout, what="master link up on port %d" % port)


def wait_in_sync(master_port: int, *replica_ports: int, timeout: float = 20.0) -> int:
    """Until every replica applied the master's whole stream; returns that offset."""

    def synced():
        offset = info(master_port)["master_repl_offset"]
        for port in replica_ports:
            i = info(port)
            if i.get("master_link_status") != "up" or i.get("slave_repl_offset") != offset:
                return None
        return (offset,)

    return wait_for(synced, timeout, what="replicas in sync with %d" % master_port)[0]


def same_data(master_port: int, replica_port: int, dbs=range(4)) -> list[str]:
    """Key-by-key differences (type, value, absolute expiry) between two servers."""
    expected = snapshot(master_port, dbs, encodings=False)
    assert len(expected) > 50, "the dataset under comparison is too small to mean anything"
    return diff(expected, snapshot(replica_port, dbs, encodings=False))


def mixed_load(port: int, ops: int = 600, seed: int = 7, short_ttl_ms: int = 150) -> list[bytes]:
    """A seeded mix of writes of every kind, over four databases: strings, counters, lists,
    sets, hashes, sorted sets, relative and absolute expiries (some short enough to expire
    during the test), deletions, renames, MULTI/EXEC, a script, random pops. Returns the
    keys given a short TTL."""
    rng = random.Random(seed)
    clients = [redis.Redis(port=port, db=db) for db in range(4)]
    short = []
    for i in range(ops):
        r = clients[rng.randrange(4)]
        k = "k%d" % rng.randrange(60)
        op = rng.randrange(22)
        try:
            if op == 0:
                r.set(k, rng.randbytes(rng.randrange(1, 40)))
            elif op == 1:
                r.set("cnt:" + k, rng.randrange(100))
                r.incrby("cnt:" + k, rng.randrange(-5, 5))
            elif op == 2:
                r.append("str:" + k, "x%d" % i)
            elif op == 3:
                r.rpush("list:" + k, *[rng.randrange(1000) for _ in range(rng.randrange(1, 5))])
            elif op == 4:
                r.lpop("list:" + k)
            elif op == 5:
                r.sadd("set:" + k, *[rng.randrange(50) for _ in range(3)])
            elif op == 6:
                r.spop("set:" + k)  # random: replicas must get the effect (SREM)
            elif op == 7:
                r.hset("hash:" + k, mapping={"f%d" % rng.randrange(9): rng.randrange(9) for _ in range(2)})
            elif op == 8:
                r.hdel("hash:" + k, "f%d" % rng.randrange(9))
            elif op == 9:
                r.zadd("zset:" + k, {"m%d" % rng.randrange(20): rng.random() * 100})
            elif op == 10:
                r.zincrby("zset:" + k, 1.5, "m%d" % rng.randrange(20))
            elif op == 11:
                r.set("ttl:" + k, i, ex=3600)
            elif op == 12:
                r.expire(k, 7200)
            elif op == 13:
                name = "short:%d" % i
                r.set(name, i, px=short_ttl_ms)
                short.append((r, name))
            elif op == 14:
                r.delete("k%d" % rng.randrange(60))
            elif op == 15:
                p = r.pipeline(transaction=True)
                p.incr("tx:" + k)
                p.lpush("txl:" + k, i)
                p.execute()
            elif op == 16:
                r.eval("redis.call('incr', KEYS[1]); return redis.call('set', KEYS[2], ARGV[1])", 2,
                       "lua:" + k, "luas:" + k, i)
            elif op == 17:
                r.incrbyfloat("float:" + k, 0.1)
            elif op == 18:
                r.getex("ttl:" + k, px=5_000_000)
            elif op == 19:
                if r.exists("list:" + k):
                    r.lmove("list:" + k, "list2:" + k)
            elif op == 20:
                r.execute_command("SETEX", "sx:" + k, 1000, "v")
            elif op == 21:
                r.pexpireat("ttl:" + k, int(time.time() * 1000) + 9_000_000)
        except redis.ResponseError:
            pass  # a type clash in the random mix: the same error on any server
    for r in clients:
        r.close()
    return short


def expire_short_keys(port: int, short, short_ttl_ms: int = 150) -> None:
    """Let the short TTLs pass and make the master notice every one (lazy expiry: DEL)."""
    time.sleep(short_ttl_ms / 1000 + 0.05)
    for r, name in short:
        c = redis.Redis(port=port, db=r.connection_pool.connection_kwargs.get("db", 0))
        c.exists(name)
        c.close()


# -- the same server of either kind ---------------------------------------------------------------

from contextlib import contextmanager  # noqa: E402

from tests.support.servers import real_redis, vermilion  # noqa: E402
from tests.support.waiting import wait_for

KINDS = ("redis", "vermilion")


@contextmanager
def server(kind: str, **config):
    """Real Redis or Vermilion with the same configuration (keyword names as in redis.conf,
    with underscores); yields the port."""
    if kind == "redis":
        args = list(NO_SHUTDOWN_WAIT)
        for name, value in config.items():
            args += ["--" + name.replace("_", "-")] + str(value).split(" ")
        with real_redis(*args) as rp:
            yield rp.port
    else:
        with vermilion(**config) as node:
            yield node.port
