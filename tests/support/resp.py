"""A raw RESP client for tests: send exact bytes, read back exact reply bytes.

``RawClient.call(*args)`` sends one command as a multibulk and returns the raw bytes of
one complete reply (RESP2 or RESP3), so tests can compare replies byte for byte.
"""

from __future__ import annotations

import socket
import time


def encode_command(*args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%b\r\n" % (len(a), a))
    return b"".join(parts)


class ConnectionClosed(Exception):
    pass


class RawClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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

    # -- sending -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_command(self, *args) -> None:
        self.send(encode_command(*args))

    def call(self, *args) -> bytes:
        self.send_command(*args)
        return self.read_reply()

    def pipeline(self, commands: list[tuple]) -> list[bytes]:
        self.send(b"".join(encode_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    # -- receiving -------------------------------------------------------------------------------
    def _fill(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionClosed(self.buf)
        self.buf += data

    def _line_end(self, pos: int) -> int:
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            self._fill()

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            self._fill()

    def _skip_one(self, pos: int) -> int:
        """Return the position just after the reply starting at ``pos``."""
        self._need(pos + 1)
        t = self.buf[pos : pos + 1]
        end = self._line_end(pos)
        head = self.buf[pos + 1 : end]
        pos = end + 2
        if t in (b"+", b"-", b":", b"_", b"#", b",", b"("):
            return pos
        if t in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return pos
            self._need(pos + n + 2)
            return pos + n + 2
        if t in (b"*", b"~", b">"):
            n = int(head)
            for _ in range(max(n, 0)):
                pos = self._skip_one(pos)
            return pos
        if t in (b"%", b"|"):
            n = int(head)
            for _ in range(2 * n):
                pos = self._skip_one(pos)
            if t == b"|":
                return self._skip_one(pos)
            return pos
        raise ValueError(f"bad reply type {t!r} in {self.buf[:200]!r}")

    def read_reply(self) -> bytes:
        end = self._skip_one(0)
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply

    def read_all(self, wait: float = 0.2) -> bytes:
        """Everything that arrives within ``wait`` seconds (or until the peer closes)."""
        self.sock.settimeout(wait)
        out = self.buf
        self.buf = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                out += data
        except (socket.timeout, ConnectionResetError):
            pass
        finally:
            self.sock.settimeout(10.0)
        return out

    def is_closed(self, wait: float = 1.0) -> bool:
        """True if the server closes the connection within ``wait`` seconds."""
        deadline = time.monotonic() + wait
        self.sock.settimeout(0.05)
        try:
            while time.monotonic() < deadline:
                try:
                    data = self.sock.recv(1 << 16)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not data:
                    return True
                self.buf += data
            return False
        finally:
            self.sock.settimeout(10.0)
