"""Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL, FCALL_RO.

Design note
-----------
The handlers are thin: argument parsing and reply shapes live here, everything else in
``server/scripting`` (the Lua 5.1 sandbox through lupa, the script cache, function
libraries, running a script and the busy state). The Lua state is created on the first
scripting command a node sees.
"""

from __future__ import annotations

from protocol import encoder as enc

from ..errors import CommandError
from ..glob import stringmatch
from ..scripting import rdbfmt
from ..scripting.core import (
    BUSY_EVAL,
    FLAG_NAMES,
    Libraries,
    running,
    scripting,
)
from .configcmd import help_reply
from .spec import command

# -- EVAL ------------------------------------------------------------------------------------


@command("eval")
def eval_(c, argv):
    return scripting(c.node).eval(c, argv, False, False)


@command("eval_ro")
def eval_ro(c, argv):
    return scripting(c.node).eval(c, argv, False, True)


@command("evalsha")
def evalsha(c, argv):
    return scripting(c.node).eval(c, argv, True, False)


@command("evalsha_ro")
def evalsha_ro(c, argv):
    return scripting(c.node).eval(c, argv, True, True)


# -- SCRIPT ----------------------------------------------------------------------------------

SCRIPT_HELP = [
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
]


@command("script|help")
def script_help(c, argv):
    return help_reply(argv[0], SCRIPT_HELP)


def _flush_mode(argv, message: str) -> None:
    if len(argv) == 3 and argv[2].lower() in (b"sync", b"async"):
        return
    if len(argv) != 2:
        raise CommandError(message)


@command("script|flush")
def script_flush(c, argv):
    _flush_mode(argv, "SCRIPT FLUSH only support SYNC|ASYNC option")
    scripting(c.node).flush_scripts()
    return enc.OK


@command("script|exists")
def script_exists(c, argv):
    scripts = scripting(c.node).scripts
    return b"*%d\r\n" % (len(argv) - 2) + b"".join(
        enc.ONE if sha.lower() in scripts else enc.ZERO for sha in argv[2:]
    )


@command("script|load")
def script_load(c, argv):
    return enc.bulk(scripting(c.node).create_script(argv[2]).sha)


@command("script|kill")
def script_kill(c, argv):
    scripting(c.node).kill(True)
    return enc.OK


@command("script|debug")
def script_debug(c, argv):
    mode = argv[2].lower()
    if mode == b"no":
        return enc.OK
    if mode in (b"yes", b"sync"):
        raise CommandError("SCRIPT DEBUG is not supported by this server")
    raise CommandError("Use SCRIPT DEBUG YES/SYNC/NO")


# -- FCALL -------------------------------------------------------------------------------------


@command("fcall")
def fcall(c, argv):
    return scripting(c.node).fcall(c, argv, False)


@command("fcall_ro")
def fcall_ro(c, argv):
    return scripting(c.node).fcall(c, argv, True)


# -- FUNCTION ----------------------------------------------------------------------------------

FUNCTION_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
]


@command("function|help")
def function_help(c, argv):
    return help_reply(argv[0], FUNCTION_HELP)


def _syntax_error(argv) -> CommandError:
    """addReplySubcommandSyntaxError."""
    return CommandError(
        b"unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
        % (argv[1][:128], argv[0].upper())
    )


@command("function|load")
def function_load(c, argv):
    replace = False
    i = 2
    while i < len(argv) - 1:
        arg = argv[i]
        i += 1
        if arg.lower() == b"replace":
            replace = True
            continue
        raise CommandError(b"Unknown option given: " + arg)
    s = scripting(c.node)
    name = s.create_library(argv[i], replace, s.libs)
    c.node.dirty += 1
    return enc.bulk(name)


@command("function|delete")
def function_delete(c, argv):
    libs = scripting(c.node).libs
    lib = libs.libraries.get(argv[2])
    if lib is None:
        raise CommandError("Library not found")
    libs.unlink(lib)
    c.node.dirty += 1
    return enc.OK


@command("function|flush")
def function_flush(c, argv):
    if len(argv) > 3:
        raise _syntax_error(argv)
    _flush_mode(argv, "FUNCTION FLUSH only supports SYNC|ASYNC option")
    scripting(c.node).libs.clear()
    c.node.dirty += 1
    return enc.OK


@command("function|kill")
def function_kill(c, argv):
    scripting(c.node).kill(False)
    return enc.OK


@command("function|stats")
def function_stats(c, argv):
    run = running(c.node)
    if run is not None and run.eval_mode:
        raise CommandError(BUSY_EVAL)
    proto = c.proto
    out = [proto.map_header(2), enc.bulk(b"running_script")]
    if run is None:
        out.append(proto.null)
    else:
        out += [
            proto.map_header(3),
            enc.bulk(b"name"),
            enc.bulk(run.name),
            enc.bulk(b"command"),
            enc.bulk_array(run.argv),
            enc.bulk(b"duration_ms"),
            enc.integer(run.duration_ms()),
        ]
    libs = scripting(c.node).libs
    nfuncs = sum(len(lib.functions) for lib in libs.libraries.values())
    out += [
        enc.bulk(b"engines"),
        proto.map_header(1),
        enc.bulk(b"LUA"),
        proto.map_header(2),
        enc.bulk(b"libraries_count"),
        enc.integer(len(libs.libraries)),
        enc.bulk(b"functions_count"),
        enc.integer(nfuncs),
    ]
    return b"".join(out)


@command("function|list")
def function_list(c, argv):
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        low = arg.lower()
        if not with_code and low == b"withcode":
            with_code = True
        elif pattern is None and low == b"libraryname":
            if i >= len(argv) - 1:
                raise CommandError("library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise CommandError(b"Unknown argument " + arg)
        i += 1
    proto = c.proto
    items = []
    for lib in scripting(c.node).libs.libraries.values():
        if pattern is not None and not stringmatch(pattern, lib.name, nocase=True):
            continue
        out = [
            proto.map_header(4 if with_code else 3),
            enc.bulk(b"library_name"),
            enc.bulk(lib.name),
            enc.bulk(b"engine"),
            enc.bulk(b"LUA"),
            enc.bulk(b"functions"),
            b"*%d\r\n" % len(lib.functions),
        ]
        for f in lib.functions.values():
            flags = [name for bit, name in FLAG_NAMES if f.flags & bit]
            out += [
                proto.map_header(3),
                enc.bulk(b"name"),
                enc.bulk(f.name),
                enc.bulk(b"description"),
                proto.null if f.desc is None else enc.bulk(f.desc),
                enc.bulk(b"flags"),
                proto.set_header(len(flags)),
                *(b"+%s\r\n" % name for name in flags),
            ]
        if with_code:
            out += [enc.bulk(b"library_code"), enc.bulk(lib.code)]
        items.append(b"".join(out))
    return b"*%d\r\n" % len(items) + b"".join(items)


@command("function|dump")
def function_dump(c, argv):
    compress = c.node.config["rdbcompression"]
    body = b"".join(
        bytes((rdbfmt.RDB_OPCODE_FUNCTION2,)) + rdbfmt.encode_string(lib.code, compress)
        for lib in scripting(c.node).libs.libraries.values()
    )
    return enc.bulk(rdbfmt.add_footer(body))


_POLICIES = {b"append": "append", b"replace": "replace", b"flush": "flush"}


@command("function|restore")
def function_restore(c, argv):
    if len(argv) > 4:
        raise _syntax_error(argv)
    policy = "append"
    if len(argv) == 4:
        policy = _POLICIES.get(argv[3].lower())
        if policy is None:
            raise CommandError(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    payload = argv[2]
    if rdbfmt.verify_footer(payload) is None:
        raise CommandError("DUMP payload version or checksum are wrong")
    s = scripting(c.node)
    restored = Libraries()
    reader = rdbfmt.Reader(payload)
    try:
        while len(payload) - reader.pos > 10:
            opcode = reader.byte()
            if opcode == rdbfmt.RDB_OPCODE_FUNCTION:
                raise CommandError("Pre-release function format not supported.")
            if opcode != rdbfmt.RDB_OPCODE_FUNCTION2:
                raise CommandError("given type is not a function")
            try:
                code = reader.string()
            except rdbfmt.PayloadError:
                raise CommandError("Failed loading library payload") from None
            s.create_library(code, False, restored)
    except rdbfmt.PayloadError:
        raise CommandError("can not read data type") from None
    if policy == "flush":
        s.libs.clear()
        s.libs.join(restored, False)
    else:
        err = s.libs.join(restored, policy == "replace")
        if err is not None:
            raise CommandError(err)
    c.node.dirty += 1
    return enc.OK
