"""One sandboxed Lua 5.1 interpreter (lupa) for EVAL scripts or for function libraries.

Design note
-----------
Redis keeps two Lua states: one for EVAL scripts (rebuilt by SCRIPT FLUSH) and one for the
function engine. ``LuaEngine(services, mode)`` builds either: a ``lupa.lua51.LuaRuntime``
that works on bytes (``encoding=None``), denies Python attribute access from Lua, and runs
the sandbox prelude (prelude.py), which replaces the thread's globals with the read-only
sandbox and returns the entry points used here.

``services`` is the object that answers the sandbox's requests (``Scripting``): running a
command, logging, the shared ``math.random`` generator, the time-limit hook and function
registration. The prelude only ever sees Lua closures over these callables, never Python
objects, so a script cannot reach Python.

``run`` returns a tuple describing the outcome, decided in Lua:

* ``(0, reply)`` -- the script's value encoded as RESP for the caller;
* ``(1, reply)`` / ``(2, reply)`` -- the value was an error table: an error reply to count in
  the error statistics (1) or one already counted when the failing command ran (2);
* ``(3, message, source, line, counted)`` -- a Lua error, with its position;
* ``(4, message)`` -- an error value the handler could not shape (should not happen).
"""

from __future__ import annotations

from lupa import lua51

from . import libs
from .prelude import PRELUDE

#: Passing more arguments than this through the Lua stack is not safe; such calls build the
#: KEYS/ARGV tables on the Python side instead.
_MAX_STACK_ARGS = 4000


def _deny_attribute(obj, name, is_setting):
    raise AttributeError(name)


class LuaRaise(Exception):
    """Raised by Python code called from Lua: lupa turns it into a Lua error whose value is
    this exception (a userdata); the sandbox unwraps ``value`` (see prelude.py)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _unwrap(e):
    return e.value if isinstance(e, LuaRaise) else None


class LuaEngine:
    """A Lua state with the Redis sandbox. See the module docstring."""

    __slots__ = (
        "lua",
        "mode",
        "_compile",
        "_run",
        "_run_tables",
        "_load_library",
        "_table_from",
        "_where",
        "_services",
    )

    def __init__(self, services, mode: str):
        self.mode = mode
        lua = self.lua = lua51.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny_attribute,
        )
        self._services = services
        self._where = None
        tf = lua.table_from
        py = tf(
            {
                b"trampoline": self._trampoline,
                b"unwrap": _unwrap,
                b"pylib": self._pylib,
                b"make_call": self._make_call,
                b"call": services.lua_call,
                b"interrupt": services.lua_interrupt,
                b"rand": services.lua_rand,
                b"srand": services.lua_srand,
                b"log": services.lua_log,
                b"setresp": services.lua_setresp,
                b"set_repl": services.lua_set_repl,
                b"sha1hex": services.lua_sha1hex,
                b"acl_check": services.lua_acl_check,
                b"register": services.lua_register,
                b"load_timeout": services.lua_load_timeout,
                b"version": services.version.encode(),
                b"version_num": services.version_num,
                b"libs": tf({name: tf(funcs) for name, funcs in libs.LIBRARIES.items()}),
            }
        )
        loader = lua.eval("loadstring")
        chunk = loader(PRELUDE.encode(), b"=vermilion")
        if isinstance(chunk, tuple):  # pragma: no cover - a syntax error in the prelude
            raise RuntimeError(chunk[1])
        exports = chunk(mode.encode(), py)
        self._compile = exports[b"compile"]
        self._run = exports[b"run"]
        self._run_tables = exports[b"run_tables"]
        self._load_library = exports[b"load_library"]
        self._where = exports[b"where"]
        self._table_from = tf

    # -- C functions for the sandbox (see prelude.py cfn) ---------------------------------------
    def _raise(self, value) -> LuaRaise:
        if lua51.lua_type(value) == "table":
            msg = value[b"lmsg"]
            if msg is not None:
                return LuaRaise(self._where(2) + msg)
        return LuaRaise(value)

    def _trampoline(self, safe):
        def c_function(*args):
            r = safe(*args)
            if r.__class__ is tuple:
                if r[0]:
                    return r[1:]
                raise self._raise(r[1])
            if r:
                return ()
            raise self._raise(None)

        return c_function

    def _pylib(self, fn):
        def c_function(*args):
            r = fn(*args)
            if r[0] is False:
                raise LuaRaise(self._where(2) + r[1])
            return r[2:]

        return c_function

    def _make_call(self, raise_error, parse, call_error):
        lua_call = self._services.lua_call

        def c_function(*args):
            kind, payload = lua_call(*args)
            if kind == 0:
                return parse(payload)
            err = call_error(kind, payload)
            if raise_error or kind == 3:
                raise LuaRaise(err)
            return err

        return c_function

    def compile(self, code: bytes, chunkname: bytes):
        """(function, None) or (None, the Lua error message)."""
        result = self._compile(code, chunkname)
        if isinstance(result, tuple):
            return result
        return result, None

    def run(self, fn, keys: list[bytes], args: list[bytes], caller_resp3: bool, hook: bool):
        if len(keys) + len(args) > _MAX_STACK_ARGS:
            tf = self._table_from
            return self._run_tables(fn, hook, caller_resp3, tf(keys), tf(args))
        return self._run(fn, hook, caller_resp3, len(keys), *keys, *args)

    def load_library(self, fn) -> bytes | None:
        """Run a library's top-level code (FUNCTION LOAD); the error message or None."""
        return self._load_library(fn)
