"""Scripts and functions of one node: the script cache, the function libraries, the running
script, and the redis.* services the Lua sandbox calls (Redis 7.0 eval.c, functions.c,
script.c).

Design note
-----------
``scripting(node)`` returns the node's ``Scripting``, created on first use. It owns two Lua
engines (engine.py): one for EVAL scripts, rebuilt by SCRIPT FLUSH, and one for function
libraries. A script or function runs as a ``ScriptRun`` (scriptRunCtx) through ``execute``:

* its commands go through ``ScriptRun.call`` -- the checks of script.c scriptCall (unknown
  command and arity, ``noscript``, writes from read-only scripts, OOM) and then the
  dispatcher's ``execute`` with a fake ``ScriptClient``, so statistics, slowlog, MONITOR
  (shown as ``lua``), keyspace events and propagation behave as for any command;
* its writes are propagated as they happen into ``propagation_batch``: MULTI ... EXEC
  around them when there are several (effects replication, Redis 7.0's only mode);
* blocking commands answer at once (``deny_blocking``); clients blocked on keys the script
  filled are served after it, when the dispatcher regains control;
* with ``busy-reply-threshold`` > 0 a Lua count hook calls ``lua_interrupt`` every 100,000
  instructions; past the threshold the node enters the busy state (the dispatcher answers
  ``-BUSY``) and each hook call pumps the other clients' I/O (busy.py) so SCRIPT KILL,
  FUNCTION KILL / STATS and SHUTDOWN NOSAVE can get through.
"""

from __future__ import annotations

import hashlib
import time

from .. import errors as E
from ..connection import Client
from ..dispatch import DECLARED_FLAGS, CommandFlags, count_error, execute, reject
from ..errors import CommandError
from .busy import Pump
from .engine import LuaEngine
from .libs import Tables

# Script flags (script.h), the shebang names, and the compat bit of a script without one.
NO_WRITES, ALLOW_OOM, ALLOW_STALE, NO_CLUSTER, ALLOW_CROSS_SLOT = 1, 2, 4, 8, 16
EVAL_COMPAT = 1 << 10
FLAG_NAMES = (
    (NO_WRITES, b"no-writes"),
    (ALLOW_OOM, b"allow-oom"),
    (ALLOW_STALE, b"allow-stale"),
    (NO_CLUSTER, b"no-cluster"),
    (ALLOW_CROSS_SLOT, b"allow-cross-slot-keys"),
)
FLAG_BY_NAME = {name: bit for bit, name in FLAG_NAMES}

NOSCRIPT = "-NOSCRIPT No matching script. Please use EVAL."
BUSY_EVAL = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
NOTBUSY = "-NOTBUSY No scripts in execution right now."
UNKILLABLE = (
    "-UNKILLABLE Sorry the script already executed write commands against the dataset. "
    "You can either wait the script termination or kill the server in a hard way using "
    "the SHUTDOWN NOSAVE command."
)
RO_WITH_WRITE_FLAG = "Can not execute a script with write flag using *_ro command."

FUNCTION_LOAD_TIMEOUT_MS = 500

#: Commands Redis 7.0 flags CMD_MAY_REPLICATE that scripts can call. COMMAND INFO does not
#: show that flag, so the captured metadata lacks it (spec.may_replicate stays False).
MAY_REPLICATE = frozenset(("publish", "spublish", "pfcount"))
REDIS_VERSION_NUM = 0x07000F


def sha1hex(data: bytes) -> bytes:
    return hashlib.sha1(data).hexdigest().encode()


def lua_error_text(s: bytes) -> bytes:
    """luaPushErrorBuff: "-CODE msg" or "msg" -> "CODE msg" (ERR by default), CRLF trimmed."""
    if s[:1] == b"-":
        sp = s.find(b" ")
        if sp < 0:
            code, msg = b"ERR", s[1:]
        else:
            code, msg = s[1:sp], s[sp + 1 :]
    else:
        code, msg = b"ERR", s
    return code + b" " + msg.strip(b"\r\n")


def _fmt_number(n) -> bytes:
    """A Lua number as redis.call passes it: %.17g."""
    if isinstance(n, int) and -(1 << 53) <= n <= 1 << 53:
        return b"%d" % n
    f = float(n)
    if f != f:
        return b"-nan" if _negative(f) else b"nan"
    return b"%.17g" % f


def _negative(f: float) -> bool:
    import math

    return math.copysign(1.0, f) < 0


class ScriptClient(Client):
    """The fake client scripts run their commands as (Redis's lua_client)."""

    is_script = True

    def __init__(self, node):
        super().__init__(node)
        self.authenticated = True
        self.deny_blocking = True
        self.addr = "lua"


class Script:
    __slots__ = ("sha", "body", "flags", "fn")

    def __init__(self, sha: bytes, body: bytes, flags: int, fn):
        self.sha = sha
        self.body = body
        self.flags = flags
        self.fn = fn


class Function:
    __slots__ = ("name", "fn", "desc", "flags", "library")

    def __init__(self, name: bytes, fn, desc, flags: int, library):
        self.name = name
        self.fn = fn
        self.desc = desc
        self.flags = flags
        self.library = library


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes):
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}


class Libraries:
    """A functions library context (functionsLibCtx): libraries by name (case-sensitive) and
    functions by lowercased name (Redis's case-insensitive function dict)."""

    __slots__ = ("libraries", "functions")

    def __init__(self):
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}

    def link(self, lib: Library) -> None:
        for f in lib.functions.values():
            self.functions[f.name.lower()] = f
        self.libraries[lib.name] = lib

    def unlink(self, lib: Library) -> None:
        for f in lib.functions.values():
            self.functions.pop(f.name.lower(), None)
        del self.libraries[lib.name]

    def clear(self) -> None:
        self.libraries.clear()
        self.functions.clear()

    def join(self, src: "Libraries", replace: bool) -> bytes | None:
        """libraryJoin: add ``src``'s libraries; an error (and nothing changed) on collision."""
        replaced = []
        for name, lib in src.libraries.items():
            old = self.libraries.get(name)
            if old is not None:
                if not replace:
                    self._relink(replaced)
                    return b"Library %s already exists" % name
                self.unlink(old)
                replaced.append(old)
        for key, f in src.functions.items():
            if key in self.functions:
                self._relink(replaced)
                return b"Function %s already exists" % f.name
        for lib in src.libraries.values():
            self.link(lib)
        src.clear()
        return None

    def _relink(self, libs) -> None:
        for lib in libs:
            self.link(lib)


class ScriptRun:
    """One running script or function (scriptRunCtx)."""

    __slots__ = (
        "scripting",
        "caller",
        "client",
        "name",
        "argv",
        "eval_mode",
        "read_only",
        "allow_oom",
        "oom",
        "write_dirty",
        "timedout",
        "killed",
        "start",
        "repl",
        "pump",
    )

    def __init__(self, scripting, caller, client, name: bytes, argv, eval_mode: bool):
        self.scripting = scripting
        self.caller = caller
        self.client = client
        self.name = name
        self.argv = argv
        self.eval_mode = eval_mode
        self.read_only = False
        self.allow_oom = False
        self.oom = False
        self.write_dirty = False
        self.timedout = False
        self.killed = False
        self.start = time.monotonic()
        self.repl = 3
        self.pump: Pump | None = None

    @property
    def busy_reply(self) -> bytes:
        return E.err(BUSY_EVAL if self.eval_mode else BUSY_FUNCTION)

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)

    # -- redis.call: script.c scriptCall ------------------------------------------------------
    def call(self, argv: list[bytes]):
        node = self.scripting.node
        spec = node.commands.get(argv[0])
        if spec is not None and spec.subcommands is not None and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].lower())
        if spec is None:
            return self._refuse(None, b"Unknown Redis command called from script")
        a = spec.arity
        if (len(argv) != a) if a > 0 else (len(argv) < -a):
            return self._refuse(spec, b"Wrong number of args calling Redis command from script")
        if spec.noscript:
            return self._refuse(spec, b"This Redis command is not allowed from script")
        if self.read_only and (spec.write or spec.may_replicate or spec.fullname in MAY_REPLICATE):
            return self._refuse(spec, b"Write commands are not allowed from read-only scripts.")
        if (
            spec.denyoom
            and not self.allow_oom
            and not self.write_dirty
            and self.oom
            and node.config["maxmemory"]
        ):
            return self._refuse(spec, E.OOM.encode())
        if spec.write:
            self.write_dirty = True
        c = self.client
        if self.repl == 0 and node.propagating:
            own = vars(node).get("propagate")
            node.propagate = _drop
            try:
                reply = execute(node, c, spec, argv)
            finally:
                if own is None:
                    del node.propagate
                else:
                    node.propagate = own
        else:
            reply = execute(node, c, spec, argv)
        if reply[:1] == b"-":
            return 1, lua_error_text(reply)
        return 0, reply

    def _refuse(self, spec, message: bytes):
        reject(self.scripting.node, spec, E.err(message))
        return 1, lua_error_text(message)


def _drop(dbid, argv) -> None:
    pass


class Scripting:
    """Everything scripting for one node. See the module docstring."""

    version = "7.0.15"
    version_num = REDIS_VERSION_NUM

    def __init__(self, node):
        self.node = node
        self.scripts: dict[bytes, Script] = {}
        node.scripts = self.scripts  # INFO number_of_cached_scripts
        self.eval_engine = LuaEngine(self, "eval")
        self.func_engine = LuaEngine(self, "function")
        self.libs = Libraries()
        self.eval_client = ScriptClient(node)
        self.func_client = ScriptClient(node)
        self.current: ScriptRun | None = None
        # redisLrand48's state: shared by both engines, never reseeded between scripts.
        self.rand_state = 0x1234ABCD330E
        self._loading: tuple | None = None  # (library, start time) during FUNCTION LOAD

    # -- EVAL ------------------------------------------------------------------------------------
    def flush_scripts(self) -> None:
        """SCRIPT FLUSH: a new Lua state and an empty cache."""
        if self.current is not None:  # pragma: no cover - refused by the BUSY gate
            return
        self.scripts.clear()
        self.eval_engine = LuaEngine(self, "eval")

    def create_script(self, body: bytes) -> Script:
        """luaCreateFunction: the cached script for ``body``, compiling it if needed."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, shebang_len = parse_shebang(body)
        fn, err = self.eval_engine.compile(body[shebang_len:], b"@user_script")
        if fn is None:
            raise CommandError(b"Error compiling script (new function): " + err)
        script = self.scripts[sha] = Script(sha, body, flags, fn)
        return script

    def eval(self, c, argv: list[bytes], evalsha: bool, ro: bool) -> bytes:
        node = self.node
        if node.monitors:
            from ..commands.admin import feed_monitors

            feed_monitors(node, c, argv)
        if evalsha and len(argv[1]) != 40:
            raise CommandError(NOSCRIPT)
        nkeys = parse_numkeys(argv, E.NOT_INTEGER)
        if evalsha:
            script = self.scripts.get(argv[1].lower())
            if script is None:
                raise CommandError(NOSCRIPT)
        else:
            script = self.create_script(argv[1])
        run = self.prepare(c, self.eval_client, script.sha, script.flags, ro, True, argv)
        keys = argv[3 : 3 + nkeys]
        return self.execute(run, self.eval_engine, script.fn, keys, argv[3 + nkeys :])

    # -- FCALL -----------------------------------------------------------------------------------
    def fcall(self, c, argv: list[bytes], ro: bool) -> bytes:
        node = self.node
        if node.monitors:
            from ..commands.admin import feed_monitors

            feed_monitors(node, c, argv)
        f = self.libs.functions.get(argv[1].lower())
        if f is None:
            raise CommandError("Function not found")
        nkeys = parse_numkeys(argv, "Bad number of keys provided")
        run = self.prepare(c, self.func_client, f.name, f.flags, ro, False, argv)
        keys = argv[3 : 3 + nkeys]
        return self.execute(run, self.func_engine, f.fn, keys, argv[3 + nkeys :])

    # -- running ----------------------------------------------------------------------------------
    def prepare(self, caller, client, name, flags, ro, eval_mode, argv) -> ScriptRun:
        """scriptPrepareForRun: the checks a script's flags call for, then the run context."""
        node = self.node
        config = node.config
        oom = bool(config["maxmemory"]) and not node.free_memory_if_needed()
        if not flags & EVAL_COMPAT:
            if flags & NO_CLUSTER and config["cluster-enabled"]:
                raise CommandError("Can not run script on cluster, 'no-cluster' flag is set.")
            if not flags & NO_WRITES and ro:
                raise CommandError(RO_WITH_WRITE_FLAG)
            if oom and not flags & (ALLOW_OOM | NO_WRITES):
                raise CommandError(
                    "-OOM allow-oom flag is not set on the script, can not run it when used "
                    "memory > 'maxmemory'"
                )
        run = ScriptRun(self, caller, client, name, argv, eval_mode)
        run.read_only = ro or (not flags & EVAL_COMPAT and bool(flags & NO_WRITES))
        run.allow_oom = not flags & EVAL_COMPAT and bool(flags & ALLOW_OOM)
        run.oom = oom
        return run

    def execute(self, run: ScriptRun, engine: LuaEngine, fn, keys, args) -> bytes:
        from ..commands.transactions import propagation_batch

        node = self.node
        caller = run.caller
        client = run.client
        client.db = caller.db
        if client.resp != 2:
            client.set_protocol(2)
        hook = node.config["busy-reply-threshold"] > 0
        Tables.table_from = engine.lua.table_from
        self.current = run
        try:
            with propagation_batch(node):
                result = engine.run(fn, keys, args, caller.resp == 3, hook)
        finally:
            self.current = None
            if run.timedout:
                node.busy_script = None
                node.recompute_gates()
        return self._reply(run, result)

    def _reply(self, run: ScriptRun, result) -> bytes:
        kind = result[0]
        if kind == 0:
            return result[1]
        if kind == 1:
            raise CommandError(result[1][:-2])
        if kind == 2:
            return result[1]
        if kind == 4:
            msg = b"Error running script %s, %.100s" % (run.name, result[1])
            raise CommandError(msg)
        _, msg, source, line, counted = result
        if msg is None:
            msg = b"(null)"
        text = b"-" + msg
        if line is not None and source is not None:
            text += b" script: %s, on %s:%s." % (run.name, source, line)
        if counted:
            text = text.replace(b"\r", b" ").replace(b"\n", b" ")
            return text + b"\r\n"
        raise CommandError(text)

    # -- kill and stats ----------------------------------------------------------------------------
    def kill(self, eval_mode: bool) -> None:
        """scriptKill: raises the refusal, or marks the run killed."""
        run = self.current
        if run is None:
            raise CommandError(NOTBUSY)
        if run.write_dirty:
            raise CommandError(UNKILLABLE)
        if eval_mode and not run.eval_mode:
            raise CommandError(BUSY_FUNCTION)
        if not eval_mode and run.eval_mode:
            raise CommandError(BUSY_EVAL)
        run.killed = True

    # -- services for the Lua sandbox ------------------------------------------------------------
    def lua_call(self, *args):
        run = self.current
        if run is None:
            return 3, b"ERR redis.call/pcall can only be called inside a script invocation"
        if not args:
            return 2, b"ERR Please specify at least one argument for this redis lib call"
        argv = []
        for a in args:
            cls = a.__class__
            if cls is bytes:
                argv.append(a)
            elif cls is int or cls is float:
                argv.append(_fmt_number(a))
            else:
                return 2, b"ERR Lua redis lib command arguments must be strings or integers"
        return run.call(argv)

    def lua_interrupt(self) -> bool:
        """The count hook (scriptInterrupt): True when the script must die."""
        run = self.current
        if run is None:
            return False
        node = self.node
        if not run.timedout:
            elapsed = time.monotonic() - run.start
            if elapsed * 1000 < node.config["busy-reply-threshold"]:
                return False
            node.log.warning(
                "Slow script detected: still in execution after %d milliseconds. You can try "
                "killing the script using the %s command. Script name is: %s."
                % (
                    elapsed * 1000,
                    "SCRIPT KILL" if run.eval_mode else "FUNCTION KILL",
                    run.name.decode("latin-1"),
                )
            )
            run.timedout = True
            run.pump = Pump(node, run.caller)
            node.busy_script = run
            node.recompute_gates()
        run.pump.pump()
        if getattr(node, "_shutdown_started", False):
            run.killed = True
        if run.killed:
            node.log.warning("Lua script killed by user with SCRIPT KILL.")
        return run.killed

    def lua_rand(self) -> float:
        x = (0x5DEECE66D * self.rand_state + 0xB) & ((1 << 48) - 1)
        self.rand_state = x
        return ((x >> 17) % 0x7FFFFFFF) / 0x7FFFFFFF

    def lua_srand(self, seed) -> None:
        seed = int(seed) & 0xFFFFFFFF
        self.rand_state = (seed << 16) | 0x330E

    def lua_log(self, level, message: bytes) -> None:
        node = self.node
        node.log.log(int(level), message.decode("utf-8", "replace"))

    def lua_setresp(self, resp) -> None:
        run = self.current
        if run is not None:
            run.client.set_protocol(int(resp))

    def lua_set_repl(self, flags) -> None:
        run = self.current
        if run is not None:
            run.repl = int(flags)

    def lua_sha1hex(self, data: bytes) -> bytes:
        return sha1hex(data)

    def lua_acl_check(self, *args):
        name = args[0] if args else b""
        if not isinstance(name, bytes):
            name = _fmt_number(name)
        spec = self.node.commands.get(name)
        if spec is not None and spec.subcommands is not None and len(args) > 1:
            sub = args[1]
            spec = spec.subcommands.get(sub.lower()) if isinstance(sub, bytes) else None
        return None if spec is None else True

    # -- function libraries -------------------------------------------------------------------------
    def lua_register(self, name: bytes, fn, desc, flags) -> bytes | None:
        if self._loading is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        lib = self._loading[0]
        if not valid_name(name):
            return LIBRARY_NAME_ERROR
        if name in lib.functions:
            return b"Function already exists in the library"
        bits = 0
        if flags is not None:
            for value in flags.values():
                bits |= FLAG_BY_NAME[value]
        lib.functions[name] = Function(name, fn, desc, bits, lib)
        return None

    def lua_load_timeout(self) -> bool:
        loading = self._loading
        return loading is not None and (time.monotonic() - loading[1]) * 1000 > FUNCTION_LOAD_TIMEOUT_MS

    def create_library(self, code: bytes, replace: bool, ctx: Libraries) -> bytes:
        """functionsCreateWithLibraryCtx: the library's name, or CommandError."""
        name, engine, body = parse_library_metadata(code)
        if not valid_name(name):
            raise CommandError(LIBRARY_NAME_ERROR)
        if engine.upper() != b"LUA":
            raise CommandError(b"Engine '%s' not found" % engine)
        old = ctx.libraries.get(name)
        if old is not None and not replace:
            raise CommandError(b"Library '%s' already exists" % name)
        if old is not None:
            ctx.unlink(old)
        try:
            lib = self._compile_library(name, code, body)
            for f in lib.functions.values():
                if f.name.lower() in ctx.functions:
                    raise CommandError(b"Function %s already exists" % f.name)
        except CommandError:
            if old is not None:
                ctx.link(old)
            raise
        ctx.link(lib)
        return name

    def _compile_library(self, name: bytes, code: bytes, body: bytes) -> Library:
        engine = self.func_engine
        fn, err = engine.compile(body, b"@user_function")
        if fn is None:
            raise CommandError(b"Error compiling function: " + err)
        lib = Library(name, code)
        self._loading = (lib, time.monotonic())
        Tables.table_from = engine.lua.table_from
        try:
            err = engine.load_library(fn)
        finally:
            self._loading = None
        if err is not None:
            raise CommandError(b"Error registering functions: " + err)
        if not lib.functions:
            raise CommandError("No functions registered")
        return lib


LIBRARY_NAME_ERROR = (
    b"Library names can only contain letters, numbers, or underscores(_) and must be at "
    b"least one character long"
)


def valid_name(name: bytes) -> bool:
    if not name:
        return False
    for ch in name:
        if not (48 <= ch <= 57 or 65 <= ch <= 90 or 97 <= ch <= 122 or ch == 95):
            return False
    return True


def parse_numkeys(argv: list[bytes], message: str) -> int:
    from ..commands.args import parse_int

    n = parse_int(argv[2])
    if n is None:
        raise CommandError(message)
    if n > len(argv) - 3:
        raise CommandError("Number of keys can't be greater than number of args")
    if n < 0:
        raise CommandError("Number of keys can't be negative")
    return n


def _split_args(line: bytes):
    from protocol.reader import split_inline

    return split_inline(line)


def parse_shebang(body: bytes) -> tuple[int, int]:
    """evalExtractShebangFlags: (flags, length of the shebang line) or CommandError."""
    if not body.startswith(b"#!"):
        return EVAL_COMPAT, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("Invalid script shebang")
    parts = _split_args(body[:end])
    if not parts:
        raise CommandError("Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise CommandError(b"Unexpected engine in script shebang: " + parts[0])
    flags = 0
    for part in parts[1:]:
        if part.startswith(b"flags="):
            value = part[6:]
            for name in value.split(b",") if value else ():
                bit = FLAG_BY_NAME.get(name)
                if bit is None:
                    raise CommandError(b"Unexpected flag in script shebang: " + name)
                flags |= bit
        else:
            raise CommandError(b"Unknown lua shebang option: " + part)
    return flags, end


def parse_library_metadata(code: bytes) -> tuple[bytes, bytes, bytes]:
    """functionExtractLibMetaData: (name, engine, code after the shebang line)."""
    if not code.startswith(b"#!"):
        raise CommandError("Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("Invalid library metadata")
    parts = _split_args(code[:end])
    if not parts:
        raise CommandError("Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise CommandError(b"Invalid metadata value given: " + part)
    if name is None:
        raise CommandError("Library name was not given")
    return name, engine, code[end:]


def scripting(node) -> Scripting:
    """The node's scripting state, created on first use."""
    s = getattr(node, "_scripting", None)
    if s is None:
        s = node._scripting = Scripting(node)
    return s


def running(node) -> ScriptRun | None:
    s = getattr(node, "_scripting", None)
    return None if s is None else s.current


def declared_flags(node, spec, argv: list[bytes]):
    """evalGetCommandFlags / fcallGetCommandFlags: a script that declares its flags (a
    shebang; every function) is gated by them instead of by the command's: it writes and
    is refused when out of memory unless it says ``no-writes`` / ``allow-oom``, and may
    run on a stale replica only with ``allow-stale``. Unknown scripts, scripts without a
    shebang and bad shebangs keep the command's flags (the command reports the error)."""
    s = scripting(node)
    name = spec.name
    if name in ("fcall", "fcall_ro"):
        f = s.libs.functions.get(argv[1].lower()) if len(argv) > 1 else None
        if f is None:
            return spec
        flags = f.flags
    else:
        body = argv[1]
        if name in ("evalsha", "evalsha_ro"):
            script = s.scripts.get(body.lower()) if len(body) == 40 else None
        else:
            script = s.scripts.get(sha1hex(body))
        if script is not None:
            flags = script.flags
        elif name in ("evalsha", "evalsha_ro"):
            return spec
        else:
            try:
                flags = parse_shebang(body)[0]
            except CommandError:
                return spec
    if flags & EVAL_COMPAT:
        return spec
    return CommandFlags(
        spec,
        write=not flags & NO_WRITES,
        denyoom=not flags & (ALLOW_OOM | NO_WRITES),
        stale=bool(flags & ALLOW_STALE),
        may_replicate=False,
    )


for _name in ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"):
    DECLARED_FLAGS[_name] = declared_flags


__all__ = ["scripting", "running", "Scripting", "ScriptRun"]
