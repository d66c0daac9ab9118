"""Pub/sub behaviour through redis-py (RESP2 and RESP3, sync and asyncio) and raw sockets:
delivery, patterns, many subscribers, unsubscribe-all, disconnect clean-up, CLIENT LIST and
INFO, idle timeouts, and slow subscribers cut off by ``client-output-buffer-limit pubsub``
while the publisher and the other subscribers carry on."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import redis
import redis.asyncio

from tests.support.pubsub import received
from tests.support.resp import ConnectionClosed, RawClient
from tests.support.waiting import wait_for


def next_message(p, timeout: float = 5.0) -> dict:
    """The next message of a redis-py PubSub (confirmations included), bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None:
            return m
    raise TimeoutError("no message")


def client_fields(r: redis.Redis, name: str | None = None) -> list[dict]:
    return [c for c in r.client_list() if name is None or c["name"] == name]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def clients(shared_node, protocol):
    """A publisher and a factory of subscriber connections in the parametrized protocol."""
    made = []

    def make(proto=protocol) -> redis.Redis:
        c = redis.Redis(port=shared_node.port, protocol=proto, socket_timeout=10)
        made.append(c)
        return c

    publisher = redis.Redis(port=shared_node.port, protocol=2, socket_timeout=10)
    publisher.flushall()
    made.append(publisher)
    make.publisher = publisher
    yield make
    for c in made:
        c.close()
    wait_for(lambda: publisher.pubsub_numpat() == 0 and not publisher.pubsub_channels())


# -- delivery ------------------------------------------------------------------------------


def test_subscriber_receives_messages_in_publish_order(clients):
    p = clients().pubsub()
    p.subscribe("news")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    for i in range(5):
        assert clients.publisher.publish("news", f"m{i}") == 1
    got = [next_message(p)["data"] for _ in range(5)]
    assert got == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    p.close()


def test_pattern_and_channel_overlap_delivers_twice(clients):
    p = clients().pubsub()
    p.subscribe("news.tech")
    p.psubscribe("news.*")
    assert [next_message(p)["type"] for _ in range(2)] == ["subscribe", "psubscribe"]
    assert clients.publisher.publish("news.tech", "hi") == 2
    first, second = next_message(p), next_message(p)
    assert (first["type"], first["channel"], first["data"]) == ("message", b"news.tech", b"hi")
    assert (second["type"], second["pattern"], second["channel"], second["data"]) == (
        "pmessage", b"news.*", b"news.tech", b"hi")
    assert clients.publisher.publish("news.art", "x") == 1
    assert next_message(p)["pattern"] == b"news.*"
    p.close()


def test_duplicate_subscriptions_count_once(clients, protocol):
    sub = RawClient(clients.publisher.connection_pool.connection_kwargs["port"])
    if protocol == 3:
        sub.call("HELLO", "3")
    sub.send_command("SUBSCRIBE", "a", "a")
    sub.send_command("PSUBSCRIBE", "a*", "a*")
    head = b">3" if protocol == 3 else b"*3"
    assert [sub.read_reply() for _ in range(4)] == [
        head + b"\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        head + b"\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        head + b"\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:2\r\n",
        head + b"\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:2\r\n",
    ]
    assert clients.publisher.publish("a", "m") == 2
    assert clients.publisher.pubsub_numsub("a") == [(b"a", 1)]
    assert clients.publisher.pubsub_numpat() == 1
    sub.close()


def test_many_subscribers_all_receive(clients):
    subs = []
    for _ in range(40):
        p = clients().pubsub()
        p.subscribe("fanout")
        next_message(p)
        subs.append(p)
    assert clients.publisher.pubsub_numsub("fanout") == [(b"fanout", 40)]
    assert clients.publisher.publish("fanout", "all") == 40
    for p in subs:
        assert next_message(p)["data"] == b"all"
        p.close()


def test_unsubscribe_all_leaves_every_channel_but_keeps_patterns(clients):
    p = clients().pubsub()
    p.subscribe("a", "b", "c")
    p.psubscribe("x*")
    [next_message(p) for _ in range(4)]
    p.unsubscribe()
    leaving = [next_message(p) for _ in range(3)]
    assert sorted(m["channel"] for m in leaving) == [b"a", b"b", b"c"]
    assert [m["data"] for m in leaving] == [3, 2, 1]  # the pattern still counts
    assert clients.publisher.publish("a", "m") == 0
    assert clients.publisher.publish("xy", "m") == 1
    assert next_message(p)["type"] == "pmessage"
    p.punsubscribe()
    assert next_message(p) == {"type": "punsubscribe", "pattern": None, "channel": b"x*", "data": 0}
    p.close()


def test_sharded_pubsub_without_cluster(clients):
    p = clients().pubsub()
    p.ssubscribe("orders")
    assert next_message(p)["type"] == "ssubscribe"
    assert clients.publisher.spublish("orders", "o1") == 1
    assert clients.publisher.publish("orders", "not for shard subscribers") == 0
    m = next_message(p)
    assert (m["type"], m["channel"], m["data"]) == ("smessage", b"orders", b"o1")
    assert clients.publisher.pubsub_shardchannels() == [b"orders"]
    assert clients.publisher.pubsub_shardnumsub("orders") == [(b"orders", 1)]
    p.close()


def test_resp3_subscriber_keeps_running_commands(clients):
    r3 = clients(3)
    p = r3.pubsub()
    p.subscribe("c")
    next_message(p)
    # The subscribed connection itself answers ordinary commands in RESP3.
    p.execute_command("SET", "k", "v")
    assert p.parse_response(block=True, timeout=5) == b"OK"
    clients.publisher.publish("c", "m")
    assert next_message(p)["data"] == b"m"
    p.close()


def test_resp2_subscriber_is_restricted_until_it_leaves_everything(shared_node):
    c = RawClient(shared_node.port)
    c.send_command("SUBSCRIBE", "c")
    c.send_command("PSUBSCRIBE", "p")
    c.read_reply(), c.read_reply()
    assert c.call("GET", "nokey").startswith(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE")
    assert c.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    c.call("UNSUBSCRIBE")
    assert c.call("GET", "nokey").startswith(b"-ERR Can't execute")  # the pattern remains
    c.call("PUNSUBSCRIBE")
    assert c.call("GET", "nokey") == b"$-1\r\n"
    assert c.call("PING") == b"+PONG\r\n"
    c.close()


def test_asyncio_pubsub(shared_node, protocol):
    async def main():
        r = redis.asyncio.Redis(port=shared_node.port, protocol=protocol)
        pub = redis.asyncio.Redis(port=shared_node.port)
        p = r.pubsub()
        await p.subscribe("async-chan")
        await p.psubscribe("async-*")
        for _ in range(2):
            assert await p.get_message(timeout=5) is not None
        assert await pub.publish("async-chan", "hello") == 2
        got = []
        while len(got) < 2:
            m = await p.get_message(timeout=5)
            assert m is not None
            got.append((m["type"], m["data"]))
        assert got == [("message", b"hello"), ("pmessage", b"hello")]
        await p.unsubscribe()
        await p.punsubscribe()
        # The confirmations arrive on the subscriber's connection; NUMSUB goes on another one,
        # so wait for them before asking.
        kinds = set()
        while kinds != {"unsubscribe", "punsubscribe"}:
            m = await p.get_message(timeout=5)
            assert m is not None
            kinds.add(m["type"])
        await p.aclose()
        assert await pub.pubsub_numsub("async-chan") == [(b"async-chan", 0)]
        await r.aclose()
        await pub.aclose()

    asyncio.run(main())


def test_asyncio_many_concurrent_subscribers(shared_node):
    async def main():
        pub = redis.asyncio.Redis(port=shared_node.port)
        conns = [redis.asyncio.Redis(port=shared_node.port, protocol=3) for _ in range(20)]
        subs = [c.pubsub() for c in conns]
        for p in subs:
            await p.subscribe("many")
            await p.get_message(timeout=5)
        assert await pub.publish("many", "x") == 20

        async def one(p):
            while True:
                m = await p.get_message(timeout=5)
                if m is not None:
                    return m["data"]

        assert await asyncio.gather(*(one(p) for p in subs)) == [b"x"] * 20
        for p, c in zip(subs, conns):
            await p.aclose()
            await c.aclose()
        await pub.aclose()

    asyncio.run(main())


def test_concurrent_publishers_each_keep_their_order_for_every_subscriber(shared_node):
    """Four publisher threads, five subscribers (one of them through a pattern): everyone
    gets every message, and each publisher's messages in the order it sent them."""
    subs = [RawClient(shared_node.port) for _ in range(5)]
    for i, s in enumerate(subs):
        s.send_command("PSUBSCRIBE" if i == 0 else "SUBSCRIBE", "race*" if i == 0 else "race")
        s.read_reply()
    per_publisher = 150

    def publish(n: int) -> None:
        with RawClient(shared_node.port) as pub:
            for i in range(per_publisher):
                assert pub.call("PUBLISH", "race", f"{n}:{i}") == b":5\r\n"

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in subs:
        seen = {n: [] for n in range(4)}
        for _ in range(4 * per_publisher):
            n, i = s.read_reply().rsplit(b"\r\n", 2)[-2].split(b":")
            seen[int(n)].append(int(i))
        assert all(v == list(range(per_publisher)) for v in seen.values())
        s.close()


# -- state and clean-up ----------------------------------------------------------------------


def test_disconnect_removes_every_subscription(clients):
    r = clients()
    r.client_setname("leaver")
    p = r.pubsub()
    p.subscribe("c1", "c2")
    p.psubscribe("p*")
    p.ssubscribe("s1")
    [next_message(p) for _ in range(4)]
    pub = clients.publisher
    assert pub.info("stats")["pubsub_channels"] == 2
    p.close()
    wait_for(lambda: pub.pubsub_numpat() == 0)
    assert pub.pubsub_numsub("c1", "c2") == [(b"c1", 0), (b"c2", 0)]
    assert pub.pubsub_shardnumsub("s1") == [(b"s1", 0)]
    assert pub.pubsub_channels() == []
    stats = pub.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (0, 0, 0)
    assert pub.publish("c1", "m") == 0


def test_client_list_shows_subscriptions_and_type(shared_node):
    pub = redis.Redis(port=shared_node.port, protocol=2)
    sub = RawClient(shared_node.port)
    sub.call("CLIENT", "SETNAME", "watcher")
    sub.send_command("SUBSCRIBE", "a", "b")
    sub.send_command("PSUBSCRIBE", "p*")
    sub.send_command("SSUBSCRIBE", "s")
    for _ in range(4):
        sub.read_reply()
    (me,) = client_fields(pub, "watcher")
    assert (me["flags"], me["sub"], me["psub"], me["ssub"]) == ("P", "2", "1", "1")
    assert [c["name"] for c in pub.client_list(_type="pubsub")] == ["watcher"]
    assert "watcher" not in [c["name"] for c in pub.client_list(_type="normal")]
    sub.send_command("UNSUBSCRIBE")
    sub.send_command("PUNSUBSCRIBE")
    sub.send_command("SUNSUBSCRIBE")
    for _ in range(4):
        sub.read_reply()
    (me,) = client_fields(pub, "watcher")
    assert (me["flags"], me["sub"], me["psub"], me["ssub"]) == ("N", "0", "0", "0")
    sub.close()
    pub.close()


def test_info_counts_distinct_channels_and_patterns(clients):
    a, b = clients().pubsub(), clients().pubsub()
    a.subscribe("x", "y")
    b.subscribe("y")
    a.psubscribe("p*")
    b.psubscribe("p*", "q*")
    b.ssubscribe("s")
    for p, n in ((a, 3), (b, 4)):
        [next_message(p) for _ in range(n)]
    stats = clients.publisher.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (2, 2, 1)
    assert clients.publisher.pubsub_numpat() == 2
    a.close()
    b.close()


def test_reset_clears_subscriptions(shared_node):
    c = RawClient(shared_node.port)
    c.send_command("SUBSCRIBE", "r")
    c.read_reply()
    assert c.call("RESET") == b"+RESET\r\n"
    assert c.call("GET", "nokey") == b"$-1\r\n"
    admin = redis.Redis(port=shared_node.port)
    assert admin.pubsub_numsub("r") == [(b"r", 0)]
    c.close()
    admin.close()


def test_subscribers_are_exempt_from_the_idle_timeout(make_node):
    node = make_node(timeout=1, hz=100)
    sub = RawClient(node.port)
    idle = RawClient(node.port)
    sub.send_command("SUBSCRIBE", "c")
    sub.read_reply()
    assert idle.is_closed(wait=4.0)
    assert not sub.is_closed(wait=0.1)
    assert received(sub) == []
    sub.close()


# -- slow subscribers --------------------------------------------------------------------------

BIG = b"x" * 100_000


def never_reading_subscriber(port: int, channel: str) -> socket.socket:
    """A raw subscriber with a tiny receive window that never reads after subscribing."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel.encode()))
    s.settimeout(5)
    assert s.recv(100).startswith(b"*3\r\n$9\r\nsubscribe")
    return s


def test_slow_subscriber_is_disconnected_at_the_hard_limit(make_node):
    node = make_node(client_output_buffer_limit="pubsub 512kb 0 0")
    pub = RawClient(node.port)
    good = RawClient(node.port)
    good.send_command("SUBSCRIBE", "feed")
    good.read_reply()
    slow = never_reading_subscriber(node.port, "feed")
    counts = []
    for _ in range(200):
        counts.append(pub.call("PUBLISH", "feed", BIG))
        # The reading subscriber gets every message, whatever happens to the slow one.
        assert good.read_reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n$100000\r\n" + BIG + b"\r\n"
        if counts[-1] == b":1\r\n":
            break
    assert counts[0] == b":2\r\n" and counts[-1] == b":1\r\n", "the slow subscriber was never cut off"
    assert pub.call("PUBSUB", "NUMSUB", "feed") == b"*2\r\n$4\r\nfeed\r\n:1\r\n"
    assert node.stats.client_output_buffer_limit_disconnections == 1
    wait_for(lambda: len(node.clients) == 2)
    slow.close()
    pub.close()
    good.close()


def test_slow_subscriber_is_disconnected_after_the_soft_limit_seconds(make_node):
    node = make_node(client_output_buffer_limit="pubsub 0 256kb 10")
    pub = RawClient(node.port)
    slow = never_reading_subscriber(node.port, "feed")
    over = False
    for _ in range(200):
        assert pub.call("PUBLISH", "feed", BIG) == b":1\r\n"  # over the soft limit: not yet
        client = next(c for c in list(node.clients.values()) if c.subscriptions)
        if client.transport.get_write_buffer_size() >= 256 * 1024:
            over = True
            break
    assert over
    assert pub.call("PUBLISH", "feed", b"still within the soft seconds") == b":1\r\n"
    node.clock.advance(11_000)  # past the soft seconds
    assert pub.call("PUBLISH", "feed", b"one more") == b":1\r\n"  # counted, then cut off
    wait_for(lambda: pub.call("PUBSUB", "NUMSUB", "feed") == b"*2\r\n$4\r\nfeed\r\n:0\r\n")
    slow.close()
    pub.close()


def test_subscriber_that_catches_up_is_not_disconnected(make_node):
    node = make_node(client_output_buffer_limit="pubsub 0 256kb 10")
    pub = RawClient(node.port)
    sub = RawClient(node.port)
    sub.send_command("SUBSCRIBE", "feed")
    sub.read_reply()
    for _ in range(20):
        assert pub.call("PUBLISH", "feed", BIG) == b":1\r\n"
    for _ in range(20):
        sub.read_reply()
    node.clock.advance(11_000)
    assert pub.call("PUBLISH", "feed", b"after") == b":1\r\n"
    assert sub.read_reply().endswith(b"$5\r\nafter\r\n")
    assert pub.call("PUBSUB", "NUMSUB", "feed") == b"*2\r\n$4\r\nfeed\r\n:1\r\n"
    sub.close()
    pub.close()


def test_disconnected_slow_subscriber_socket_is_closed(make_node):
    node = make_node(client_output_buffer_limit="pubsub 256kb 0 0")
    pub = RawClient(node.port)
    slow = never_reading_subscriber(node.port, "feed")
    for _ in range(200):
        if pub.call("PUBLISH", "feed", BIG) == b":0\r\n":
            break
    slow.settimeout(5)
    with pytest.raises((ConnectionResetError, ConnectionClosed, TimeoutError)) as info:
        while True:
            if not slow.recv(1 << 20):
                raise ConnectionClosed(b"")
    assert info.type is not TimeoutError
    slow.close()
    pub.close()
