"""redis-py against Vermilion: sync and asyncio clients, RESP2 and RESP3, pipelines,
binary data, connection pools shared by many threads and tasks, and the error classes
redis-py derives from our error texts."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from server.commands.table import build_table

PROTOCOLS = [2, 3]
#: redis-py 8 retries failed connections with backoff by default; errors should show at once.
NO_RETRY = Retry(NoBackoff(), 0)
ALL_BYTES = bytes(range(256))
#: MULTI/EXEC pipelines join the pipeline tests once transactions are implemented.
TRANSACTION_MODES = [False] + ([True] if build_table().get(b"multi") is not None else [])


@pytest.fixture(params=PROTOCOLS, ids=["resp2", "resp3"])
def client(request, shared_node):
    c = redis.Redis(port=shared_node.port, protocol=request.param, socket_timeout=10)
    c.flushall()
    yield c
    c.close()


def test_handshake_reports_the_protocol_in_use(client):
    info = client.client_info()
    assert int(info["resp"]) == client.connection_pool.connection_kwargs["protocol"]
    assert info["cmd"] == "client|info" and info["flags"] == "N"


def test_default_client_negotiates_like_with_redis(shared_node, redis_ref):
    # redis-py 8 asks for RESP3 when no protocol is given.
    seen = []
    for port in (redis_ref.port, shared_node.port):
        c = redis.Redis(port=port)
        seen.append((c.client_info()["resp"], c.set("dflt", "1"), c.get("dflt"), c.get("nope")))
        c.close()
    assert seen[0] == seen[1]


def test_strings_and_numbers(client):
    assert client.set("s", "v") is True
    assert client.get("s") == b"v"
    assert client.get("missing") is None
    assert client.set("s", "w", nx=True) is None
    assert client.set("s", "w", xx=True, get=True) == b"v"
    assert client.incr("n") == 1 and client.incrby("n", 41) == 42 and client.decr("n") == 41
    assert client.incrbyfloat("f", 1.5) == 1.5
    assert client.append("s", "x") == 2 and client.strlen("s") == 2
    assert client.getrange("s", 0, 0) == b"w"
    assert client.mset({"a": "1", "b": "2"}) is True
    assert client.mget("a", "b", "missing") == [b"1", b"2", None]
    assert client.exists("a", "b", "missing") == 2
    assert client.delete("a", "b", "missing") == 2


def test_expiry(client):
    client.set("e", "v", ex=100)
    assert 0 < client.ttl("e") <= 100
    assert 0 < client.pttl("e") <= 100_000
    assert client.persist("e") is True and client.ttl("e") == -1
    assert client.expire("e", 50) is True
    assert client.ttl("missing") == -2


def test_binary_keys_and_values_round_trip(client):
    for i in range(256):
        key = bytes([i]) + b"\r\n" + ALL_BYTES[i:]
        client.set(key, ALL_BYTES[::-1] + bytes([i]))
    for i in range(256):
        key = bytes([i]) + b"\r\n" + ALL_BYTES[i:]
        assert client.get(key) == ALL_BYTES[::-1] + bytes([i])
    big = ALL_BYTES * 4096
    client.set(b"\x00big\xff", big)
    assert client.get(b"\x00big\xff") == big


def test_decoded_responses(shared_node):
    for proto in PROTOCOLS:
        c = redis.Redis(port=shared_node.port, protocol=proto, decode_responses=True)
        c.set("unicode", "caf\u00e9 \u2603")
        assert c.get("unicode") == "caf\u00e9 \u2603"
        assert c.mget("unicode", "nope") == ["caf\u00e9 \u2603", None]
        c.close()


@pytest.mark.parametrize("transaction", TRANSACTION_MODES, ids=lambda t: "multi" if t else "plain")
def test_pipelines(client, transaction):
    pipe = client.pipeline(transaction=transaction)
    for i in range(1000):
        pipe.set(b"p%d" % i, b"%d" % i)
        pipe.incr("pcount")
        pipe.get(b"p%d" % i)
    results = pipe.execute()
    assert len(results) == 3000
    assert results[-3:] == [True, 1000, b"999"]
    assert results[1::3] == list(range(1, 1001))


def test_pipeline_carries_errors_in_place(client):
    client.set("str", "abc")
    pipe = client.pipeline(transaction=False)
    pipe.incr("str").set("ok", "1").get("ok")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert str(results[0]) == "value is not an integer or out of range"
    assert results[1:] == [True, b"1"]


def test_error_classes(client):
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'get' command$"):
        client.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="^unknown command 'NOPE', with args beginning with: 'x' $"):
        client.execute_command("NOPE", "x")
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        client.execute_command("SELECT", "99")


def test_pool_shared_by_many_threads(shared_node):
    pool = redis.BlockingConnectionPool(port=shared_node.port, max_connections=20, timeout=20)
    redis.Redis(connection_pool=pool).flushall()
    errors = []

    def work(t: int) -> None:
        c = redis.Redis(connection_pool=pool)
        try:
            for i in range(100):
                c.set(b"t%d:%d" % (t, i), i)
                c.incr("pool:count")
                assert c.get(b"t%d:%d" % (t, i)) == b"%d" % i
        except Exception as exc:  # collected: pytest sees nothing raised in threads
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    c = redis.Redis(connection_pool=pool)
    assert c.get("pool:count") == b"5000"
    assert len(shared_node.clients) <= 20 + 5  # the pool never opened more than its 20
    pool.disconnect()


def test_many_separate_connections(shared_node):
    clients = [redis.Redis(port=shared_node.port, protocol=PROTOCOLS[i % 2]) for i in range(200)]
    for i, c in enumerate(clients):
        c.set(b"sep%d" % i, i)
    assert [c.get(b"sep%d" % i) for i, c in enumerate(clients)] == [b"%d" % i for i in range(200)]
    assert sum(1 for _ in clients[0].client_list()) >= 200
    for c in clients:
        c.close()


@pytest.mark.parametrize("proto", PROTOCOLS, ids=["resp2", "resp3"])
async def test_asyncio_client(shared_node, proto):
    pool = redis.asyncio.BlockingConnectionPool(port=shared_node.port, protocol=proto, max_connections=50)
    c = redis.asyncio.Redis(connection_pool=pool)
    await c.flushall()

    async def task(i: int) -> bytes | None:
        await c.set(b"a%d" % i, ALL_BYTES[i % 256 :])
        await c.incr("acount")
        return await c.get(b"a%d" % i)

    got = await asyncio.gather(*(task(i) for i in range(500)))
    assert got == [ALL_BYTES[i % 256 :] for i in range(500)]
    assert await c.get("acount") == b"500"
    async with c.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.get(b"a%d" % i)
        assert await pipe.execute() == got
    assert await c.get("missing") is None
    await c.aclose()
    await pool.disconnect()


async def test_asyncio_many_clients_at_once(shared_node):
    clients = [redis.asyncio.Redis(port=shared_node.port, protocol=PROTOCOLS[i % 2]) for i in range(100)]
    await asyncio.gather(*(c.set(b"ac%d" % i, i) for i, c in enumerate(clients)))
    got = await asyncio.gather(*(c.get(b"ac%d" % i) for i, c in enumerate(clients)))
    assert got == [b"%d" % i for i in range(100)]
    await asyncio.gather(*(c.aclose() for c in clients))


# -- authentication and limits as redis-py sees them -------------------------------------------


def test_password_handling(make_node):
    node = make_node(requirepass="s3cret")
    assert redis.Redis(port=node.port, password="s3cret").ping() is True
    assert redis.Redis(port=node.port, password="s3cret", protocol=3).ping() is True
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=node.port, password="wrong", retry=NO_RETRY).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=node.port, retry=NO_RETRY).get("x")


def test_max_clients_is_a_connection_error(make_node):
    node = make_node(maxclients=2)
    holders = [redis.Redis(port=node.port) for _ in range(2)]
    for h in holders:
        h.ping()
    with pytest.raises(redis.ConnectionError, match="max number of clients reached"):
        redis.Redis(port=node.port, retry=NO_RETRY).ping()
    for h in holders:
        h.close()
