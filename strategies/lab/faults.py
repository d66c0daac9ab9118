"""Fault injection: a TCP proxy on loopback, the cache servers behind it, and fault schedules.

Design note
-----------
The workload always talks to the cache through ``FaultProxy``, an asyncio TCP relay on
127.0.0.1 that can

``kill()``      reset every open connection and stop listening, so connections are refused
                (the cache is gone) until ``revive()``;
``stall()``     hold all bytes in both directions until ``resume()`` (a paused process, a GC
                pause, a partition that drops nothing);
``delay(s)``    hold each chunk from the server for ``s`` seconds (a slow cache); 0 ends it.

Behind it, ``CacheServer`` is either an in-process Vermilion node on its own thread
(``VermilionServer``; killing it stops the node and loses its data, restarting starts a fresh
one) or an external server given by URL (``ExternalServer``; killing refuses traffic at the
proxy and restarting empties its database, which is what a restart without persistence does).
Only loopback addresses are accepted.

A fault schedule is a comma-separated list of events, times in seconds from the start:
``kill@5`` ``restart@9`` ``kill@5+4`` (kill, restart 4 s later) ``pause@12+1.5``
``slow@16+2:600ms`` (600 ms per reply for 2 s). ``parse_schedule`` turns it into ``Fault``s;
``run_schedule`` plays them against a proxy and a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

#: Bytes read per chunk by the relay.
CHUNK = 65536


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: FaultProxy, client_r, client_w):
        self.proxy = proxy
        self.client_r, self.client_w = client_r, client_w
        self.up_w = None
        self.tasks: list[asyncio.Task] = []

    async def run(self) -> None:
        try:
            async with asyncio.timeout(2.0):  # (3.11's wait_for can lose a cancel)
                up_r, self.up_w = await asyncio.open_connection("127.0.0.1", self.proxy.upstream_port)
        except (OSError, TimeoutError):
            self.abort()
            return
        self.tasks = [
            asyncio.ensure_future(self._pump(self.client_r, self.up_w, upstream=False)),
            asyncio.ensure_future(self._pump(up_r, self.client_w, upstream=True)),
        ]
        await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        self.abort()

    async def _pump(self, reader, writer, upstream: bool) -> None:
        proxy = self.proxy
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    return
                await proxy._flowing.wait()
                if upstream and proxy.reply_delay:
                    await asyncio.sleep(proxy.reply_delay)
                    await proxy._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            return

    def abort(self) -> None:
        for task in self.tasks:
            task.cancel()
        for w in (self.client_w, self.up_w):
            if w is not None:
                with contextlib.suppress(Exception):
                    w.transport.abort()
        self.proxy._links.discard(self)


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = 0
        self.killed = False
        self.reply_delay = 0.0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader, writer) -> None:
        link = _Link(self, reader, writer)
        self._links.add(link)
        await link.run()

    async def kill(self) -> None:
        """Stop listening (connections are refused) and reset every open connection."""
        self.killed = True
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.abort()

    async def revive(self) -> None:
        """Listen again on the same port after ``kill``."""
        if self.killed:
            self.killed = False
            await self._listen()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def delay(self, seconds: float) -> None:
        self.reply_delay = seconds

    def retarget(self, port: int) -> None:
        self.upstream_port = port

    async def stop(self) -> None:
        await self.kill()
        self.resume()


# -- the servers behind the proxy -------------------------------------------------------------

class VermilionServer:
    """A Vermilion node on a background thread; ``kill`` loses its data."""

    name = "vermilion (in-process)"

    def __init__(self, **config):
        self.config = {"port": 0, "save": "", "bind": "127.0.0.1", "logfile": os.devnull, **config}
        self._stack: contextlib.ExitStack | None = None
        self.port = 0

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    def _start(self) -> None:
        from server import Node  # the lab starts a node; the library never imports server/

        stack = contextlib.ExitStack()
        node = stack.enter_context(Node(**self.config).running())
        self._stack = stack
        self.port = node.port

    async def kill(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await asyncio.to_thread(stack.close)

    async def restart(self) -> None:
        await self.kill()
        await self.start()

    async def stop(self) -> None:
        await self.kill()

    def client_url(self, proxy_port: int) -> str:
        return f"redis://127.0.0.1:{proxy_port}/0"


class ExternalServer:
    """A server someone else runs (``redis://127.0.0.1:6379/0``). The lab empties the URL's
    database (FLUSHDB) when it starts using it and at every restart, which is what a restart
    without persistence does to the data."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            raise ValueError("only redis:// URLs (no TLS, no unix sockets) can sit behind the proxy")
        host = parts.hostname or "127.0.0.1"
        if not is_loopback(host):
            raise ValueError(f"the lab only sends load to loopback addresses, not {host!r}")
        self.url = url
        self.parts = parts
        self.port = parts.port or 6379
        self.name = f"external {host}:{self.port}"

    async def start(self) -> None:
        await self._flush()

    async def kill(self) -> None:
        pass  # the proxy refuses traffic; the data goes at restart

    async def restart(self) -> None:
        await self._flush()

    async def _flush(self) -> None:
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(self.url, socket_timeout=5)
        try:
            await client.flushdb()
        finally:
            await client.aclose()

    async def stop(self) -> None:
        pass

    def client_url(self, proxy_port: int) -> str:
        p = self.parts
        netloc = f"127.0.0.1:{proxy_port}"
        if p.username or p.password:
            netloc = f"{p.username or ''}:{p.password or ''}@{netloc}"
        return urlunsplit(("redis", netloc, p.path or "/0", p.query, ""))


# -- schedules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    kind: str  # kill, restart, pause, slow
    at: float
    duration: float = 0.0
    delay: float = 0.0

    @property
    def end(self) -> float:
        return self.at + self.duration

    def label(self) -> str:
        if self.kind == "slow":
            return f"slow {self.delay * 1000:.0f}ms"
        return self.kind


_EVENT = re.compile(
    r"^(?P<kind>kill|restart|pause|slow)@(?P<at>\d+(?:\.\d+)?)"
    r"(?:\+(?P<dur>\d+(?:\.\d+)?))?(?::(?P<delay>\d+(?:\.\d+)?)(?P<unit>ms|s)?)?$"
)

#: Bounds on a schedule: events, and seconds any event may start at or last.
MAX_EVENTS = 50
MAX_TIME = 3600.0


def parse_schedule(text: str) -> list[Fault]:
    faults: list[Fault] = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        m = _EVENT.match(item)
        if not m:
            raise ValueError(f"bad fault {item!r} (try kill@5+4, restart@9, pause@12+1.5, slow@16+2:600ms)")
        kind, at = m["kind"], float(m["at"])
        dur = float(m["dur"] or 0)
        delay = float(m["delay"] or 0) / (1000 if (m["unit"] or "ms") == "ms" else 1)
        if at > MAX_TIME or dur > MAX_TIME:
            raise ValueError(f"fault {item!r} is out of bounds ({MAX_TIME:g} s)")
        if kind in ("pause", "slow") and dur <= 0:
            raise ValueError(f"{kind} needs a duration: {kind}@{at:g}+SECONDS")
        if kind == "slow" and delay <= 0:
            raise ValueError("slow needs a delay: slow@T+D:600ms")
        if kind == "kill" and dur:
            faults += [Fault("kill", at, dur), Fault("restart", at + dur)]
        else:
            faults.append(Fault(kind, at, dur, delay))
    if len(faults) > MAX_EVENTS:
        raise ValueError(f"at most {MAX_EVENTS} fault events")
    return sorted(faults, key=lambda f: f.at)


def fault_windows(faults: list[Fault]) -> list[tuple[float, float, str]]:
    """(start, end, label) of each period the cache was impaired, for reports and charts."""
    windows = []
    down_since = None
    for f in faults:
        if f.kind == "kill":
            down_since = f.at if down_since is None else down_since
        elif f.kind == "restart" and down_since is not None:
            windows.append((down_since, f.at, "killed"))
            down_since = None
        elif f.kind in ("pause", "slow"):
            windows.append((f.at, f.end, f.label() if f.kind == "slow" else "paused"))
    if down_since is not None:
        windows.append((down_since, float("inf"), "killed"))
    return windows


async def run_schedule(faults: list[Fault], proxy: FaultProxy, server, t0: float, log=None, before_kill=None) -> None:
    """Play ``faults`` (times relative to the monotonic ``t0``); cancel to stop early.
    ``before_kill()`` runs just before each kill (the lab snapshots what a crash will lose)."""
    pending: list[tuple[float, str, Fault]] = []
    for f in faults:
        pending.append((f.at, "start", f))
        if f.kind in ("pause", "slow"):
            pending.append((f.end, "end", f))
    pending.sort(key=lambda p: p[0])
    for at, phase, f in pending:
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        if log:
            log(f"fault: {f.kind} {phase} at t={time.monotonic() - t0:.1f}s")
        if f.kind == "kill":
            if before_kill:
                before_kill()
            await proxy.kill()
            await server.kill()
        elif f.kind == "restart":
            await server.restart()
            proxy.retarget(server.port)
            await proxy.revive()
        elif f.kind == "pause":
            proxy.stall() if phase == "start" else proxy.resume()
        elif f.kind == "slow":
            proxy.delay(f.delay if phase == "start" else 0.0)
