"""Serving other clients while a script runs past busy-reply-threshold (processEventsWhileBlocked).

Design note
-----------
A script runs to completion inside the event loop callback of the client that sent it, so
nothing else can happen while it runs: that is what makes it atomic. Redis keeps it so, but
once a script has run longer than ``busy-reply-threshold`` its Lua hook enters the event
loop for a moment every 100,000 instructions, and the command table's gate answers every
command except the ``allow_busy`` ones (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE,
AUTH, HELLO, MULTI, ...) with ``-BUSY``.

asyncio and uvloop cannot be re-entered from a callback, so ``pump`` does the I/O itself,
without the loop:

* it polls (``select.poll``, no timeout) the sockets of every connected client except the
  one running the script, reads what arrived with ``os.read`` and hands it to that client's
  ``data_received`` -- the normal request path, whose gate answers ``-BUSY``; replies go
  out through ``transport.write``, which writes at once when the socket can take it;
* it accepts new connections on the listening sockets (through a duplicate of their file
  descriptor), gives each a ``Client`` whose transport is a ``_BusyTransport`` (plain
  non-blocking socket I/O), and schedules the hand-over to a real loop transport, which
  happens as soon as the loop runs again (``connect_accepted_socket`` with a forwarding
  protocol that swaps the client's transport and flushes what is pending).

The loop itself sees nothing unusual: data we read is simply no longer in the kernel
buffer, and a readiness event it had already queued finds an empty socket (EAGAIN). Timers
(cron, expiry) do not run during a pump, as in Redis, and the node's clock is restored
afterwards so the script keeps its time snapshot.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket


class _BusyTransport(asyncio.Transport):
    """A minimal transport over a socket accepted during a pump, until the loop takes it."""

    def __init__(self, sock: socket.socket):
        super().__init__()
        self.sock = sock
        self.pending: list[bytes] = []
        self.closing = False
        self.aborted = False
        self.read_paused = False
        self.real: asyncio.Transport | None = None
        self._extra = {
            "socket": sock,
            "peername": _safe(sock.getpeername),
            "sockname": _safe(sock.getsockname),
        }

    def get_extra_info(self, name, default=None):
        return self._extra.get(name, default)

    def write(self, data: bytes) -> None:
        if self.real is not None:
            self.real.write(data)
            return
        if self.closing or not data:
            return
        if self.pending:
            self.pending.append(bytes(data))
            self.flush()
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(data)
        if sent < len(data):
            self.pending.append(bytes(data[sent:]))

    def flush(self) -> None:
        while self.pending:
            chunk = self.pending[0]
            try:
                sent = self.sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.pending.clear()
                return
            if sent < len(chunk):
                self.pending[0] = chunk[sent:]
                return
            self.pending.pop(0)

    def get_write_buffer_size(self) -> int:
        if self.real is not None:
            return self.real.get_write_buffer_size()
        return sum(len(c) for c in self.pending)

    def pause_reading(self) -> None:
        if self.real is not None:
            self.real.pause_reading()
        self.read_paused = True

    def resume_reading(self) -> None:
        if self.real is not None:
            self.real.resume_reading()
        self.read_paused = False

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if self.real is not None:
            self.real.close()
        self.closing = True

    def abort(self) -> None:
        if self.real is not None:
            self.real.abort()
        self.closing = self.aborted = True


def _safe(fn):
    try:
        return fn()
    except OSError:
        return None


class _HandOver(asyncio.Protocol):
    """The protocol of the real transport: installs it in the client, then forwards."""

    def __init__(self, client, temp: _BusyTransport):
        self.client = client
        self.temp = temp

    def connection_made(self, transport) -> None:
        client, temp = self.client, self.temp
        if temp.pending:
            transport.write(b"".join(temp.pending))
            temp.pending.clear()
        temp.real = transport
        client.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            client.fd = sock.fileno()
        if temp.read_paused:
            transport.pause_reading()
        if temp.aborted:
            transport.abort()
        elif temp.closing:
            transport.close()

    def data_received(self, data: bytes) -> None:
        self.client.data_received(data)

    def eof_received(self):
        return self.client.eof_received()

    def connection_lost(self, exc) -> None:
        self.client.connection_lost(exc)

    def pause_writing(self) -> None:
        self.client.pause_writing()

    def resume_writing(self) -> None:
        self.client.resume_writing()


async def _hand_over(loop, client, temp: _BusyTransport) -> None:
    try:
        await loop.connect_accepted_socket(lambda: _HandOver(client, temp), temp.sock)
    except Exception:
        client.connection_lost(None)


class Pump:
    """processEventsWhileBlocked for one script run; ``protected`` is its caller."""

    __slots__ = ("node", "protected", "done")

    def __init__(self, node, protected):
        self.node = node
        self.protected = protected
        self.done: set[int] = set()  # descriptors that reached EOF during this run

    def pump(self) -> None:
        node = self.node
        if node.loop is None:
            return
        clock = node.clock
        saved = clock.ms, clock.lru
        try:
            for _ in range(4):  # Redis runs up to four event-loop iterations
                if not self._once():
                    break
        finally:
            clock.ms, clock.lru = saved

    def _once(self) -> bool:
        node = self.node
        poller = select.poll()
        clients: dict[int, object] = {}
        done = self.done
        for c in list(node.clients.values()):
            fd = c.fd
            if (
                c is self.protected
                or fd < 0
                or fd in done
                or c.closed
                or c.closing
                or c._read_paused
            ):
                continue
            transport = c.transport
            if isinstance(transport, _BusyTransport):
                transport.flush()
            clients[fd] = c
            poller.register(fd, select.POLLIN)
        listeners: dict[int, object] = {}
        for server in getattr(node, "_servers", ()):
            for sock in server.sockets or ():
                fd = sock.fileno()
                listeners[fd] = sock
                poller.register(fd, select.POLLIN)
        try:
            events = poller.poll(0)
        except OSError:
            return False
        for fd, _ in events:
            if fd in listeners:
                self._accept(fd)
                continue
            c = clients.get(fd)
            if c is None or c.closed:
                continue
            try:
                data = os.read(fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                done.add(fd)
                if isinstance(c.transport, _BusyTransport):
                    c.close()
                continue
            c.data_received(data)
        return bool(events)

    def _accept(self, fd: int) -> None:
        from ..connection import Client

        node = self.node
        listener = socket.socket(fileno=os.dup(fd))
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        finally:
            listener.close()
        sock.setblocking(False)
        temp = _BusyTransport(sock)
        client = Client(node)
        client.connection_made(temp)
        node.loop.create_task(_hand_over(node.loop, client, temp))
