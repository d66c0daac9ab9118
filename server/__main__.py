"""``python -m server [config-file] [--name value ...] [-]``, exactly as ``redis-server`` takes them.

Thin on purpose: read the configuration the way redis-server's main() does (file, then stdin
with ``-``, then the command-line options as extra config lines), log the startup lines, make
a Node, run it on uvloop, and turn SIGTERM/SIGINT into an orderly shutdown (exit status 0).
A bad configuration prints Redis's "FATAL CONFIG FILE ERROR" report on stderr and exits with 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from .config import DEFAULT_PIDFILE, Config, FileError, OpenError
from .log import Logger
from .node import REDIS_VERSION, VERMILION_VERSION, Node
from .persistence import DataLoadError

PROGRAM = "python -m server"

USAGE = f"""Usage: {PROGRAM} [/path/to/redis.conf] [options] [-]
       {PROGRAM} - (read config from stdin)
       {PROGRAM} -v or --version
       {PROGRAM} -h or --help

Examples:
       {PROGRAM} (run the server with default conf)
       echo 'maxmemory 128mb' | {PROGRAM} -
       {PROGRAM} /etc/redis/6379.conf
       {PROGRAM} --port 7777
       {PROGRAM} --port 7777 --replicaof 127.0.0.1 8888
       {PROGRAM} /etc/myredis.conf --loglevel verbose -
       {PROGRAM} /etc/myredis.conf --loglevel verbose
"""

VERSION = f"Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=vermilion-{VERMILION_VERSION}"


def early_log(config: Config, message: str, level: str = "warning") -> None:
    """A line logged before the node exists (role ``C``, like redis-server's first lines)."""
    log = Logger(config.values["logfile"], config.values["loglevel"], role="C")
    try:
        getattr(log, level)(message)
    finally:
        log.close()


def load_config(config: Config, argv: list[str]) -> None:
    """Read argv (without the program name) into ``config`` as redis-server does: a first
    argument not starting with '-' is the config file. Raises FileError or OpenError."""
    config.chdir = True
    config.on_warning = lambda message: early_log(config, message)
    path = argv[0] if argv and not argv[0].startswith("-") else None
    options = argv[1:] if path is not None else argv
    # Option values become config text, which is bytes to Redis: keep each byte as one char.
    config.load(path, [os.fsencode(a).decode("latin-1") for a in options])


def daemonize() -> None:
    """Fork into the background (redis daemonize()): the parent exits, the child leads a new
    session with its standard streams on /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    if fd > 2:
        os.close(fd)


def write_pidfile(path: str) -> None:
    try:
        with open(path, "w") as f:
            f.write("%d\n" % os.getpid())
    except OSError:
        pass  # Redis ignores a pid file it cannot write


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print(VERSION)
        return 0
    if argv and argv[0] in ("-h", "--help"):
        sys.stderr.write(USAGE)
        return 1
    config = Config()
    try:
        load_config(config, argv)
    except FileError as exc:
        sys.stderr.write(exc.report(REDIS_VERSION))
        return 1
    except OpenError as exc:
        early_log(config, str(exc))
        return 1
    if not supported(config):
        return 1
    if config["daemonize"] and config["supervised"] in ("no", "auto"):
        daemonize()
        if not config["pidfile"]:
            config.values["pidfile"] = DEFAULT_PIDFILE
    log_startup(config, bool(argv))
    pidfile = config["pidfile"]
    if pidfile:
        write_pidfile(pidfile)
    try:
        return run(Node(config), pidfile)
    finally:
        remove_pidfile(None, pidfile)


def supported(config: Config) -> bool:
    """Refuse what this server cannot do, the way redis-server aborts on a failed module."""
    if config.modules:
        early_log(config, "Can't load module from %s: server aborting" % config.modules[0][0])
        return False
    if config.module_configs:
        early_log(config, "Module Configuration detected without loadmodule directive or no ApplyConfig "
                          "call: aborting")
        return False
    return True


def log_startup(config: Config, with_arguments: bool) -> None:
    early_log(config, "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    early_log(config, "Redis version=%s, bits=64, commit=00000000, modified=0, pid=%d, just started"
              % (REDIS_VERSION, os.getpid()))
    if with_arguments:
        early_log(config, "Configuration loaded")
    else:
        early_log(config, "Warning: no config file specified, using the default config. In order to specify "
                          "a config file use %s /path/to/redis.conf" % PROGRAM)


def remove_pidfile(node: Node | None, pidfile: str) -> None:
    if pidfile and os.path.exists(pidfile):
        if node is not None:
            node.log.notice("Removing the pid file.")
        try:
            os.unlink(pidfile)
        except OSError:
            pass


def run(node: Node, pidfile: str) -> int:
    """Serve until SHUTDOWN or a signal; the exit status."""
    import uvloop

    status = 0

    def on_signal(name: str) -> None:
        if node._shutdown_started:
            if name == "SIGINT":
                node.log.from_signal_handler("You insist... exiting now.")
                os._exit(1)
            return
        node.log.from_signal_handler("Received %s scheduling shutdown..." % name)
        if not node.rdb.shutdown_on_signal(name):  # the final save failed: keep running
            return
        node.shutdown()
        remove_pidfile(node, pidfile)  # logged between "User requested shutdown" and "bye bye"

    async def serve() -> None:
        nonlocal status
        loop = asyncio.get_running_loop()
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            loop.add_signal_handler(sig, on_signal, name)
        try:
            await node.start()
        except OSError as exc:
            node.log.warning("Warning: %s" % exc.strerror)
            node.log.warning("Failed listening on port %d (TCP), aborting." % node.config["port"])
            status = 1
            return
        except DataLoadError:  # the dataset on disk cannot be loaded; the reason is logged
            status = 1
            return
        await node.serve_forever()
        remove_pidfile(node, pidfile)

    uvloop.run(serve())
    return status


if __name__ == "__main__":
    sys.exit(main())
