"""``python -m server [config-file] [--name value ...]``, as ``redis-server`` takes them.

Thin on purpose: parse the arguments into a Config, make a Node, run it on uvloop, and turn
SIGTERM/SIGINT into an orderly shutdown.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from .config import Config, ConfigError
from .node import REDIS_VERSION, VERMILION_VERSION, Node

USAGE = """Usage: python -m server [/path/to/redis.conf] [options] [-]
       python -m server - (read config from stdin)
       python -m server -v or --version
       python -m server -h or --help

Examples:
       python -m server (run the server with default config)
       python -m server /etc/redis/6379.conf
       python -m server --port 7777
       python -m server --port 7777 --replicaof 127.0.0.1 8888
       python -m server /etc/myredis.conf --loglevel verbose -
       python -m server /etc/myredis.conf --loglevel verbose
"""


def parse_args(argv: list[str]) -> Config:
    config = Config()
    path = None
    rest = argv
    if rest and not rest[0].startswith("--"):
        path = rest[0]
        rest = rest[1:]
    config.load(path, rest)
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print(f"Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=vermilion-{VERMILION_VERSION}")
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    try:
        config = parse_args(argv)
    except (ConfigError, OSError) as exc:
        print("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***", file=sys.stderr)
        print(f">>> {exc}", file=sys.stderr)
        return 1
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        uvloop = None
    node = Node(config)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
            loop.add_signal_handler(sig, node.shutdown, f"Received {name} scheduling shutdown...")
        try:
            await node.start()
        except OSError as exc:
            node.log.warning(str(exc))
            raise SystemExit(1) from None
        await node.serve_forever()

    if uvloop is not None:
        uvloop.run(run())
    else:
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
