"""Send raw bytes to real servers and watch what comes back and whether they hang up.

``exchange(ports, data)`` sends the same bytes to each server at once, then reads: a server
that hangs up by itself (a protocol error) is ``closed``; one still waiting after ``settle``
seconds is sent EOF (half close) so that it finishes and the rest of its replies arrive.
If one server hangs up and another has not yet, the other gets the full ``timeout`` first.

``model_replies(outcome, auth)`` is what Redis must answer to the requests a reader found,
for streams made of PING and ECHO: it turns the reference reader's outcome into reply bytes,
so real Redis judges the reference reader directly. None when a request is something else.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from protocol.errors import ProtocolError


@dataclass(frozen=True)
class Seen:
    reply: bytes
    closed: bool  # the server hung up before we half-closed


def exchange(ports, data: bytes, settle: float = 0.3, timeout: float = 10.0) -> list[Seen]:
    socks = [socket.create_connection(("127.0.0.1", p), timeout=timeout) for p in ports]
    try:
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                s.sendall(data)
            except OSError:  # hung up mid-send; what it said is still readable
                pass
        outs = [bytearray() for _ in socks]
        deadline = time.monotonic() + settle
        closed = [_read_until(s, out, deadline) for s, out in zip(socks, outs)]
        if any(closed) and not all(closed):
            # One server hung up by itself: give the others every chance to do the same
            # before calling it a difference (a loaded machine can be slow).
            deadline = time.monotonic() + timeout
            closed = [c or _read_until(s, out, deadline) for c, s, out in zip(closed, socks, outs)]
        for c, s, out in zip(closed, socks, outs):
            if not c:
                _finish(s, out, timeout)
        return [Seen(bytes(out), c) for c, out in zip(closed, outs)]
    finally:
        for s in socks:
            s.close()


def _read_until(sock: socket.socket, out: bytearray, deadline: float) -> bool:
    """Read what arrives until ``deadline``; True if the server hung up."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if not chunk:
            return True
        out += chunk


def _finish(sock: socket.socket, out: bytearray, timeout: float) -> None:
    """Half close, then read the rest of the replies until the server closes too."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.settimeout(timeout)
    try:
        while chunk := sock.recv(1 << 16):
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass


def bulk(b: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(b), b)


def arity(name: str) -> bytes:
    return b"-ERR wrong number of arguments for '%s' command\r\n" % name.encode()


def model_reply(argv: tuple, auth: bool = True) -> bytes | None:
    name = argv[0].lower()
    if name == b"ping":
        # PING's table arity is -1: its own argument check comes after the auth gate.
        if not auth:
            return b"-NOAUTH Authentication required.\r\n"
        if len(argv) > 2:
            return arity("ping")
        return b"+PONG\r\n" if len(argv) == 1 else bulk(argv[1])
    if name == b"echo":
        if len(argv) != 2:
            return arity("echo")
        if not auth:
            return b"-NOAUTH Authentication required.\r\n"
        return bulk(argv[1])
    return None


def model_replies(outcome, auth: bool = True) -> bytes | None:
    parts = []
    for argv in outcome.requests:
        reply = model_reply(argv, auth)
        if reply is None:
            return None
        parts.append(reply)
    if outcome.error is not None:
        parts.append(ProtocolError(outcome.error).reply)
    return b"".join(parts)
