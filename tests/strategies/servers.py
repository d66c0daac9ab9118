"""Cache servers and databases the strategy tests run against, with real faults.

``CacheUnderTest`` is one cache server a test can kill and restart on the same port:
``VermilionCache`` is an in-process node in the test's own event loop (``Node.stop()`` then a
new ``Node`` on the same port: the data is gone, as after a crash without persistence);
``RedisCache`` is Debian's redis-server as a subprocess (SIGKILL, then a new process on the
same port). ``PostgresCluster`` is a throwaway PostgreSQL cluster (initdb + pg_ctl in a
temporary directory, on a free loopback port, as the ``postgres`` user when run as root).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

import strategies
from server import Node
from tests.support.servers import REDIS_SERVER, free_port, have_redis


async def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on port {port}") from None
            await asyncio.sleep(0.02)
            continue
        w.close()
        return


class CacheUnderTest:
    kind = "?"
    port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, timeout: float = 0.5, **kwargs):
        return strategies.connect(self.url, timeout=timeout, **kwargs)

    async def start(self) -> None:
        raise NotImplementedError

    async def kill(self) -> None:
        raise NotImplementedError

    async def restart(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.kill()


class VermilionCache(CacheUnderTest):
    kind = "vermilion"

    def __init__(self):
        self.node: Node | None = None
        self._workdir: str | None = None

    def _dir(self) -> str:
        if self._workdir is None:
            import tempfile

            self._workdir = tempfile.mkdtemp(prefix="vermilion-cache-")
        return self._workdir

    async def start(self) -> None:
        # Its own directory: never load (or leave) a dump.rdb in the checkout.
        self.node = Node(port=self.port, save="", bind="127.0.0.1", dir=self._dir())
        await self.node.start()
        self.port = self.node.port

    async def kill(self) -> None:
        if self.node is not None:
            node, self.node = self.node, None
            await node.stop()


class RedisCache(CacheUnderTest):
    kind = "redis"

    def __init__(self):
        if not have_redis():
            raise RuntimeError("redis-server is not installed: ./dev.sh test installs it")
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="strategies-redis-")
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.workdir,
                "--logfile", os.path.join(self.workdir, "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await wait_port(self.port)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait, 10)
        self.proc = None

    async def stop(self) -> None:
        await self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def make_cache_server(kind: str) -> CacheUnderTest:
    return VermilionCache() if kind == "vermilion" else RedisCache()


# -- PostgreSQL ------------------------------------------------------------------------------

def _pg_bindir() -> str | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    initdb = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(initdb)) if initdb else None


class PostgresCluster:
    """initdb + pg_ctl into a temporary directory; ``dsn`` once started."""

    def __init__(self):
        self.bindir = _pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed: ./dev.sh test installs Debian's postgresql")
        self.root = tempfile.mkdtemp(prefix="strategies-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)

    def start(self) -> PostgresCluster:
        self._run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-o", opts,
                  "-l", os.path.join(self.root, "log"), "-w", "-t", "30", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
