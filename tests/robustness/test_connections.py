"""Many clients, vanishing clients, slow clients: the node serves everyone else, loses no
acknowledged write, and keeps its memory bounded."""

from __future__ import annotations

import asyncio
import resource
import socket
import struct
import threading
import time

from tests.support.resp import RawClient, encode_command


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed


def _rst(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _wait_for(cond, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.01)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- a thousand clients at once --------------------------------------------------------------


async def _worker(port: int, i: int, rounds: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = b"conn:%d" % i
    pipeline = b"".join(
        encode_command("SET", key, b"%d:%d" % (i, r)) + encode_command("INCR", "conn:counter")
        + encode_command("APPEND", b"log:%d" % i, b"x") + encode_command("GET", key)
        for r in range(rounds)
    )
    writer.write(pipeline)
    await writer.drain()
    expected_tail = b"$%d\r\n%d:%d\r\n" % (len(b"%d:%d" % (i, rounds - 1)), i, rounds - 1)
    data = b""
    while not data.endswith(expected_tail) or data.count(b"+OK\r\n") < rounds:
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        assert chunk, f"client {i} lost its connection"
        data += chunk
    writer.close()
    await writer.wait_closed()
    return [data]


def test_a_thousand_concurrent_clients_all_working(guarded):
    clients, rounds = 1000, 5
    _raise_fd_limit(2 * clients + 200)  # both ends live in this process

    async def main():
        return await asyncio.gather(*(_worker(guarded.port, i, rounds) for i in range(clients)))

    results = asyncio.run(main())
    assert len(results) == clients
    with guarded.client() as c:
        assert c.call("GET", "conn:counter") == b"$4\r\n5000\r\n"
        for i in (0, 1, 499, 999):
            assert c.call("GET", b"log:%d" % i) == b"$5\r\nxxxxx\r\n"
            assert c.call("GET", b"conn:%d" % i) == b"$%d\r\n%d:4\r\n" % (len(b"%d:4" % i), i)
    _wait_for(lambda: len(guarded.node.clients) <= 1, what="clients gone")


# -- clients that vanish ------------------------------------------------------------------------


def test_client_reset_after_half_a_request_runs_the_whole_ones(guarded):
    s = socket.create_connection(("127.0.0.1", guarded.port))
    s.sendall(encode_command("INCR", "vanish") * 100)
    with guarded.client() as c:
        _wait_for(lambda: c.call("GET", "vanish") == b"$3\r\n100\r\n", what="100 INCRs")
    s.sendall(b"*3\r\n$3\r\nSET\r\n$6\r\nvanish\r\n$5\r\nhal")
    _rst(s)
    _wait_for(lambda: len(guarded.node.clients) == 0, what="client dropped")
    with guarded.client() as c:
        assert c.call("GET", "vanish") == b"$3\r\n100\r\n"


def test_many_clients_reset_mid_pipeline_leak_nothing(guarded):
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", guarded.port))
        s.sendall(encode_command("INCR", "many") * 20 + encode_command("SET", "many", "x")[: 7 + i % 20])
        _rst(s)
    _wait_for(lambda: len(guarded.node.clients) == 0, what="all clients dropped")
    with guarded.client() as c:
        count = int(c.call("GET", "many").split(b"\r\n")[1])
        # Bytes still in flight when a reset arrives may be dropped by the kernel, never
        # half-run: only whole INCRs ever count.
        assert 0 < count <= 200 * 20


def test_client_reset_while_big_replies_are_being_written(guarded):
    with guarded.client() as c:
        c.call("SET", "huge", b"h" * 1_000_000)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", guarded.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(encode_command("GET", "huge") * 50)
        time.sleep(0.1)
        _rst(s)
    _wait_for(lambda: len(guarded.node.clients) == 0, what="all clients dropped")


# -- a client that never reads its replies ------------------------------------------------------


def test_client_that_never_reads_is_paused_and_others_are_served(guarded):
    value = b"v" * 100
    reply = b"$100\r\n" + value + b"\r\n"
    count = 500_000  # 11 MB of requests (beyond what kernel buffers hold) for 53 MB of replies
    with guarded.client() as c:
        c.call("SET", "bp", value)
    requests = encode_command("GET", "bp") * count
    # A small send buffer keeps the requests in flight few; a small receive buffer would
    # slow loopback to a crawl (delayed ACKs), so that one keeps its default.
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    hog.connect(("127.0.0.1", guarded.port))
    progress = [0]

    def send_all():
        view = memoryview(requests)
        while progress[0] < len(requests):
            try:
                progress[0] += hog.send(view[progress[0] : progress[0] + 65536])
            except socket.timeout:  # the reading side below sets a timeout on the socket
                continue
            except OSError:
                return

    before = rss_kb()
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    # Wait until the kernel buffers between us are full and the hog's sends stall.
    _wait_for(lambda: _stalled(progress), timeout=30, what="the hog's sends to stall")
    node_client = _node_side(guarded.node, hog)
    read = node_client.tot_net_in
    time.sleep(0.5)
    # The node stopped reading from the hog: its requests stopped moving...
    assert node_client.tot_net_in == read < len(requests), "the server kept reading a client that reads nothing"
    assert progress[0] < len(requests)
    assert node_client.transport.get_write_buffer_size() < 16 << 20
    # ... its memory stays bounded, and everyone else is served promptly.
    assert (rss_kb() - before) < 100 * 1024
    with guarded.client() as c:
        for _ in range(20):
            start = time.monotonic()
            assert c.call("GET", "bp") == reply
            assert time.monotonic() - start < 0.5
    # Once the hog reads, every reply arrives, in order.
    received = 0
    hog.settimeout(60)
    tail = b""
    while received < count * len(reply):
        chunk = hog.recv(1 << 20)
        assert chunk, "connection lost"
        if received == 0:
            assert chunk.startswith(reply)
        received += len(chunk)
        tail = (tail + chunk)[-len(reply) :]
    assert received == count * len(reply) and tail == reply
    sender.join(10)
    assert progress[0] == len(requests)
    hog.close()


def _stalled(progress: list[int], quiet: float = 0.3) -> bool:
    start = progress[0]
    time.sleep(quiet)
    return progress[0] == start


def _node_side(node, sock: socket.socket):
    host, port = sock.getsockname()[:2]
    for c in list(node.clients.values()):
        if c.addr == f"{host}:{port}":
            return c
    raise AssertionError("client not found on the node")


def test_raw_client_helper_reads_what_it_sent(guarded):
    # A sanity check of the helpers the tests above rely on.
    with RawClient(guarded.port) as c:
        c.send(encode_command("ECHO", "a") + encode_command("ECHO", "b"))
        assert c.read_reply() == b"$1\r\na\r\n" and c.read_reply() == b"$1\r\nb\r\n"
