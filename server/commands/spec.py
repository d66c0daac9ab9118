"""One spec per command: the only source of truth about a command.

Design note
-----------
A command module declares its handlers with ``@command("get")`` (or ``"config|get"`` for a
subcommand). Everything else Redis says about a command -- arity, flags, ACL categories,
key specifications, tips and documentation -- is taken from ``redis-7.0.json``, which
``tools/dump_redis_metadata.py`` captured from a real redis-server 7.0.15. ``table.py`` joins
the two into ``CommandSpec`` objects, and those drive:

* the dispatcher: the arity check, and the gates (flags such as ``write``, ``denyoom``,
  ``noscript``, ``loading``, ``stale``, ``no_auth``, ``no_multi`` become booleans on the spec);
* COMMAND, COMMAND INFO/DOCS/COUNT/LIST/GETKEYS, in Redis's exact reply shapes;
* key extraction (``keys``), used by COMMAND GETKEYS, WATCH and cluster routing;
* INFO commandstats (``calls``, ``usec``, ``rejected_calls``, ``failed_calls``).

A handler has the signature ``handler(client, argv) -> bytes``: it gets the connection (for
its database, protocol version and node) and the raw arguments, and returns the encoded
reply; it raises ``CommandError`` for an error reply.

The hottest commands may also have a *run handler*, ``run(client, requests, i, out) -> j``
(``@command("get", run=get_run)``): the connection's hot loop hands it a pipeline at a
request ``i`` of the command that the dispatcher has admitted, and it serves ``requests[i:j]``
-- appending their replies to ``out``, in as many pieces as it likes, since the connection
joins them into one write -- for as long as they are the same command in the
common form it knows, with the effects the handler would have had. It stops, without
serving it, at the first request that needs more (an option, a TTL, another type, a
notification to fire...), which then takes the ordinary path. A pipeline is mostly runs of
one command, and a run handler serves one with the lookups hoisted out of the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, list], bytes]

#: name -> (handler, extra metadata) collected by @command at import time.
REGISTRY: dict[str, tuple[Handler, dict]] = {}


def command(name: str, **meta) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of Redis command ``name``.

    ``meta`` may supply ``info``/``docs`` for a command Redis 7.0 does not have,
    ``getkeys`` for a key extractor the key specifications cannot express, and ``run`` for
    a run handler.
    """

    def register(handler: Handler) -> Handler:
        if name in REGISTRY:
            raise ValueError(f"command {name!r} registered twice")
        REGISTRY[name] = (handler, meta)
        return handler

    return register


def _plain(value) -> Any:
    """Strip RESP3 type tags from captured metadata: {"+": x} -> x, {"~": [..]} -> [..]."""
    if isinstance(value, dict):
        if "+" in value:
            return value["+"]
        if "~" in value:
            return [_plain(v) for v in value["~"]]
        if "%" in value:
            return {k: _plain(v) for k, v in value["%"]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class CommandSpec:
    """Everything about one command (or subcommand); built by table.build_table()."""

    __slots__ = (
        "name",
        "fullname",
        "handler",
        "run",
        "arity",
        "flags",
        "first_key",
        "last_key",
        "key_step",
        "acl_categories",
        "info",
        "docs",
        "key_specs",
        "subcommands",
        "parent",
        "getkeys",
        "dispatch_arity",
        # gate flags
        "write",
        "readonly",
        "denyoom",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "fast",
        "batchable",
        "no_auth",
        "may_replicate",
        "no_multi",
        "movablekeys",
        "allow_busy",
        # statistics (INFO commandstats)
        "calls",
        "nanos",
        "rejected_calls",
        "failed_calls",
    )

    def __init__(
        self, fullname: str, handler: Handler | None, info: list, docs, getkeys=None, run=None
    ):
        self.fullname = fullname
        self.name = fullname.rsplit("|", 1)[-1]
        self.handler = handler
        self.run = run  # the run handler, for the few commands that have one
        self.info = info
        self.docs = docs
        self.arity = info[1]
        self.flags = frozenset(_plain(info[2]))
        self.first_key, self.last_key, self.key_step = info[3], info[4], info[5]
        self.acl_categories = tuple(_plain(info[6]))
        self.key_specs = _plain(info[8])
        self.subcommands: dict[bytes, CommandSpec] | None = None
        self.parent: CommandSpec | None = None
        self.getkeys = getkeys
        #: The arity the dispatcher checks. A container (CONFIG, CLIENT...) gets one no
        #: request can satisfy, so resolving its subcommand costs nothing on the fast path.
        self.dispatch_arity = self.arity
        f = self.flags
        self.write = "write" in f
        self.readonly = "readonly" in f
        self.denyoom = "denyoom" in f
        self.admin = "admin" in f
        self.pubsub = "pubsub" in f
        self.noscript = "noscript" in f
        self.blocking = "blocking" in f
        self.loading = "loading" in f
        self.stale = "stale" in f
        self.skip_monitor = "skip_monitor" in f
        self.skip_slowlog = "skip_slowlog" in f
        self.fast = "fast" in f
        #: Timed in runs by the connection's hot loop (server/dispatch.py build_run_batch):
        #: cheap commands that do not read the statistics they update, nor change what gates
        #: their client (AUTH, HELLO, MULTI, SELECT, RESET... all carry ``loading``).
        self.batchable = (self.fast or (self.write and not self.admin)) and not (
            self.noscript or self.blocking or "loading" in f
        )
        if run is not None and not self.batchable:
            raise ValueError(f"{fullname}: only a batchable command can have a run handler")
        self.no_auth = "no_auth" in f
        self.may_replicate = "may_replicate" in f
        self.no_multi = "no_multi" in f
        self.movablekeys = "movablekeys" in f
        self.allow_busy = "allow_busy" in f
        self.calls = 0
        self.nanos = 0  # time spent in the command, ns (INFO commandstats shows usec)
        self.rejected_calls = 0
        self.failed_calls = 0

    def __repr__(self) -> str:
        return f"<CommandSpec {self.fullname} arity={self.arity}>"

    def arity_ok(self, argc: int) -> bool:
        a = self.arity
        return argc == a if a > 0 else argc >= -a

    # -- keys ------------------------------------------------------------------------------
    def keys(self, argv: list[bytes]) -> list[int]:
        """Indexes of the key arguments in ``argv`` (COMMAND GETKEYS, WATCH, cluster routing).

        Follows the key specifications (begin_search index/keyword, find_keys range/keynum)
        as Redis's getKeysUsingKeySpecs does; a command may override with ``getkeys``.
        """
        if self.getkeys is not None:
            return self.getkeys(argv)
        argc = len(argv)
        found: list[int] = []
        for ks in self.key_specs:
            bs = ks["begin_search"]
            spec = bs["spec"]
            if bs["type"] == "index":
                first = spec["index"]
            elif bs["type"] == "keyword":
                keyword = spec["keyword"].encode().lower()
                start, limit = spec["startfrom"], argc
                first = 0
                if start >= 0:
                    rng = range(start, argc)
                else:
                    rng = range(argc + start, 0, -1)
                for i in rng:
                    if argv[i].lower() == keyword:
                        first = i + 1
                        break
                if not first:
                    continue
            else:
                continue
            fk = ks["find_keys"]
            fspec = fk["spec"]
            if fk["type"] == "range":
                step = fspec["keystep"]
                lastkey = fspec["lastkey"]
                limit = fspec["limit"]
                if lastkey >= 0:
                    last = first + lastkey
                elif limit <= 1:
                    last = argc + lastkey
                else:
                    last = first + ((argc - first) // limit + lastkey)
            elif fk["type"] == "keynum":
                idx = first + fspec["keynumidx"]
                if idx >= argc:
                    continue
                try:
                    numkeys = int(argv[idx])
                except ValueError:
                    continue
                if numkeys < 0:
                    continue
                first = first + fspec["firstkey"]
                step = fspec["keystep"]
                last = first + (numkeys - 1) * step
            else:
                continue
            i = first
            while i <= last and i < argc:
                found.append(i)
                i += step
        return found
