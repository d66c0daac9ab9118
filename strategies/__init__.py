"""Client-side caching strategies on redis-py's asyncio client, and a lab that measures them.

What lives where
----------------
``entry.py``      the cache value format (a header the Lua scripts can read, then the payload)
``scripts.py``    the Lua scripts behind every conditional write (versioned set, lease release,
                  write-back queue)
``breaker.py``    an asyncio circuit breaker with Resilience4j's semantics
``resilience.py`` retry (tenacity) + breaker + timeout around each cache call; the
                  ``oliveyoung()`` preset; ``CacheError`` / ``CacheUnavailable``
``stampede.py``   single-flight, lease settings, XFetch, stale-while-revalidate
``cache.py``      ``Cache``: the read path with stampede control and fallback, version-guarded
                  fills/updates/invalidations, deferred repairs, optional local tier
``patterns.py``   look-aside, read-through, write-through, write-around
``writeback.py``  write-back with a coalescing queue in the cache and loss accounting
``db.py``         the database interface: SQLite (stdlib), PostgreSQL (asyncpg), ``Metered``
``lab/``          ``python -m strategies.lab``: workloads, fault injection, the report and chart

The library talks to cache servers only over the network, through ``redis.asyncio``; it works
the same against Vermilion and Redis. ``strategies/README.md`` has the guide and the numbers.
"""

from __future__ import annotations

from .breaker import BreakerConfig, BreakerOpen, CircuitBreaker, StateChange
from .cache import Cache, CacheStats
from .db import Database, Metered, PostgresDatabase, SQLiteDatabase
from .entry import Entry, Row
from .patterns import LookAside, ReadThrough, Strategy, WriteAround, WriteThrough
from .resilience import (
    CacheError,
    CacheUnavailable,
    Resilience,
    RetryPolicy,
    oliveyoung,
)
from .stampede import PRESETS as STAMPEDE_PRESETS
from .stampede import SingleFlight, StampedeControl
from .writeback import WriteBack

__all__ = [
    "BreakerConfig", "BreakerOpen", "Cache", "CacheError", "CacheStats", "CacheUnavailable",
    "CircuitBreaker", "Database", "Entry", "LookAside", "Metered", "PostgresDatabase",
    "ReadThrough", "Resilience", "RetryPolicy", "Row", "STAMPEDE_PRESETS", "SQLiteDatabase",
    "SingleFlight", "StampedeControl", "StateChange", "Strategy", "WriteAround", "WriteBack",
    "WriteThrough", "connect", "oliveyoung", "preflight",
]


def connect(url: str = "redis://127.0.0.1:6379/0", *, timeout: float = 1.0, **kwargs):
    """A ``redis.asyncio.Redis`` set up for the strategies: socket timeouts of ``timeout``
    seconds, and of redis-py's own retries only one immediate reconnect after a
    ConnectionError on an established connection.

    That one reconnect is for pooled connections the server closed while they sat idle (after
    a cache restart every one of them fails once: redis-py does not notice at checkout).
    Without it each would count as a failure for the breaker and reopen it right after the
    cache came back. Connection refused, timeouts and everything else surface at once, and
    ``Resilience`` decides about retrying them."""
    import redis.asyncio as aredis
    import redis.exceptions as rexc
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    kwargs.setdefault("socket_timeout", timeout)
    kwargs.setdefault("socket_connect_timeout", timeout)
    kwargs.setdefault("retry", Retry(NoBackoff(), 1, supported_errors=(rexc.ConnectionError,)))
    return aredis.Redis.from_url(url, **kwargs)


#: What each feature needs from the server, as probes: (feature, command argv).
_PROBES = (
    ("GET/SET with NX and PX (leases)", ("SET", "{probe}:k", "v", "NX", "PX", "10000")),
    ("EVAL (version-guarded writes, lease release)", ("EVAL", "return redis.call('GET', KEYS[1])", "1", "{probe}:k")),
    ("hashes in Lua: HSET/HGET/HDEL (write-back)", ("EVAL", "redis.call('HSET', KEYS[1], 'f', 'v') return redis.call('HDEL', KEYS[1], 'f')", "1", "{probe}:h")),
    ("lists in Lua: RPUSH/LRANGE/LTRIM (write-back)", ("EVAL", "redis.call('RPUSH', KEYS[1], 'a') redis.call('LTRIM', KEYS[1], 1, -1) return redis.call('LRANGE', KEYS[1], 0, -1)", "1", "{probe}:l")),
    ("HMGET (write-back loss check)", ("HMGET", "{probe}:h", "f")),
    ("LLEN (write-back flush_all)", ("LLEN", "{probe}:l")),
    ("DEL", ("DEL", "{probe}:k", "{probe}:h", "{probe}:l")),
)


async def preflight(redis) -> list[str]:
    """The features this server lacks (an empty list means every strategy can run)."""
    import redis.exceptions as rexc

    missing = []
    for feature, argv in _PROBES:
        try:
            await redis.execute_command(*argv)
        except rexc.ResponseError as exc:
            missing.append(f"{feature}: {exc}")
    return missing
