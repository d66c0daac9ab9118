"""Server commands: INFO, TIME, MONITOR, SLOWLOG, LATENCY, MEMORY, DEBUG, SHUTDOWN.

Design note
-----------
INFO's text comes from ``server/info.py``; this module only parses and encodes. MONITOR
adds the client to ``node.monitors`` and ``node.recompute_gates()`` sends every command
through the dispatcher's full path, which calls ``feed_monitors`` after execution (admin
commands are never shown, as in Redis). The SLOWLOG entries are written by the dispatcher
(``dispatch.slowlog_add``); the latency monitor keeps one series per event in
``node.latency_events`` (``latency_add_sample``).

DEBUG implements what tools and test suites use without needing Redis internals (SLEEP,
SET-ACTIVE-EXPIRE, OBJECT, POPULATE, PROTOCOL, ERROR, LOG); other modules can add
subcommands with ``@debug_subcommand("reload")``. The remaining Redis subcommands answer
with a clear refusal instead of pretending.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from protocol import encoder as enc
from protocol.encoder import OK

from .. import errors as E
from .. import info as info_mod
from ..dispatch import _protected_allowed
from ..errors import CommandError
from ..shutdown import BLOCKED_SHUTDOWN, FAILED, SHUTDOWN_FAILED, WAITING
from .args import parse_int
from .connection import help_reply, subcommand_syntax_error
from .spec import command

# -- INFO TIME -------------------------------------------------------------------------------


@command("info")
def info(c, argv):
    return c.proto.verbatim(info_mod.generate(c.node, argv[1:]))


@command("time")
def time_(c, argv):
    now = time.time_ns() // 1000
    return enc.bulk_array([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)])


# -- MONITOR ---------------------------------------------------------------------------------


def deny_blocking(c) -> bool:
    """CLIENT_DENY_BLOCKING: inside MULTI/EXEC or a script a client cannot wait or stream."""
    return c.multi is not None or getattr(c, "in_exec", False) or getattr(c, "in_script", False)


@command("monitor")
def monitor(c, argv):
    if deny_blocking(c):
        raise CommandError("MONITOR isn't allowed for DENY BLOCKING client")
    if c.is_monitor or c.is_replica:
        return b""  # already streaming: Redis ignores it without a reply
    node = c.node
    c.is_monitor = True
    node.monitors.append(c)
    node.recompute_gates()
    return OK


def _repr_table() -> list[bytes]:
    table = []
    for i in range(256):
        ch = bytes([i])
        if ch in b'\\"':
            table.append(b"\\" + ch)
        elif ch in _ESCAPES:
            table.append(_ESCAPES[ch])
        elif 0x20 <= i <= 0x7E:
            table.append(ch)
        else:
            table.append(b"\\x%02x" % i)
    return table


_ESCAPES = {b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t", b"\a": b"\\a", b"\b": b"\\b"}
_REPR = _repr_table()


def sds_repr(arg: bytes) -> bytes:
    """sdscatrepr: a double-quoted, escaped rendering of ``arg``."""
    if arg.isascii() and arg.isalnum():
        return b'"' + arg + b'"'
    table = _REPR
    return b'"' + b"".join([table[b] for b in arg]) + b'"'


def monitor_line(c, argv: list[bytes], now: float | None = None) -> bytes:
    """``+<unix.micro> [<db> <addr>] "cmd" "arg"...`` (replicationFeedMonitors)."""
    us = time.time_ns() // 1000 if now is None else int(now * 1_000_000)
    if getattr(c, "is_script", False):
        origin = b"lua"
    else:
        origin = c.addr.encode("latin-1")
    head = b"+%d.%06d [%d %b] " % (us // 1_000_000, us % 1_000_000, c.db.id, origin)
    return head + b" ".join([sds_repr(a) for a in argv]) + b"\r\n"


def feed_monitors(node, c, argv) -> None:
    """Send ``argv`` to every MONITOR client (replicationFeedMonitors)."""
    if node.loading:
        return
    line = monitor_line(c, argv)
    for m in node.monitors:
        if not m.closed:
            m.reply_async(line)


# -- SLOWLOG ---------------------------------------------------------------------------------

SLOWLOG_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


@command("slowlog|help")
def slowlog_help(c, argv):
    return help_reply(SLOWLOG_HELP)


@command("slowlog|get")
def slowlog_get(c, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    log = c.node.slowlog
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < -1:
            raise CommandError("count should be greater than or equal to -1")
        if count == -1:
            count = len(log)
    out = []
    for entry_id, when, duration, args, addr, name in log[:count]:
        out.append(
            b"*6\r\n" + enc.integer(entry_id) + enc.integer(when) + enc.integer(duration)
            + enc.bulk_array(args) + enc.bulk(addr) + enc.bulk(name)
        )
    return enc.array(out)


@command("slowlog|len")
def slowlog_len(c, argv):
    return enc.integer(len(c.node.slowlog))


@command("slowlog|reset")
def slowlog_reset(c, argv):
    c.node.slowlog.clear()
    return OK


# -- LATENCY ---------------------------------------------------------------------------------

#: Samples kept per event (LATENCY_TS_LEN).
LATENCY_SAMPLES = 160


class LatencySeries:
    """One event's samples: (unix time, ms), at most one per second, and the all-time max."""

    __slots__ = ("samples", "max")

    def __init__(self):
        self.samples: deque = deque(maxlen=LATENCY_SAMPLES)
        self.max = 0


def latency_add_sample(node, event: str, ms: int) -> None:
    """latencyAddSample: record ``ms`` for ``event``; the same second keeps its maximum."""
    series = node.latency_events.get(event)
    if series is None:
        series = node.latency_events[event] = LatencySeries()
    series.max = max(series.max, ms)
    now = int(time.time())
    samples = series.samples
    if samples and samples[-1][0] == now:
        if ms > samples[-1][1]:
            samples[-1] = (now, ms)
        return
    samples.append((now, ms))


def latency_add_sample_if_needed(node, event: str, ms: int) -> None:
    """latencyAddSampleIfNeeded: only at or above latency-monitor-threshold."""
    threshold = node.config["latency-monitor-threshold"]
    if threshold and ms >= threshold:
        latency_add_sample(node, event, ms)


LATENCY_HELP = [
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
]


@command("latency|help")
def latency_help(c, argv):
    return help_reply(LATENCY_HELP)


@command("latency|latest")
def latency_latest(c, argv):
    out = []
    for event, series in c.node.latency_events.items():
        when, ms = series.samples[-1]
        out.append(b"*4\r\n" + enc.bulk(event.encode()) + enc.integer(when) + enc.integer(ms) + enc.integer(series.max))
    return enc.array(out)


@command("latency|history")
def latency_history(c, argv):
    series = c.node.latency_events.get(argv[2].decode("latin-1"))
    if series is None:
        return enc.EMPTY_ARRAY
    return enc.array([b"*2\r\n" + enc.integer(t) + enc.integer(ms) for t, ms in series.samples])


@command("latency|reset")
def latency_reset(c, argv):
    events = c.node.latency_events
    if len(argv) == 2:
        n = len(events)
        events.clear()
        return enc.integer(n)
    n = 0
    for name in argv[2:]:
        if events.pop(name.decode("latin-1"), None) is not None:
            n += 1
    return enc.integer(n)


@command("latency|graph")
def latency_graph(c, argv):
    event = argv[2].decode("latin-1")
    series = c.node.latency_events.get(event)
    if series is None:
        raise CommandError("No samples available for event '%s'" % event)
    values = [ms for _, ms in series.samples]
    high, low = max(values), min(values)
    text = "%s - high %d ms, low %d ms (all time high %d ms)\n%s\n" % (event, high, low, series.max, "-" * 80)
    text += _sparkline(series, high, low)
    return c.proto.verbatim(text.encode())


def _sparkline(series, high: int, low: int, rows: int = 4) -> str:
    """A small ASCII chart: one column per sample, '_' for low, '#' rows for high,
    then the age of each sample (seconds, minutes, hours, days) written vertically."""
    now = int(time.time())
    columns = []
    for when, ms in series.samples:
        level = 0 if high == low else round((ms - low) * (rows - 1) / (high - low))
        col = [" "] * rows
        col[rows - 1 - level] = "_" if level == 0 else "#"
        age = now - when
        if age < 60:
            label = "%ds" % age
        elif age < 3600:
            label = "%dm" % (age // 60)
        elif age < 86400:
            label = "%dh" % (age // 3600)
        else:
            label = "%dd" % (age // 86400)
        columns.append(col + list(label.rjust(3)))
    height = rows + 3
    lines = ["".join(col[i] for col in columns) for i in range(height)]
    return "\n".join(lines) + "\n"


@command("latency|doctor")
def latency_doctor(c, argv):
    return c.proto.verbatim(latency_report(c.node).encode())


def latency_report(node) -> str:
    events = node.latency_events
    if not events and not node.config["latency-monitor-threshold"]:
        return (
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
            "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
            "order to enable it. If we weren't in a deep space mission I'd suggest to take a "
            "look at https://redis.io/topics/latency-monitor.\n"
        )
    if not events:
        return (
            "Dave, no latency spike was observed during the lifetime of this Redis instance, "
            "not in the slightest bit. I honestly think you ought to sleep tonight.\n"
        )
    lines = [
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
        "about it, do you Dave?\n"
    ]
    for i, (event, series) in enumerate(events.items(), 1):
        values = [ms for _, ms in series.samples]
        avg = sum(values) // len(values)
        dev = sum(abs(v - avg) for v in values) // len(values)
        times = [t for t, _ in series.samples]
        period = (max(times) - min(times)) / max(len(times) - 1, 1) if len(times) > 1 else 1.0
        lines.append(
            "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). "
            "Worst all time event %dms." % (i, event, len(values), avg, dev, period or 1.0, series.max)
        )
    lines.append("\nI have a few advices for you:\n")
    lines.append(
        "- Check your Slow Log to understand what are the commands you are running which are "
        "too slow to execute. Please check https://redis.io/commands/slowlog for more information."
    )
    return "\n".join(lines) + "\n"


@command("latency|histogram")
def latency_histogram(c, argv):
    """Per-command call counts with a latency distribution. We keep totals, not
    histograms, so every call lands in the power-of-two bucket of the mean."""
    node = c.node
    specs = []
    if len(argv) == 2:
        specs = [s for s in node.commands.all_specs() if s.calls]
    else:
        for name in argv[2:]:
            spec = node.commands.find(name.decode("latin-1"))
            if spec is None:
                continue
            if spec.calls:
                specs.append(spec)
            if spec.subcommands:
                specs += [s for s in spec.subcommands.values() if s.calls]
    p = c.proto
    out = [p.map_header(len(specs))]
    for spec in specs:
        mean = max(spec.nanos // 1000 // spec.calls, 1)
        bucket = 1 << (mean - 1).bit_length()
        out.append(
            enc.bulk(spec.fullname.encode()) + p.map_header(2)
            + enc.bulk(b"calls") + enc.integer(spec.calls)
            + enc.bulk(b"histogram_usec") + p.map_header(1) + enc.integer(bucket) + enc.integer(spec.calls)
        )
    return b"".join(out)


# -- MEMORY ----------------------------------------------------------------------------------

MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


@command("memory|help")
def memory_help(c, argv):
    return help_reply(MEMORY_HELP)


@command("memory|usage")
def memory_usage(c, argv):
    samples = 5
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            n = parse_int(argv[i + 1])
            if n is None:
                raise CommandError(E.NOT_INTEGER)
            if n < 0:
                raise CommandError(E.SYNTAX)
            samples = n
            i += 2
        else:
            raise CommandError(E.SYNTAX)
    key = argv[2]
    value = c.db.data.get(key)  # dbFind: no expiry check, no access-time update
    if value is None:
        return c.proto.null
    return enc.integer(info_mod.key_memory(key, value, samples))


@command("memory|stats")
def memory_stats(c, argv):
    node = c.node
    p = c.proto
    m = info_mod.memory_figures(node)
    used, rss = m["used"], m["rss"]
    keys = sum(len(db.data) for db in node.dbs)
    # allocator.*: the process's real heap (server/memory.py), beside the node's model.
    allocated, active, resident = m["allocator_allocated"], m["allocator_active"], rss
    net = used - m["startup"]
    pairs = [
        (b"peak.allocated", enc.integer(m["peak"])),
        (b"total.allocated", enc.integer(used)),
        (b"startup.allocated", enc.integer(m["startup"])),
        (b"replication.backlog", enc.integer(0)),
        (b"clients.slaves", enc.integer(0)),
        (b"clients.normal", enc.integer(m["clients"])),
        (b"cluster.links", enc.integer(0)),
        (b"aof.buffer", enc.integer(0)),
        (b"lua.caches", enc.integer(0)),
        (b"functions.caches", enc.integer(200)),
    ]
    for db in node.dbs:
        if not db.data and not db.expires:
            continue
        detail = (
            p.map_header(3)
            + enc.bulk(b"overhead.hashtable.main") + enc.integer(8 * info_mod.table_buckets(len(db.data)) + 24 * len(db.data))
            + enc.bulk(b"overhead.hashtable.expires") + enc.integer(8 * info_mod.table_buckets(len(db.expires)) + 24 * len(db.expires) if db.expires else 0)
            + enc.bulk(b"overhead.hashtable.slot-to-keys") + enc.integer(0)
        )
        pairs.append((b"db.%d" % db.id, detail))
    pairs += [
        (b"overhead.total", enc.integer(m["overhead"])),
        (b"keys.count", enc.integer(keys)),
        (b"keys.bytes-per-key", enc.integer(net // keys if keys else 0)),
        (b"dataset.bytes", enc.integer(m["dataset"])),
        (b"dataset.percentage", p.double(m["dataset"] * 100.0 / net if net > 0 else 0.0)),
        (b"peak.percentage", p.double(used * 100.0 / m["peak"] if m["peak"] else 100.0)),
        (b"allocator.allocated", enc.integer(allocated)),
        (b"allocator.active", enc.integer(active)),
        (b"allocator.resident", enc.integer(resident)),
        (b"allocator-fragmentation.ratio", p.double(active / allocated if allocated else 0.0)),
        (b"allocator-fragmentation.bytes", enc.integer(active - allocated)),
        (b"allocator-rss.ratio", p.double(resident / active if active else 0.0)),
        (b"allocator-rss.bytes", enc.integer(resident - active)),
        (b"rss-overhead.ratio", p.double(rss / resident if resident else 0.0)),
        (b"rss-overhead.bytes", enc.integer(rss - resident)),
        (b"fragmentation", p.double(rss / used if used else 0.0)),
        (b"fragmentation.bytes", enc.integer(rss - used)),
    ]
    return p.map_header(len(pairs)) + b"".join(enc.bulk(k) + v for k, v in pairs)


#: Below this much data the doctor has nothing to say (getMemoryDoctorReport).
_DOCTOR_MIN_MEMORY = 5 * 1024 * 1024


@command("memory|doctor")
def memory_doctor(c, argv):
    m = info_mod.memory_figures(c.node)
    if m["used"] - m["startup"] < _DOCTOR_MIN_MEMORY:  # the interpreter is not data
        text = (
            "Hi Sam, this instance is empty or is using very little memory, my issues detector "
            "can't be used in these conditions. Please, leave for your mission on Earth and fill "
            "it with some data. The new Sam and I will be back to our programming as soon as I "
            "finished rebooting.\n"
        )
    else:
        text = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    return c.proto.verbatim(text.encode())


@command("memory|malloc-stats")
def memory_malloc_stats(c, argv):
    return enc.bulk(b"Stats not supported for the current allocator")


@command("memory|purge")
def memory_purge(c, argv):
    return OK


# -- DEBUG -----------------------------------------------------------------------------------

DEBUG_HELP = [
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
    "HELP",
    "    Prints this help.",
]

#: name -> (handler(c, argv), min argc, max argc or None). Other modules add their own.
DEBUG_SUBCOMMANDS: dict[bytes, tuple[Callable, int, int | None]] = {}


def debug_subcommand(name: str, min_argc: int = 2, max_argc: int | None = None):
    """Register a DEBUG subcommand; argc counts DEBUG and the subcommand name."""

    def register(fn):
        DEBUG_SUBCOMMANDS[name.lower().encode()] = (fn, min_argc, max_argc)
        return fn

    return register


@command("debug")
def debug(c, argv):
    if not _protected_allowed(c.node, c, "debug"):
        # The dispatcher checks this on its slow path only; a client on the fast path
        # reaches the handler, so the handler enforces enable-debug-command too.
        raise CommandError(E.DEBUG_DISABLED)
    sub = argv[1].lower()
    entry = DEBUG_SUBCOMMANDS.get(sub)
    if entry is None:
        if sub in _DEBUG_NOT_SUPPORTED:
            raise CommandError("DEBUG %s is not supported by this server" % argv[1].decode("latin-1").upper())
        raise subcommand_syntax_error(argv)
    handler, lo, hi = entry
    if len(argv) < lo or (hi is not None and len(argv) > hi):
        raise subcommand_syntax_error(argv)
    return handler(c, argv)


#: Redis DEBUG subcommands that need Redis internals (crash, allocator, RDB) we do not have.
_DEBUG_NOT_SUPPORTED = frozenset(
    name.split()[0].lower().encode()
    for name in DEBUG_HELP[1:]
    if not name.startswith(" ")
) - {b"help"}


@debug_subcommand("help", 2, 2)
def debug_help(c, argv):
    return help_reply(DEBUG_HELP)


def _strtod(text: bytes) -> float:
    """C strtod on a prefix: leading number, 0.0 when there is none."""
    s = text.decode("latin-1").strip()
    best = 0.0
    for end in range(len(s), 0, -1):
        try:
            best = float(s[:end])
            break
        except ValueError:
            continue
    return best


def _atoi(text: bytes) -> int:
    s = text.decode("latin-1").lstrip()
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = ""
    for ch in s:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


@debug_subcommand("sleep", 3, 3)
def debug_sleep(c, argv):
    """Block the whole server, as Redis does (tests use it to simulate a slow command)."""
    seconds = _strtod(argv[2])
    if seconds > 0:
        time.sleep(seconds)
        latency_add_sample_if_needed(c.node, "command", int(seconds * 1000))
    return OK


@debug_subcommand("set-active-expire", 3, 3)
def debug_set_active_expire(c, argv):
    c.node.active_expire_enabled = bool(_atoi(argv[2]))
    return OK


@debug_subcommand("error", 3, 3)
def debug_error(c, argv):
    raise CommandError(b"-" + argv[2])


@debug_subcommand("log", 3, 3)
def debug_log(c, argv):
    c.node.log.warning("DEBUG LOG: %s" % argv[2].decode("utf-8", "replace"))
    return OK


@debug_subcommand("populate", 3, 5)
def debug_populate(c, argv):
    count = parse_int(argv[2])
    if count is None or count < 0:
        raise CommandError(E.OUT_OF_RANGE_POSITIVE)
    prefix = argv[3] if len(argv) > 3 else b"key"
    size = 0
    if len(argv) > 4:
        size = parse_int(argv[4])
        if size is None or size < 0:
            raise CommandError(E.OUT_OF_RANGE_POSITIVE)
    db = c.db
    for j in range(count):
        key = b"%b:%d" % (prefix, j)
        if db.peek(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\0")
        db.set(key, value)
    return OK


def debug_object_line(c, key: bytes, value) -> str:
    """DEBUG OBJECT's status line: address, refcount, encoding, RDB length, LRU clock."""
    node = c.node
    encoding = info_mod.string_encoding(value) if isinstance(value, (bytes, bytearray)) else _encoding_of(value)
    shared = encoding == "int" and 0 <= int(value) < 10000 and not node.config["maxmemory"]
    lru = c.db.lru.get(key, node.clock.lru)
    idle = max((node.clock.lru - lru) & node.clock.LRU_MAX, 0)
    line = "Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d" % (
        id(value), 2147483647 if shared else 1, encoding, _serialized_length(value, encoding), lru, idle)
    if encoding == "quicklist":
        n = len(value)
        size = sum(len(x) + 2 for x in value if isinstance(x, (bytes, bytearray))) + 7
        line += " ql_nodes:1 ql_avg_node:%.2f ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:%d" % (n, size)
    return line


def _encoding_of(value) -> str:
    enc_attr = getattr(value, "encoding", None)
    if callable(enc_attr):
        return enc_attr()
    if isinstance(enc_attr, str):
        return enc_attr
    if isinstance(value, (list, deque)):
        return "quicklist"
    return "hashtable"


def _serialized_length(value, encoding: str) -> int:
    """rdbSavedObjectLen, for strings: an integer (1, 2, 3 or 5 bytes) or a length-prefixed
    string; others: the summed lengths of their members."""
    if isinstance(value, (bytes, bytearray)):
        if encoding == "int":
            n = int(value)
            if -(1 << 7) <= n < 1 << 7:
                return 2
            if -(1 << 15) <= n < 1 << 15:
                return 3
            if -(1 << 31) <= n < 1 << 31:
                return 5
        return _rdb_len_size(len(value)) + len(value)
    total = 1
    try:
        items = value.items() if hasattr(value, "items") else value
        for item in items:
            for part in item if isinstance(item, tuple) else (item,):
                n = len(part) if isinstance(part, (bytes, bytearray)) else 8
                total += _rdb_len_size(n) + n
    except TypeError:
        pass
    return total


def _rdb_len_size(n: int) -> int:
    if n < 1 << 6:
        return 1
    if n < 1 << 14:
        return 2
    if n <= 0xFFFFFFFF:
        return 5
    return 9


@debug_subcommand("object", 3, 3)
def debug_object(c, argv):
    key = argv[2]
    value = c.db.data.get(key)  # objectCommandLookup: no expiry, no touch
    if value is None:
        raise CommandError(E.NO_SUCH_KEY)
    return b"+" + debug_object_line(c, key, value).encode() + b"\r\n"


_PROTOCOL_TYPES = (
    "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
)


@debug_subcommand("protocol", 3, 3)
def debug_protocol(c, argv):
    """DEBUG PROTOCOL <type>: one value of each RESP type, for client tests."""
    p = c.proto
    name = argv[2].lower()
    three = lambda header: header + b"".join(enc.integer(j) for j in range(3))  # noqa: E731
    replies = {
        b"string": lambda: enc.bulk(b"Hello World"),
        b"integer": lambda: enc.integer(12345),
        b"double": lambda: p.double(3.141),
        b"bignum": lambda: p.bignum(b"1234567999999999999999999999999999999"),
        b"null": lambda: p.null,
        b"array": lambda: three(b"*3\r\n"),
        b"set": lambda: three(p.set_header(3)),
        b"map": lambda: p.map_header(3) + b"".join(enc.integer(j) + p.boolean(j == 1) for j in range(3)),
        b"attrib": lambda: (
            (b"|1\r\n" + enc.bulk(b"key-popularity") + b"*2\r\n" + enc.bulk(b"key:123") + enc.integer(90))
            if c.resp >= 3 else b""
        ) + enc.bulk(b"Some real reply following the attribute"),
        b"verbatim": lambda: p.verbatim(b"This is a verbatim\nstring"),
        b"true": lambda: p.boolean(True),
        b"false": lambda: p.boolean(False),
    }
    if name == b"push":
        if c.resp < 3:
            raise CommandError("RESP2 is not supported by this command")
        return p.push_header(2) + enc.bulk(b"server-cpu-usage") + enc.integer(42) + enc.bulk(
            b"Some real reply following the push reply")
    make = replies.get(name)
    if make is None:
        raise CommandError("Wrong protocol type name. Please use one of the following: " + _PROTOCOL_TYPES)
    return make()


# -- SHUTDOWN --------------------------------------------------------------------------------


@command("shutdown")
def shutdown(c, argv):
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (server/shutdown.py does the work). On
    success there is no reply: the connection, like every other, closes as the server stops.
    While the node waits for lagging replicas the client stays blocked."""
    node = c.node
    flags = set()
    abort = False
    for arg in argv[1:]:
        word = arg.lower()
        if word in (b"nosave", b"save", b"now", b"force"):
            flags.add(word.decode())
        elif word == b"abort":
            abort = True
        else:
            raise CommandError(E.SYNTAX)
    if (abort and flags) or {"nosave", "save"} <= flags:
        raise CommandError(E.SYNTAX)
    seq = node.shutdown_seq
    if abort:
        if seq.abort():
            return OK
        raise CommandError("No shutdown in progress.")
    if "now" not in flags and deny_blocking(c):
        raise CommandError("SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client")
    outcome = seq.request(flags)
    if outcome == FAILED:
        raise CommandError(SHUTDOWN_FAILED)
    if outcome == WAITING:
        return node.blocking.block(c, argv, (), 0, BLOCKED_SHUTDOWN, _never_served, _no_reply)
    c.closing = True
    c.interrupt = True
    return b""


def _never_served(c, db, key, value):
    return None


def _no_reply(c) -> bytes:
    """CLIENT UNBLOCK of a SHUTDOWN: unblocked without a reply, as in Redis."""
    return b""
