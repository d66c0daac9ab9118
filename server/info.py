"""INFO: the sections, fields and order of Redis 7.0.15, and the memory estimates behind them.

Design note
-----------
``generate(node, args)`` returns the INFO text. Sections come in Redis's fixed order
whatever order they were asked in; ``default`` (or no argument) gives the default sections,
``all`` adds commandstats and latencystats, ``everything`` adds module sections (we have
none). Unknown names give nothing, not an error. Each section is a list of ``(field,
value)`` pairs written ``field:value\\r\\n`` under ``# Name``; sections are separated by a
blank line. Field names and their order were captured from a live redis-server 7.0.15, so
parsers that depend on either (redis-py, redis-cli, Sentinel, exporters) read us as Redis.
Vermilion adds one field of its own, ``vermilion_version``, at the end of ``# Server``.

Values that describe our process are real (pid, uptime, rusage, RSS, counters from
``node.stats``, per-command statistics). Values about machinery we do not have (forks,
jemalloc, I/O threads) take the value an idle Redis shows. A subsystem that owns a section
(replication, persistence) replaces the default generator with ``@section("replication")``;
counters that other modules keep are read from ``node.stats`` by field name when present,
so adding a slot to ``Stats`` is enough to make INFO report it.

Memory: ``used_memory`` and its parts are what this process spends on the node, modelled
with the allocator's rules (``server/memory.py`` explains how); the ``allocator_*`` fields
and ``used_memory_rss`` are the process's real figures. MEMORY USAGE, below, answers what
Redis 7.0 would for the same value, sized with Redis's allocation rules (jemalloc size
classes, sds headers, robj and dictEntry sizes): exact for strings, plausible for
collections.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import resource
import struct
import sys
import time
from collections.abc import Callable, Mapping

from .commands.args import parse_int

# -- sections ------------------------------------------------------------------------------

#: (request name, header) in output order; ``modules`` is also asked for as ``module_list``.
SECTIONS = (
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("modules", "Modules"),
    ("commandstats", "Commandstats"),
    ("errorstats", "Errorstats"),
    ("latencystats", "Latencystats"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
)
DEFAULT_SECTIONS = frozenset(
    ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
     "errorstats", "cluster", "keyspace")
)
ALL_SECTIONS = frozenset(name for name, _ in SECTIONS)

Fields = list[tuple[str, object]]
#: Section generators: ``name -> fn(node) -> [(field, value), ...]``.
PROVIDERS: dict[str, Callable[..., Fields]] = {}


def section(name: str):
    """Register (or replace) the generator of one INFO section."""

    def register(fn):
        PROVIDERS[name] = fn
        return fn

    return register


def requested_sections(args: list[bytes]) -> set[str]:
    """genInfoSectionDict: which sections INFO ``args`` asks for."""
    if not args:
        return set(DEFAULT_SECTIONS)
    wanted: set[str] = set()
    for a in args:
        name = a.decode("latin-1").lower()
        if name in ("all", "everything"):
            wanted |= ALL_SECTIONS
        elif name == "default":
            wanted |= DEFAULT_SECTIONS
        elif name == "module_list":
            wanted.add("modules")
        else:
            wanted.add(name)
    return wanted


def generate(node, args: list[bytes]) -> bytes:
    wanted = requested_sections(args)
    parts = []
    for name, header in SECTIONS:
        if name not in wanted:
            continue
        lines = [f"# {header}\r\n"]
        lines += [f"{k}:{v}\r\n" for k, v in PROVIDERS[name](node)]
        parts.append("".join(lines))
    return "\r\n".join(parts).encode("utf-8", "surrogateescape")


def safe_name(name: str) -> str:
    """getSafeInfoString: INFO field names cannot hold ``#``, ``:`` or line breaks."""
    for ch in "#:\r\n":
        name = name.replace(ch, "_")
    return name


def human_bytes(n: float) -> str:
    """bytesToHuman: ``894.89K``, ``6.52M``, ``200B``."""
    if n < 1024:
        return "%dB" % n
    for unit in "KMGTP":
        n /= 1024.0
        if n < 1024 or unit == "P":
            return "%.2f%s" % (n, unit)
    return "%.2f%s" % (n, "P")  # pragma: no cover


def _stat(node, name: str, default=0):
    return getattr(node.stats, name, default)


# -- Server --------------------------------------------------------------------------------

BUILD_ID = hashlib.sha1(b"vermilion").hexdigest()[:15]


@section("server")
def server_section(node) -> Fields:
    from .node import REDIS_VERSION, VERMILION_VERSION

    u = os.uname()
    now = time.time()
    uptime = int(now - node.start_time)
    supervised = node.config["supervised"]
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", BUILD_ID),
        ("redis_mode", redis_mode(node)),
        ("os", f"{u.sysname} {u.release} {u.machine}"),
        ("arch_bits", struct.calcsize("P") * 8),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "kqueue" if sys.platform == "darwin" else "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", node.pid),
        ("process_supervised", supervised if supervised in ("upstart", "systemd") else "no"),
        ("run_id", node.run_id),
        ("tcp_port", node.port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", node.config["hz"]),
        ("configured_hz", node.config["hz"]),
        ("lru_clock", node.clock.lru),
        ("executable", node.executable),
        ("config_file", os.path.abspath(node.config.file) if node.config.file else ""),
        ("io_threads_active", 0),
        ("vermilion_version", VERMILION_VERSION),
    ]


def redis_mode(node) -> str:
    if getattr(node, "sentinel", None) is not None:
        return "sentinel"
    return "cluster" if node.config["cluster-enabled"] else "standalone"


# -- Clients -------------------------------------------------------------------------------


@section("clients")
def clients_section(node) -> Fields:
    clients = list(node.clients.values())
    replicas = sum(1 for c in clients if c.is_replica and not c.is_monitor)
    return [
        ("connected_clients", len(clients) - replicas),
        ("cluster_connections", _stat(node, "cluster_connections")),
        ("maxclients", node.config["maxclients"]),
        ("client_recent_max_input_buffer", max((c.reader.pending() for c in clients), default=0)),
        ("client_recent_max_output_buffer", 0),
        # Redis counts CLIENT PAUSE'd clients as blocked too (BLOCKED_POSTPONE).
        ("blocked_clients", sum(1 for c in clients if c.blocked or c.postponed)),
        ("tracking_clients", sum(1 for c in clients if getattr(c, "tracking", False))),
        ("clients_in_timeout_table", sum(1 for c in clients if c.blocked and getattr(c, "block_timeout", 0))),
    ]


# -- Memory --------------------------------------------------------------------------------

def rss_bytes() -> int:
    from .memory import rss_bytes

    return rss_bytes()


def total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def memory_figures(node) -> dict:
    """used_memory and its parts, shared by INFO memory and MEMORY STATS: see
    ``server/memory.py`` for how they are computed."""
    return node.memory.figures()


def _ratio(a: float, b: float) -> str:
    return "%.2f" % (a / b if b else 0.0)


@section("memory")
def memory_section(node) -> Fields:
    m = memory_figures(node)
    used, rss, peak = m["used"], m["rss"], m["peak"]
    # The allocator_* fields are the process's real heap (pymalloc + malloc), not the model.
    allocated, active, resident = m["allocator_allocated"], m["allocator_active"], rss
    maxmemory = node.config["maxmemory"]
    system = total_system_memory()
    net = used - m["startup"]
    return [
        ("used_memory", used),
        ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (used * 100.0 / peak if peak else 100.0)),
        ("used_memory_overhead", m["overhead"]),
        ("used_memory_startup", m["startup"]),
        ("used_memory_dataset", m["dataset"]),
        ("used_memory_dataset_perc", "%.2f%%" % (m["dataset"] * 100.0 / net if net > 0 else 0.0)),
        ("allocator_allocated", allocated),
        ("allocator_active", active),
        ("allocator_resident", resident),
        ("total_system_memory", system),
        ("total_system_memory_human", human_bytes(system)),
        ("used_memory_lua", 32768),
        ("used_memory_vm_eval", 32768),
        ("used_memory_lua_human", "32.00K"),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", _count_attr(node, "scripts")),
        ("number_of_functions", _function_count(node, "functions")),
        ("number_of_libraries", _function_count(node, "libraries")),
        ("used_memory_vm_functions", 33792),
        ("used_memory_vm_total", 66560),
        ("used_memory_vm_total_human", "65.00K"),
        ("used_memory_functions", 200),
        ("used_memory_scripts", 200),
        ("used_memory_scripts_human", "200B"),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", node.config["maxmemory-policy"]),
        ("allocator_frag_ratio", _ratio(active, allocated)),
        ("allocator_frag_bytes", active - allocated),
        ("allocator_rss_ratio", _ratio(resident, active)),
        ("allocator_rss_bytes", resident - active),
        ("rss_overhead_ratio", _ratio(rss, resident)),
        ("rss_overhead_bytes", rss - resident),
        ("mem_fragmentation_ratio", _ratio(rss, used)),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", used - m["for_eviction"]),
        ("mem_replication_backlog", _stat(node, "mem_replication_backlog")),
        ("mem_total_replication_buffers", _stat(node, "mem_total_replication_buffers")),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", m["clients"]),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", len(node.aof.buf)),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _function_count(node, what: str) -> int:
    """FUNCTION libraries or functions loaded (none until scripting is first used)."""
    s = getattr(node, "_scripting", None)
    return 0 if s is None else len(getattr(s.libs, what))


def _count_attr(node, name: str) -> int:
    value = getattr(node, name, None)
    try:
        return len(value) if value is not None else 0
    except TypeError:
        return 0


# -- Persistence ---------------------------------------------------------------------------


@section("persistence")
def persistence_section(node) -> Fields:
    rdb = node.rdb.info_fields()  # server/persistence/snapshots.py
    return [
        ("loading", int(bool(node.loading))),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", rdb["current_save_keys_total"]),
        ("rdb_changes_since_last_save", rdb["rdb_changes_since_last_save"]),
        ("rdb_bgsave_in_progress", rdb["rdb_bgsave_in_progress"]),
        ("rdb_last_save_time", rdb["rdb_last_save_time"]),
        ("rdb_last_bgsave_status", rdb["rdb_last_bgsave_status"]),
        ("rdb_last_bgsave_time_sec", rdb["rdb_last_bgsave_time_sec"]),
        ("rdb_current_bgsave_time_sec", rdb["rdb_current_bgsave_time_sec"]),
        ("rdb_saves", rdb["rdb_saves"]),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", rdb["rdb_last_load_keys_expired"]),
        ("rdb_last_load_keys_loaded", rdb["rdb_last_load_keys_loaded"]),
        *node.aof.info_fields(),  # server/persistence/aof.py
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
        *node.aof.info_size_fields(),  # only while the AOF is on
        *(node.rdb.progress.info_fields() if node.loading else ()),  # persistence/loading.py
    ]


# -- Stats ---------------------------------------------------------------------------------

#: Stats fields in order; None means "read node.stats.<field>, 0 if absent".
_STATS_FIELDS = (
    "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
    "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
    "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
    "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "rejected_connections",
    "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys", "expired_stale_perc",
    "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
    "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
    "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
    "pubsubshard_channels", "latest_fork_usec", "total_forks", "migrate_cached_sockets",
    "slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
    "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
    "current_active_defrag_time", "tracking_total_keys", "tracking_total_items",
    "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
    "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
    "io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
    "reply_buffer_expands",
)


@section("stats")
def stats_section(node) -> Fields:
    s = node.stats
    commands = node.total_commands()
    computed = {
        "total_commands_processed": commands,
        "instantaneous_ops_per_sec": int(node.ops_metric.average()),
        "instantaneous_input_kbps": "%.2f" % (node.net_in_metric.average() / 1024),
        "instantaneous_output_kbps": "%.2f" % (node.net_out_metric.average() / 1024),
        "instantaneous_input_repl_kbps": "%.2f" % (getattr(s, "instantaneous_input_repl_kbps", 0.0)),
        "instantaneous_output_repl_kbps": "%.2f" % (getattr(s, "instantaneous_output_repl_kbps", 0.0)),
        "expired_stale_perc": "%.2f" % (s.expired_stale_perc * 100),
        "total_eviction_exceeded_time": node.evictor.exceeded_ms(total=True),
        "current_eviction_exceeded_time": node.evictor.exceeded_ms(total=False),
        "pubsub_channels": _pubsub_count(node, "channels"),
        "pubsub_patterns": _pubsub_count(node, "patterns"),
        "pubsubshard_channels": _pubsub_count(node, "shard_channels"),
        "total_reads_processed": getattr(s, "total_reads_processed", commands),
        "total_writes_processed": getattr(s, "total_writes_processed", commands),
    }
    return [(name, computed[name] if name in computed else getattr(s, name, 0)) for name in _STATS_FIELDS]


def _pubsub_count(node, kind: str) -> int:
    pubsub = getattr(node, "pubsub", None)
    if pubsub is None:
        return 0
    value = getattr(pubsub, kind, None)
    try:
        return len(value) if value is not None else 0
    except TypeError:
        return int(value)


# -- Replication ---------------------------------------------------------------------------


@section("replication")
def replication_section(node) -> Fields:
    """A master without replicas; the replication package replaces this section."""
    replid = getattr(node, "replid", None) or hashlib.sha1(node.run_id.encode() + b":replid").hexdigest()
    return [
        ("role", "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", node.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


# -- CPU -----------------------------------------------------------------------------------


def _tv(seconds: float) -> str:
    return "%d.%06d" % (int(seconds), int(round((seconds - int(seconds)) * 1_000_000)) % 1_000_000)


@section("cpu")
def cpu_section(node) -> Fields:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    thread = getattr(resource, "RUSAGE_THREAD", None)
    main = resource.getrusage(thread) if thread is not None else me
    return [
        ("used_cpu_sys", _tv(me.ru_stime)),
        ("used_cpu_user", _tv(me.ru_utime)),
        ("used_cpu_sys_children", _tv(children.ru_stime)),
        ("used_cpu_user_children", _tv(children.ru_utime)),
        ("used_cpu_sys_main_thread", _tv(main.ru_stime)),
        ("used_cpu_user_main_thread", _tv(main.ru_utime)),
    ]


@section("modules")
def modules_section(node) -> Fields:
    return []


# -- per-command statistics ----------------------------------------------------------------


def _used_specs(node):
    for spec in node.commands.all_specs():
        if spec.calls or spec.failed_calls or spec.rejected_calls:
            yield spec


def spec_usec(spec) -> int:
    """Total execution time in microseconds (the dispatcher accumulates nanoseconds)."""
    return spec.nanos // 1000


@section("commandstats")
def commandstats_section(node) -> Fields:
    out = []
    for spec in _used_specs(node):
        usec = spec_usec(spec)
        per_call = usec / spec.calls if spec.calls else 0.0
        out.append(
            (
                "cmdstat_" + safe_name(spec.fullname),
                "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                % (spec.calls, usec, per_call, spec.rejected_calls, spec.failed_calls),
            )
        )
    return out


@section("errorstats")
def errorstats_section(node) -> Fields:
    errors = node.stats.errors
    return [
        ("errorstat_" + safe_name(code.decode("latin-1")), "count=%d" % errors[code])
        for code in sorted(errors)
    ]


def _percentile_label(p: float) -> str:
    text = "%f" % p
    return text.rstrip("0").rstrip(".") if "." in text else text


@section("latencystats")
def latencystats_section(node) -> Fields:
    """p50/p99/p99.9 per command. Without per-call histograms every percentile is the mean."""
    percentiles = node.config["latency-tracking-info-percentiles"]
    out = []
    if not node.config["latency-tracking"]:
        return out
    for spec in _used_specs(node):
        if not spec.calls:
            continue
        mean = spec.nanos / 1000.0 / spec.calls
        value = ",".join("p%s=%.3f" % (_percentile_label(p), mean) for p in percentiles)
        out.append(("latency_percentiles_usec_" + safe_name(spec.fullname), value))
    return out


@section("cluster")
def cluster_section(node) -> Fields:
    return [("cluster_enabled", int(bool(node.config["cluster-enabled"])))]


@section("keyspace")
def keyspace_section(node) -> Fields:
    return [
        (f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={db.avg_ttl}")
        for db in node.dbs
        if db.data
    ]


# -- memory of one key (MEMORY USAGE) --------------------------------------------------------

ROBJ = 16
DICT_ENTRY = 24
#: Collections up to these sizes are listpacks/intsets in Redis (the *-max-listpack-* defaults).
SMALL_ENTRIES = 128
SMALL_VALUE = 64


def jemalloc_size(n: int) -> int:
    """The jemalloc size class ``n`` bytes land in (8, 16, 32, 48, ... then 4 per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) // step * step


def sds_header(length: int, allow_type5: bool = False) -> int:
    if length < 32 and allow_type5:
        return 1
    if length < 256:
        return 3
    if length < 65536:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def table_buckets(n: int) -> int:
    """Buckets of a Redis dict holding n entries (powers of two, at least 4)."""
    p = 4
    while p < n:
        p <<= 1
    return p


def string_encoding(value) -> str:
    """OBJECT ENCODING of a string value: int, embstr or raw."""
    if value.__class__ is bytes:
        if len(value) <= 20 and parse_int(value) is not None:
            return "int"
        if len(value) <= 44:
            return "embstr"
    return "raw"


def string_memory(value) -> int:
    enc = string_encoding(value)
    if enc == "int":
        return ROBJ
    n = len(value)
    if enc == "embstr":
        return jemalloc_size(ROBJ + 3 + n + 1)
    return ROBJ + jemalloc_size(sds_header(n) + n + 1)


def element_memory(item) -> int:
    """One member of a collection stored as an sds string (or a nested object)."""
    if isinstance(item, (bytes, bytearray)):
        return jemalloc_size(sds_header(len(item)) + len(item) + 1)
    if isinstance(item, (int, float)):
        return 8
    return value_memory(item, 5)


def _listpack_entry(item) -> int:
    n = len(item) if isinstance(item, (bytes, bytearray)) else 9
    return n + (1 if n < 64 else 2 if n < 4096 else 5) + (1 if n < 127 else 2)


def _sampled(items, samples: int) -> tuple[int, int]:
    """(sampled total, how many) over the first ``samples`` items (0 = all)."""
    if samples > 0:
        items = itertools.islice(items, samples)
    total = n = 0
    for size in items:
        total += size
        n += 1
    return total, n


def value_memory(value, samples: int = 5) -> int:
    """objectComputeSize: a value's allocation, nested collections sampled ``samples`` deep."""
    if isinstance(value, (bytes, bytearray)):
        return string_memory(value)
    hook = getattr(value, "memory_usage", None)
    if callable(hook):
        return int(hook(samples))
    try:
        count = len(value)
    except TypeError:
        return ROBJ + sys.getsizeof(value)
    if count == 0:
        return ROBJ + 32
    if isinstance(value, Mapping) or hasattr(value, "items"):
        pairs = value.items()
        small = count <= SMALL_ENTRIES
        if small:
            sizes = (_listpack_entry(k) + _listpack_entry(v) for k, v in pairs)
            total, n = _sampled(sizes, samples)
            return ROBJ + jemalloc_size(7 + total * count // max(n, 1))
        sizes = (element_memory(k) + element_memory(v) + DICT_ENTRY for k, v in pairs)
        total, n = _sampled(sizes, samples)
        return ROBJ + 56 + 8 * table_buckets(count) + total * count // max(n, 1)
    items = iter(value)
    if count <= SMALL_ENTRIES:
        total, n = _sampled((_listpack_entry(x) for x in items), samples)
        return ROBJ + jemalloc_size(7 + total * count // max(n, 1))
    if isinstance(value, (set, frozenset)):
        total, n = _sampled((element_memory(x) + DICT_ENTRY for x in items), samples)
        return ROBJ + 56 + 8 * table_buckets(count) + total * count // max(n, 1)
    # A sequence: quicklist nodes of listpacks (about 8 KB each).
    total, n = _sampled((_listpack_entry(x) for x in items), samples)
    payload = total * count // max(n, 1)
    nodes = payload // 8192 + 1
    return ROBJ + 40 + nodes * 32 + jemalloc_size(payload // nodes + 7) * nodes


def key_memory(key: bytes, value, samples: int = 5) -> int:
    """MEMORY USAGE: the value, the key's sds and its dictEntry."""
    return value_memory(value, samples) + jemalloc_size(sds_header(len(key), True) + len(key) + 1) + DICT_ENTRY
