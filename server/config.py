"""The configuration: Redis 7.0's parameter table, CONFIG GET/SET, redis.conf files and flags.

Design note
-----------
Each parameter is a ``Param``: its Redis name (and aliases such as ``slaveof``), a type that
parses and formats values (``Bool``, ``Int``, ``Memory``, ``Enum``, ``String``, or a special
type for ``save``, ``bind``, ``client-output-buffer-limit``...), its default, and whether
CONFIG SET may change it. ``Config`` holds the current values; the node subscribes to the
ones it must act on (``Config.watch``). Values are stored parsed (ints, bools, strings) and
formatted on the way out the way CONFIG GET prints them.

Sources, in the order redis-server reads them: the compiled-in defaults, then a
redis.conf-syntax file (``include`` allowed), then ``--name value`` pairs from the command
line, which are appended to the file's text as lines, exactly as redis-server does.
"""

from __future__ import annotations

import fnmatch  # noqa: F401  (kept for callers that want shell globs)
import os
from collections.abc import Callable
from typing import Any

from .glob import stringmatch


class ConfigError(Exception):
    """A value or directive was refused; ``str(exc)`` is Redis's reason text."""


# -- value types ---------------------------------------------------------------------------


def parse_memory(text: str) -> int | None:
    """Redis memtoull: an integer with an optional unit (k, kb, m, mb, g, gb; case-insensitive)."""
    t = text.strip().lower()
    units = {
        "": 1,
        "b": 1,
        "k": 1000,
        "kb": 1024,
        "m": 1000**2,
        "mb": 1024**2,
        "g": 1000**3,
        "gb": 1024**3,
    }
    i = len(t)
    while i > 0 and t[i - 1].isalpha():
        i -= 1
    num, unit = t[:i], t[i:]
    if unit not in units or not num:
        return None
    if num[0] == "-":
        digits = num[1:]
    else:
        digits = num
    if not digits.isdigit():
        return None
    return int(num) * units[unit]


class Type:
    """Parses CONFIG SET / file text into a value and formats it for CONFIG GET."""

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def format(self, value: Any) -> str:
        return str(value)


class Bool(Type):
    def parse(self, text: str) -> bool:
        t = text.lower()
        if t == "yes":
            return True
        if t == "no":
            return False
        raise ConfigError("argument must be 'yes' or 'no'")

    def format(self, value: bool) -> str:
        return "yes" if value else "no"


class Int(Type):
    def __init__(self, lo: int = -(2**63), hi: int = 2**63 - 1, memory: bool = False):
        self.lo, self.hi, self.memory = lo, hi, memory

    def parse(self, text: str) -> int:
        if self.memory:
            v = parse_memory(text)
            if v is None:
                raise ConfigError("argument must be a memory value")
        else:
            t = text.strip()
            try:
                if not t or t != text or t.startswith("+") or "_" in t:
                    raise ValueError
                v = int(t)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer") from None
        if v < self.lo or v > self.hi:
            raise ConfigError(f"argument must be between {self.lo} and {self.hi} inclusive")
        return v


def Memory(lo: int = 0, hi: int = 2**63 - 1) -> Int:
    return Int(lo, hi, memory=True)


class Enum(Type):
    def __init__(self, *choices: str):
        self.choices = choices

    def parse(self, text: str) -> str:
        t = text.lower()
        if t not in self.choices:
            raise ConfigError("argument(s) must be one of the following: " + ", ".join(self.choices))
        return t


class String(Type):
    def parse(self, text: str) -> str:
        return text


class Save(Type):
    """``save "3600 1 300 100"``: pairs of seconds and changes; "" disables snapshots."""

    def parse(self, text: str) -> list[tuple[int, int]]:
        parts = text.split()
        if len(parts) % 2:
            raise ConfigError("Invalid save parameters")
        points = []
        for i in range(0, len(parts), 2):
            try:
                s, c = int(parts[i]), int(parts[i + 1])
            except ValueError:
                raise ConfigError("Invalid save parameters") from None
            if s < 1 or c < 0:
                raise ConfigError("Invalid save parameters")
            points.append((s, c))
        return points

    def format(self, value: list[tuple[int, int]]) -> str:
        return " ".join(f"{s} {c}" for s, c in value)


class Words(Type):
    """A space-separated list (bind, latency percentiles, oom-score-adj-values)."""

    def __init__(self, count: int | None = None, item: Callable[[str], Any] = str):
        self.count, self.item = count, item

    def parse(self, text: str) -> list:
        parts = text.split()
        if self.count is not None and len(parts) != self.count:
            raise ConfigError("Invalid number of arguments")
        try:
            return [self.item(p) for p in parts]
        except ValueError:
            raise ConfigError("Invalid argument") from None

    def format(self, value: list) -> str:
        return " ".join(_fmt_word(v) for v in value)


def _fmt_word(v) -> str:
    if isinstance(v, float):
        return ("%f" % v).rstrip("0").rstrip(".")
    return str(v)


CLIENT_CLASSES = ("normal", "slave", "pubsub")


class OutputBufferLimits(Type):
    """``client-output-buffer-limit <class> <hard> <soft> <soft seconds> ...``.

    The value is a dict class -> (hard, soft, soft_seconds); a SET may name some classes
    only, so ``parse`` needs the current value to merge into.
    """

    def parse(self, text: str, current: dict | None = None) -> dict:
        parts = text.split()
        if len(parts) % 4:
            raise ConfigError("Wrong number of arguments in buffer limit configuration.")
        value = dict(current or DEFAULT_OUTPUT_LIMITS)
        for i in range(0, len(parts), 4):
            cls = parts[i].lower()
            if cls == "replica":
                cls = "slave"
            if cls not in CLIENT_CLASSES:
                raise ConfigError("Invalid client class specified in buffer limit configuration.")
            hard = parse_memory(parts[i + 1])
            soft = parse_memory(parts[i + 2])
            try:
                secs = int(parts[i + 3])
            except ValueError:
                secs = -1
            if hard is None or soft is None or secs < 0 or hard < 0 or soft < 0:
                raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            value[cls] = (hard, soft, secs)
        return value

    def format(self, value: dict) -> str:
        return " ".join(f"{c} {value[c][0]} {value[c][1]} {value[c][2]}" for c in CLIENT_CLASSES)


DEFAULT_OUTPUT_LIMITS = {
    "normal": (0, 0, 0),
    "slave": (256 * 1024 * 1024, 64 * 1024 * 1024, 60),
    "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60),
}

# notify-keyspace-events flag letters, in the order CONFIG GET prints them.
NOTIFY_CLASSES = "g$lshzxetdn"
NOTIFY_ALL = "g$lshzxetd"  # what 'A' stands for (no m, no n)


class NotifyFlags(Type):
    def parse(self, text: str) -> str:
        flags = set()
        for ch in text:
            if ch == "A":
                flags.update(NOTIFY_ALL)
            elif ch in NOTIFY_CLASSES or ch in "KEm":
                flags.add(ch)
            else:
                raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        return "".join(sorted(flags, key=lambda c: "g$lshzxetdnKEmA".index(c)))

    def format(self, value: str) -> str:
        if set(NOTIFY_ALL) <= set(value):
            rest = "".join(c for c in value if c not in NOTIFY_ALL)
            ordered = "".join(c for c in "nKEm" if c in rest)
            return "A" + ordered
        order = "g$lshzxetdnKEm"
        return "".join(c for c in order if c in value)


class Replicaof(Type):
    def parse(self, text: str):
        parts = text.split()
        if not parts or (len(parts) == 2 and parts[0].lower() == "no" and parts[1].lower() == "one"):
            return None
        if len(parts) != 2:
            raise ConfigError("wrong number of arguments")
        try:
            port = int(parts[1])
        except ValueError:
            raise ConfigError("Invalid master port") from None
        return (parts[0], port)

    def format(self, value) -> str:
        return "" if value is None else f"{value[0]} {value[1]}"


class Octal(Type):
    def parse(self, text: str) -> int:
        try:
            return int(text, 8)
        except ValueError:
            raise ConfigError("argument couldn't be parsed into an integer") from None

    def format(self, value: int) -> str:
        return "%o" % value


# -- the table -----------------------------------------------------------------------------


class Param:
    __slots__ = ("name", "type", "default", "mutable", "aliases", "protected")

    def __init__(self, name, type_, default, mutable=True, aliases=(), protected=False):
        self.name = name
        self.type = type_
        self.default = default
        self.mutable = mutable
        self.aliases = tuple(aliases)
        self.protected = protected


B, E_, I, M, S = Bool(), Enum, Int, Memory, String()
LL = 2**63 - 1
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1

PARAMS: list[Param] = [
    # -- general / network
    Param("port", I(0, 65535), 6379, mutable=True),
    Param("bind", Words(), ["127.0.0.1", "-::1"]),
    Param("bind-source-addr", S, ""),
    Param("protected-mode", B, True),
    Param("tcp-backlog", I(0, INT_MAX), 511, mutable=False),
    Param("unixsocket", S, "", mutable=False),
    Param("unixsocketperm", Octal(), 0, mutable=False),
    Param("timeout", I(0, INT_MAX), 0),
    Param("tcp-keepalive", I(0, INT_MAX), 300),
    Param("socket-mark-id", I(0, INT_MAX), 0),
    Param("daemonize", B, False, mutable=False),
    Param("supervised", E_("upstart", "systemd", "auto", "no"), "no", mutable=False),
    Param("pidfile", S, "", mutable=False),
    Param("loglevel", E_("debug", "verbose", "notice", "warning", "nothing"), "notice"),
    Param("logfile", S, "", mutable=False),
    Param("syslog-enabled", B, False, mutable=False),
    Param("syslog-ident", S, "redis", mutable=False),
    Param("syslog-facility", E_("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"), "local0", mutable=False),
    Param("crash-log-enabled", B, True),
    Param("crash-memcheck-enabled", B, True),
    Param("databases", I(1, INT_MAX), 16, mutable=False),
    Param("always-show-logo", B, False, mutable=False),
    Param("set-proc-title", B, True, mutable=False),
    Param("proc-title-template", S, "{title} {listen-addr} {server-mode}"),
    Param("enable-protected-configs", E_("no", "yes", "local"), "no", mutable=False),
    Param("enable-debug-command", E_("no", "yes", "local"), "no", mutable=False),
    Param("enable-module-command", E_("no", "yes", "local"), "no", mutable=False),
    Param("io-threads", I(1, 128), 1, mutable=False),
    Param("io-threads-do-reads", B, False, mutable=False),
    Param("hz", I(0, INT_MAX), 10),
    Param("dynamic-hz", B, True),
    Param("ignore-warnings", S, ""),
    Param("disable-thp", B, True, mutable=False),
    Param("jemalloc-bg-thread", B, True),
    Param("oom-score-adj", E_("no", "yes", "relative", "absolute"), "no"),
    Param("oom-score-adj-values", Words(3, int), [0, 200, 800]),
    Param("server_cpulist", S, "", mutable=False),
    Param("bio_cpulist", S, "", mutable=False),
    Param("aof_rewrite_cpulist", S, "", mutable=False),
    Param("bgsave_cpulist", S, "", mutable=False),
    Param("shutdown-timeout", I(0, INT_MAX), 10),
    Param("shutdown-on-sigint", E_("default", "save", "nosave", "now", "force"), "default"),
    Param("shutdown-on-sigterm", E_("default", "save", "nosave", "now", "force"), "default"),
    # -- security and limits
    Param("requirepass", S, ""),
    Param("masterauth", S, ""),
    Param("masteruser", S, ""),
    Param("aclfile", S, "", mutable=False),
    Param("acllog-max-len", I(0, LL), 128),
    Param("acl-pubsub-default", E_("allchannels", "resetchannels"), "resetchannels"),
    Param("maxclients", I(1, INT_MAX), 10000),
    Param("proto-max-bulk-len", M(1024 * 1024, LL), 512 * 1024 * 1024),
    Param("client-query-buffer-limit", M(1024 * 1024, LL), 1024 * 1024 * 1024),
    Param("client-output-buffer-limit", OutputBufferLimits(), dict(DEFAULT_OUTPUT_LIMITS)),
    Param("maxmemory-clients", M(0, LL), 0),
    Param("tracking-table-max-keys", I(0, LL), 1000000),
    # -- memory and eviction
    Param("maxmemory", M(0, LL), 0),
    Param("maxmemory-policy", E_("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"), "noeviction"),
    Param("maxmemory-samples", I(1, 64), 5),
    Param("maxmemory-eviction-tenacity", I(0, 100), 10),
    Param("lfu-log-factor", I(0, INT_MAX), 10),
    Param("lfu-decay-time", I(0, INT_MAX), 1),
    Param("active-expire-effort", I(1, 10), 1),
    Param("lazyfree-lazy-eviction", B, False),
    Param("lazyfree-lazy-expire", B, False),
    Param("lazyfree-lazy-server-del", B, False),
    Param("lazyfree-lazy-user-del", B, False),
    Param("lazyfree-lazy-user-flush", B, False),
    Param("activedefrag", B, False),
    Param("active-defrag-cycle-max", I(1, 99), 25),
    Param("active-defrag-cycle-min", I(1, 99), 1),
    Param("active-defrag-ignore-bytes", M(1, LL), 100 * 1024 * 1024),
    Param("active-defrag-max-scan-fields", I(1, LL), 1000),
    Param("active-defrag-threshold-lower", I(0, 1000), 10),
    Param("active-defrag-threshold-upper", I(0, 1000), 100),
    Param("activerehashing", B, True),
    # -- encodings
    Param("hash-max-listpack-entries", I(0, LL), 512, aliases=("hash-max-ziplist-entries",)),
    Param("hash-max-listpack-value", I(0, LL), 64, aliases=("hash-max-ziplist-value",)),
    Param("list-max-listpack-size", I(-5, INT_MAX), -2, aliases=("list-max-ziplist-size",)),
    Param("list-compress-depth", I(0, INT_MAX), 0),
    Param("set-max-intset-entries", I(0, LL), 512),
    Param("zset-max-listpack-entries", I(0, LL), 128, aliases=("zset-max-ziplist-entries",)),
    Param("zset-max-listpack-value", I(0, LL), 64, aliases=("zset-max-ziplist-value",)),
    Param("hll-sparse-max-bytes", M(0, LL), 3000),
    Param("stream-node-max-bytes", M(0, LL), 4096),
    Param("stream-node-max-entries", I(0, LL), 100),
    # -- persistence
    Param("save", Save(), [(3600, 1), (300, 100), (60, 10000)]),
    Param("dbfilename", S, "dump.rdb", protected=True),
    Param("dir", S, "", protected=True),
    Param("rdbcompression", B, True),
    Param("rdbchecksum", B, True),
    Param("rdb-del-sync-files", B, False),
    Param("rdb-save-incremental-fsync", B, True),
    Param("stop-writes-on-bgsave-error", B, True),
    Param("sanitize-dump-payload", E_("no", "yes", "clients"), "no"),
    Param("appendonly", B, False),
    Param("appendfilename", S, "appendonly.aof", mutable=False),
    Param("appenddirname", S, "appendonlydir", mutable=False),
    Param("appendfsync", E_("always", "everysec", "no"), "everysec"),
    Param("no-appendfsync-on-rewrite", B, False),
    Param("auto-aof-rewrite-percentage", I(0, INT_MAX), 100),
    Param("auto-aof-rewrite-min-size", M(0, LL), 64 * 1024 * 1024),
    Param("aof-load-truncated", B, True),
    Param("aof-use-rdb-preamble", B, True),
    Param("aof-rewrite-incremental-fsync", B, True),
    Param("aof-timestamp-enabled", B, False),
    Param("aof-disable-auto-gc", B, False),
    # -- replication
    Param("replicaof", Replicaof(), None, aliases=("slaveof",)),
    Param("replica-serve-stale-data", B, True, aliases=("slave-serve-stale-data",)),
    Param("replica-read-only", B, True, aliases=("slave-read-only",)),
    Param("replica-ignore-maxmemory", B, True, aliases=("slave-ignore-maxmemory",)),
    Param("replica-lazy-flush", B, False, aliases=("slave-lazy-flush",)),
    Param("replica-priority", I(0, INT_MAX), 100, aliases=("slave-priority",)),
    Param("replica-announce-ip", S, "", aliases=("slave-announce-ip",)),
    Param("replica-announce-port", I(0, 65535), 0, aliases=("slave-announce-port",)),
    Param("replica-announced", B, True),
    Param("replica-ignore-disk-write-errors", B, False),
    Param("repl-ping-replica-period", I(1, INT_MAX), 10, aliases=("repl-ping-slave-period",)),
    Param("repl-timeout", I(1, INT_MAX), 60),
    Param("repl-backlog-size", M(1, LL), 1024 * 1024),
    Param("repl-backlog-ttl", I(0, LL), 3600),
    Param("repl-diskless-sync", B, True),
    Param("repl-diskless-sync-delay", I(0, INT_MAX), 5),
    Param("repl-diskless-sync-max-replicas", I(0, INT_MAX), 0),
    Param("repl-diskless-load", E_("disabled", "on-empty-db", "swapdb"), "disabled"),
    Param("repl-disable-tcp-nodelay", B, False),
    Param("min-replicas-to-write", I(0, INT_MAX), 0, aliases=("min-slaves-to-write",)),
    Param("min-replicas-max-lag", I(0, INT_MAX), 10, aliases=("min-slaves-max-lag",)),
    Param("propagation-error-behavior", E_("ignore", "panic", "panic-on-replicas"), "ignore"),
    # -- scripting, monitoring
    Param("lua-time-limit", I(0, LL), 5000, aliases=("busy-reply-threshold",)),
    Param("slowlog-log-slower-than", I(-1, LL), 10000),
    Param("slowlog-max-len", I(0, LL), 128),
    Param("latency-monitor-threshold", I(0, LL), 0),
    Param("latency-tracking", B, True),
    Param("latency-tracking-info-percentiles", Words(None, float), [50.0, 99.0, 99.9]),
    Param("notify-keyspace-events", NotifyFlags(), ""),
    # -- cluster
    Param("cluster-enabled", B, False, mutable=False),
    Param("cluster-config-file", S, "nodes.conf", mutable=False),
    Param("cluster-node-timeout", I(0, LL), 15000),
    Param("cluster-port", I(0, 65535), 0, mutable=False),
    Param("cluster-announce-ip", S, ""),
    Param("cluster-announce-port", I(0, 65535), 0),
    Param("cluster-announce-bus-port", I(0, 65535), 0),
    Param("cluster-announce-tls-port", I(0, 65535), 0),
    Param("cluster-announce-hostname", S, ""),
    Param("cluster-preferred-endpoint-type", E_("ip", "hostname", "unknown-endpoint"), "ip"),
    Param("cluster-require-full-coverage", B, True),
    Param("cluster-replica-no-failover", B, False, aliases=("cluster-slave-no-failover",)),
    Param("cluster-replica-validity-factor", I(0, INT_MAX), 10, aliases=("cluster-slave-validity-factor",)),
    Param("cluster-migration-barrier", I(0, INT_MAX), 1),
    Param("cluster-allow-replica-migration", B, True),
    Param("cluster-allow-reads-when-down", B, False),
    Param("cluster-allow-pubsubshard-when-down", B, True),
    Param("cluster-link-sendbuf-limit", M(0, LL), 0),
    # -- TLS (accepted and reported; Vermilion does not speak TLS)
    Param("tls-port", I(0, 65535), 0, mutable=False),
    Param("tls-cert-file", S, ""),
    Param("tls-key-file", S, ""),
    Param("tls-key-file-pass", S, ""),
    Param("tls-client-cert-file", S, ""),
    Param("tls-client-key-file", S, ""),
    Param("tls-client-key-file-pass", S, ""),
    Param("tls-dh-params-file", S, ""),
    Param("tls-ca-cert-file", S, ""),
    Param("tls-ca-cert-dir", S, ""),
    Param("tls-auth-clients", E_("no", "yes", "optional"), "yes"),
    Param("tls-replication", B, False),
    Param("tls-cluster", B, False),
    Param("tls-protocols", S, ""),
    Param("tls-ciphers", S, ""),
    Param("tls-ciphersuites", S, ""),
    Param("tls-prefer-server-ciphers", B, False),
    Param("tls-session-caching", B, True),
    Param("tls-session-cache-size", I(0, INT_MAX), 20480),
    Param("tls-session-cache-timeout", I(0, INT_MAX), 300),
]

BY_NAME: dict[str, Param] = {}
for _p in PARAMS:
    BY_NAME[_p.name] = _p
    for _a in _p.aliases:
        BY_NAME[_a] = _p


class Config:
    """Current parameter values; the node reacts to changes through ``watch``."""

    def __init__(self):
        self.values: dict[str, Any] = {p.name: _copy(p.default) for p in PARAMS}
        if not self.values["dir"]:
            self.values["dir"] = os.getcwd()
        self.file: str | None = None  # the config file given at startup (CONFIG REWRITE target)
        self._file_seen: set[str] = set()
        self._watchers: dict[str, list[Callable[[Any], None]]] = {}

    # -- access ----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.values[BY_NAME[name].name]

    def get(self, name: str, default=None) -> Any:
        p = BY_NAME.get(name)
        return self.values[p.name] if p else default

    def format(self, name: str) -> str:
        p = BY_NAME[name]
        return p.type.format(self.values[p.name])

    def watch(self, name: str, callback: Callable[[Any], None]) -> None:
        """Call ``callback(value)`` whenever ``name`` changes."""
        self._watchers.setdefault(BY_NAME[name].name, []).append(callback)

    # -- CONFIG GET --------------------------------------------------------------------------
    def get_matching(self, patterns: list[bytes]) -> list[tuple[str, str]]:
        """(name, value) for every parameter or alias matching any pattern (CONFIG GET)."""
        out: dict[str, str] = {}
        for pat in patterns:
            p = pat.decode("latin-1")
            exact = BY_NAME.get(p.lower())
            if exact is not None and not any(ch in p for ch in "*?[\\"):
                out[p.lower()] = self.format(p.lower())
                continue
            for name, param in BY_NAME.items():
                if name not in out and stringmatch(pat, name.encode(), nocase=True):
                    out[name] = param.type.format(self.values[param.name])
        return list(out.items())

    # -- CONFIG SET ------------------------------------------------------------------------
    def parse_value(self, name: str, text: str) -> Any:
        p = BY_NAME[name]
        if isinstance(p.type, OutputBufferLimits):
            return p.type.parse(text, self.values[p.name])
        return p.type.parse(text)

    def set(self, name: str, text: str, *, startup: bool = False) -> None:
        """Set one parameter from text (raises ConfigError)."""
        p = BY_NAME.get(name.lower())
        if p is None:
            raise ConfigError("unknown")
        if not startup and not p.mutable:
            raise ConfigError("can't set immutable config")
        self.apply(p.name, self.parse_value(p.name, text))

    def apply(self, name: str, value: Any) -> None:
        name = BY_NAME[name].name
        old = self.values.get(name)
        self.values[name] = value
        if old != value:
            for cb in self._watchers.get(name, ()):
                cb(value)

    def set_many(self, pairs: list[tuple[str, str]]) -> None:
        """CONFIG SET with several pairs: all validated first, applied together, rolled back
        if applying one fails. Raises ConfigError(name, reason)."""
        seen = set()
        parsed = []
        for name, text in pairs:
            p = BY_NAME.get(name.lower())
            if p is None:
                raise SetError(name, None)
            if p.name in seen:
                raise SetError(name, "duplicate parameter")
            seen.add(p.name)
            if not p.mutable:
                raise SetError(name, "can't set immutable config")
            try:
                parsed.append((p, self.parse_value(p.name, text)))
            except ConfigError as exc:
                raise SetError(name, str(exc)) from None
        old = {p.name: self.values[p.name] for p, _ in parsed}
        try:
            for p, value in parsed:
                self.apply(p.name, value)
        except ConfigError as exc:
            for name, value in old.items():
                self.values[name] = value
            raise SetError(parsed[0][0].name, str(exc)) from None

    def reset_defaults(self) -> None:
        for p in PARAMS:
            self.values[p.name] = _copy(p.default)

    # -- files and flags -------------------------------------------------------------------
    def load_text(self, text: str, base_dir: str = ".", depth: int = 0) -> None:
        """Apply redis.conf-syntax text: one directive per line, quoting as in redis.conf."""
        from protocol.reader import split_inline

        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            args = split_inline(line.encode("latin-1"))
            if args is None:
                raise ConfigError(f"line {lineno}: Unbalanced quotes in configuration line")
            if not args:
                continue
            words = [a.decode("latin-1") for a in args]
            directive = words[0].lower()
            if directive == "include":
                if len(words) != 2:
                    raise ConfigError(f"line {lineno}: wrong number of arguments")
                path = words[1]
                if not os.path.isabs(path):
                    path = os.path.join(base_dir, path)
                if depth > 16:
                    raise ConfigError("include nesting too deep")
                with open(path, encoding="latin-1") as f:
                    self.load_text(f.read(), os.path.dirname(path), depth + 1)
                continue
            if directive in ("rename-command", "user", "loadmodule"):
                continue  # accepted, not applied (no ACL users or modules here)
            p = BY_NAME.get(directive)
            if p is None:
                raise ConfigError(f"line {lineno}: Bad directive or wrong number of arguments")
            value = " ".join(words[1:]) if len(words) > 2 or isinstance(p.type, (Words, Save, OutputBufferLimits, Replicaof)) else (words[1] if len(words) > 1 else "")
            if directive == "save" and len(words) == 2 and words[1] == "":
                value = ""
            try:
                if isinstance(p.type, (Save, OutputBufferLimits)) and p.name in self._file_seen:
                    # Repeated save / client-output-buffer-limit lines accumulate.
                    if isinstance(p.type, Save):
                        self.values[p.name] = self.values[p.name] + p.type.parse(value)
                    else:
                        self.values[p.name] = p.type.parse(value, self.values[p.name])
                    continue
                self._file_seen.add(p.name)
                self.values[p.name] = self.parse_value(p.name, value)
            except ConfigError as exc:
                raise ConfigError(f"line {lineno}: {exc}") from None

    def load(self, path: str | None, args: list[str]) -> None:
        """Startup: the file (if any), then ``--name value ...`` flags, as redis-server does."""
        self._file_seen = set()
        text = ""
        if path is not None:
            self.file = os.path.abspath(path)
            if path == "-":
                import sys

                text = sys.stdin.read()
            else:
                with open(path, encoding="latin-1") as f:
                    text = f.read()
        text += "\n" + flags_to_text(args)
        self.load_text(text, os.path.dirname(self.file or "."))

    def rewrite(self) -> None:
        """CONFIG REWRITE: rewrite the startup file with the current values, keeping its
        comments and order; changed defaults go at the end."""
        if self.file is None:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.file, encoding="latin-1") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        from protocol.reader import split_inline

        done: set[str] = set()
        out: list[str] = []
        for raw in lines:
            stripped = raw.strip()
            args = split_inline(stripped.encode("latin-1")) if stripped and not stripped.startswith("#") else None
            if not args:
                out.append(raw)
                continue
            p = BY_NAME.get(args[0].decode("latin-1").lower())
            if p is None:
                out.append(raw)
                continue
            if p.name in done:
                continue
            done.add(p.name)
            out.extend(self._rewrite_lines(p))
        for p in PARAMS:
            if p.name in done or self.values[p.name] == p.default:
                continue
            if p.name == "dir" and self.values["dir"] == os.getcwd():
                continue
            out.extend(self._rewrite_lines(p))
        tmp = self.file + ".tmp"
        with open(tmp, "w", encoding="latin-1") as f:
            f.write("\n".join(out) + "\n")
        os.replace(tmp, self.file)

    def _rewrite_lines(self, p: Param) -> list[str]:
        value = self.values[p.name]
        if isinstance(p.type, Save):
            if not value:
                return ['save ""']
            return [f"save {s} {c}" for s, c in value]
        if isinstance(p.type, OutputBufferLimits):
            return [f"client-output-buffer-limit {c} {value[c][0]} {value[c][1]} {value[c][2]}" for c in CLIENT_CLASSES]
        if p.name == "replicaof" and value is None:
            return []
        text = p.type.format(value)
        return [f"{p.name} {_quote(text)}"]


class SetError(ConfigError):
    """CONFIG SET refused ``name``; ``reason`` None means the name is unknown."""

    def __init__(self, name: str, reason: str | None):
        super().__init__(reason or "unknown")
        self.name = name
        self.reason = reason


def _quote(text: str) -> str:
    if text == "" or any(ch in text for ch in " \t\"'\\") or not text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _copy(value):
    if isinstance(value, (list, dict)):
        return type(value)(value)
    return value


def flags_to_text(args: list[str]) -> str:
    """redis-server's command line: ``--port 7000 --save "" --replicaof h p`` becomes config
    lines; every word after ``--name`` up to the next ``--`` belongs to it."""
    lines: list[str] = []
    cur: list[str] | None = None
    for arg in args:
        if arg.startswith("--") and len(arg) > 2:
            if cur is not None:
                lines.append(" ".join(cur))
            cur = [arg[2:]]
        elif cur is not None:
            cur.append(_quote(arg))
        else:
            raise ConfigError(f"Invalid argument '{arg}'")
    if cur is not None:
        if len(cur) == 1 and cur[0] == "save":
            cur.append('""')
        lines.append(" ".join(cur))
    return "\n".join(lines) + "\n"
