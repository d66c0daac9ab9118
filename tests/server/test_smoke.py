"""The node starts, answers real clients, and agrees with real Redis on the basics."""

import redis


def test_ping_set_get_over_redis_py(r):
    assert r.ping() is True
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.delete("k", "missing") == 1
    assert r.get("k") is None


def test_resp3_client(shared_node):
    c = redis.Redis(port=shared_node.port, protocol=3)
    assert c.ping() is True
    assert c.get("nope") is None
    c.close()


def test_unknown_command_matches_redis(pair):
    pair.check("FOO", "a", "b")
    pair.check("GET", "k")
    pair.check("GET")
    pair.check("PING")
    pair.check("PING", "hello")
    pair.check("ECHO", b"\x00\xffbinary")
