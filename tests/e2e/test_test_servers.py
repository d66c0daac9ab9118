"""The harness that starts real servers for the suite: ports that nothing else takes, and a
redis-server that lost its port to another process is started again on another one."""

import socket

import redis

from tests.support import servers


def test_free_ports_are_outside_the_kernels_ephemeral_range_and_free():
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    ports = [servers.free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    for port in ports:
        assert not lo <= port <= hi
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_real_redis_moves_to_another_port_when_its_first_is_taken(monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offered = iter([taken, servers.free_port()])
        monkeypatch.setattr(servers, "free_port", lambda: next(offered))
        with servers.real_redis() as rp:
            assert rp.port != taken
            assert redis.Redis(port=rp.port).ping()
