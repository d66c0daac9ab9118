"""Lua scripting: EVAL scripts and FUNCTION libraries (Redis 7.0 eval.c, functions.c,
function_lua.c, script.c, script_lua.c), on Lua 5.1 through lupa.

What lives where:

- ``core.py``: ``scripting(node)`` -- the node's script cache, function libraries and the
  running script (``ScriptRun``): the checks a script's commands pass (script.c scriptCall),
  the redis.* services the sandbox calls, SCRIPT/FUNCTION KILL, shebang and library
  metadata parsing.
- ``engine.py``: one sandboxed ``lupa.lua51`` runtime (Redis keeps two: EVAL and functions)
  and the bridges that make Python services look like Lua C functions.
- ``prelude.py``: the Lua side -- read-only globals, the redis table, RESP <-> Lua
  conversions, cjson, math.random, the error handler and the time-limit hooks.
- ``libs.py``: bit, cmsgpack and struct (Python).
- ``busy.py``: serving other clients while a script runs past busy-reply-threshold.
- ``rdbfmt.py``: the RDB pieces FUNCTION DUMP/RESTORE use (LZF byte-identical to Redis's,
  CRC64, RDB strings).

The commands themselves are in ``server/commands/scripting.py``.
"""
