"""One Vermilion node: a Redis 7.0-compatible server.

- ``node``         Node: owns config, databases, command table, clients; start/stop, embedding
- ``connection``   Client: the asyncio.Protocol hot path (read -> parse -> dispatch -> reply)
- ``dispatch``     the gates in Redis's order, execution, commandstats, slowlog, propagation
- ``keyspace``     Database (dict + expires + access clocks), lazy and active expiry, Clock
- ``config``       the parameter table, CONFIG GET/SET/REWRITE, redis.conf files and flags
- ``commands/``    the command table and one module per command group
- ``errors``       every error text, and CommandError
- ``glob``         Redis's glob patterns (KEYS, SCAN MATCH, CONFIG GET)
- ``notify``       keyspace notifications
- ``log``          Redis-format log lines
- ``__main__``     ``python -m server [config-file] [--name value ...]``
"""

from .node import Node

__all__ = ["Node"]
