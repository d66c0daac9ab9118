"""Fake replication peers over raw sockets, for byte-exact tests against Redis and Vermilion.

``FakeReplica`` speaks the replica side of the protocol by hand: it sends exactly the bytes a
Redis 7.0 replica sends, and lets a test read the master's answers (``+FULLRESYNC``, the
payload in either transfer style, the command stream) byte for byte. ``FakeMaster`` is the
other side: it accepts one replica connection, records what the replica sends and answers
with whatever the test scripts. ``Proxy`` is a loopback TCP relay that can drop or stall a
connection (fault tests).
"""

from __future__ import annotations

import socket
import threading
import time

from tests.support.resp import encode_command


class Closed(Exception):
    pass


class Peer:
    """A blocking socket with a receive buffer and RESP-ish readers."""

    def __init__(self, sock: socket.socket, timeout: float = 10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, *args) -> None:
        self.send(encode_command(*args))

    def fill(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise Closed(self.buf)
        self.buf += data

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self) -> bytes:
        """One line without its CRLF (a bare ``\\n`` keepalive gives b"")."""
        while b"\n" not in self.buf:
            self.fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line[:-1] if line.endswith(b"\r") else line

    def request(self) -> list[bytes]:
        """One multibulk (a command) as a list of arguments."""
        header = self.line()
        assert header[:1] == b"*", header
        args = []
        for _ in range(int(header[1:])):
            n = self.line()
            assert n[:1] == b"$", n
            args.append(self.take(int(n[1:]) + 2)[:-2])
        return args

    def idle(self, seconds: float) -> bytes:
        """Everything that arrives until the peer has been quiet for ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            while True:
                self.fill()
        except (socket.timeout, TimeoutError):
            pass
        finally:
            self.sock.settimeout(10.0)
        data, self.buf = self.buf, b""
        return data

    def is_closed(self, wait: float = 2.0) -> bool:
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1 << 16)
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True
        finally:
            try:
                self.sock.settimeout(10.0)
            except OSError:
                pass
        if data:
            self.buf += data
            return False
        return True


class FakeReplica(Peer):
    """The replica side, by hand. ``handshake()`` sends what a 7.0 replica sends."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, timeout)
        self.keepalives = 0

    def handshake(self, listening_port: int = 7777, capa=(b"eof", b"psync2"), ip: bytes | None = None) -> None:
        self.command("PING")
        assert self.line() == b"+PONG"
        out = encode_command("REPLCONF", "listening-port", str(listening_port))
        if ip is not None:
            out += encode_command("REPLCONF", "ip-address", ip)
        if capa:
            args = ["REPLCONF"]
            for c in capa:
                args += ["capa", c]
            out += encode_command(*args)
        self.send(out)
        for _ in range(1 + (ip is not None) + bool(capa)):
            assert self.line() == b"+OK"

    @classmethod
    def online(cls, port: int) -> "FakeReplica":
        """A replica of the server at ``port`` through a full sync, which has acknowledged
        offset 0 (the master counts it as online and good)."""
        rep = cls(port)
        rep.handshake()
        rep.psync_reply()
        rep.payload()
        time.sleep(0.2)
        rep.ack(0)
        return rep

    def psync_reply(self, replid="?", offset=-1) -> bytes:
        """Send PSYNC and return its reply line, skipping (and counting) keepalives."""
        self.command("PSYNC", replid, str(offset))
        return self.reply_line()

    def reply_line(self) -> bytes:
        while True:
            line = self.line()
            if line:
                return line
            self.keepalives += 1

    def payload(self) -> tuple[bytes, str]:
        """The RDB after +FULLRESYNC: (rdb bytes, "disk" | "eof")."""
        header = self.reply_line()
        assert header[:1] == b"$", header
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            assert len(mark) == 40
            while not self.buf.endswith(mark):
                self.fill()
            rdb, self.buf = self.buf[:-40], b""
            return rdb, "eof"
        return self.take(int(header[1:])), "disk"

    def ack(self, offset: int) -> None:
        self.command("REPLCONF", "ACK", str(offset))

    def stream(self, n: int) -> list[list[bytes]]:
        return [self.request() for _ in range(n)]


class FakeMaster:
    """Accepts replica connections on a free port; each becomes a ``Peer``."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]

    def accept(self, timeout: float = 10.0) -> Peer:
        self.listener.settimeout(timeout)
        sock, _ = self.listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Peer(sock)

    def close(self) -> None:
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Proxy:
    """A loopback TCP relay in front of ``target_port``, with faults on demand.

    ``drop()`` closes every relayed connection (both sides see the link go down);
    ``stall()`` stops relaying without closing (the peers see silence) until ``resume()``;
    ``refuse`` makes new connections close at once."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.links: list[tuple[socket.socket, socket.socket]] = []
        self.stalled = threading.Event()
        self.refuse = False
        self.connections = 0
        self.bytes_down = 0  # target -> client
        self.cut_after: int | None = None  # drop once this many bytes went down
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.links.append((client, upstream))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool) -> None:
        src.settimeout(None)
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                break
            if not data:
                break
            while self.stalled.is_set() and not self._closed:
                time.sleep(0.01)
            if down and self.cut_after is not None:
                room = self.cut_after - self.bytes_down
                if room <= len(data):
                    try:
                        dst.sendall(data[:max(room, 0)])
                    except OSError:
                        pass
                    self.cut_after = None
                    self.drop()
                    break
            try:
                dst.sendall(data)
            except OSError:
                break
            if down:
                self.bytes_down += len(data)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self) -> None:
        with self._lock:
            links, self.links = self.links, []
        for a, b in links:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stall(self) -> None:
        self.stalled.set()

    def resume(self) -> None:
        self.stalled.clear()

    def close(self) -> None:
        self._closed = True
        self.stalled.clear()
        self.listener.close()
        self.drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
