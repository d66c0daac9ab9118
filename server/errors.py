"""Every error text the server sends, in one catalogue (Redis 7.0 server.c shared.* and the
command implementations). Commands raise ``CommandError``; the dispatcher turns it into the
reply and counts it for INFO errorstats. Texts have no CRLF. As in Redis's addReplyError, a
text that carries its own code starts with ``-`` (``-WRONGTYPE ...``); any other text gets
``-ERR `` in front.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command failed; ``reply`` is the complete encoded error reply."""

    __slots__ = ("reply",)

    def __init__(self, message: str | bytes):
        if isinstance(message, str):
            message = message.encode("utf-8", "surrogateescape")
        if b"\r" in message or b"\n" in message:
            message = message.replace(b"\r", b" ").replace(b"\n", b" ")
        if message[:1] == b"-":
            self.reply = message + b"\r\n"
        else:
            self.reply = b"-ERR " + message + b"\r\n"

    @property
    def code(self) -> bytes:
        return error_code(self.reply)


def error_code(reply: bytes) -> bytes:
    """The code of an encoded error reply: the first word after '-' (``ERR``, ``WRONGTYPE``)."""
    end = reply.find(b" ")
    if end < 0:
        end = len(reply) - 2
    return reply[1:end]


def err(message: str | bytes) -> bytes:
    """Encode an error reply without raising."""
    return CommandError(message).reply


# -- texts ---------------------------------------------------------------------------------

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "syntax error"
NOT_INTEGER = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
OUT_OF_RANGE = "value is out of range"
OUT_OF_RANGE_POSITIVE = "value is out of range, must be positive"
OVERFLOW = "increment or decrement would overflow"
NAN_OR_INF = "increment would produce NaN or Infinity"
NO_SUCH_KEY = "no such key"
INDEX_OUT_OF_RANGE = "index out of range"
DB_INDEX_OUT_OF_RANGE = "DB index is out of range"
INVALID_DB_INDEX = "invalid DB index"
SAME_OBJECT = "source and destination objects are the same"
NOAUTH = "-NOAUTH Authentication required."
WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
MAX_CLIENTS = "max number of clients reached"
NOPROTO = "-NOPROTO unsupported protocol version"
OOM = "-OOM command not allowed when used memory > 'maxmemory'."
READONLY = "-READONLY You can't write against a read only replica."
LOADING = "-LOADING Redis is loading the dataset in memory"
BUSYKEY = "-BUSYKEY Target key name already exists."
MISCONF = (
    "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
    "Commands that may modify the data set are disabled, because this instance is configured to report "
    "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check "
    "the Redis logs for details about the RDB error."
)
NOT_IN_MULTI = "Command not allowed inside a transaction"
BIT_OFFSET = "bit offset is not an integer or out of range"
BIT_VALUE = "bit is not an integer or out of range"
STRING_TOO_LONG = "string exceeds maximum allowed size (proto-max-bulk-len)"
TIMEOUT_NEGATIVE = "timeout is negative"
TIMEOUT_INVALID = "timeout is not a float or out of range"
DEBUG_DISABLED = (
    "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server."
)
PROTECTED_MODE = (
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the "
    "command 'CONFIG SET protected-mode no' from the loopback interface by connecting to "
    "Redis from the same host the server is running, however MAKE SURE Redis is not publicly "
    "accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. "
    "2) Alternatively you can just disable the protected mode by editing the Redis "
    "configuration file, and setting the protected mode option to 'no', and then restarting "
    "the server. 3) If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Set up an authentication password for the default "
    "user. NOTE: You only need to do one of the above things in order for the server to "
    "start accepting connections from the outside."
)


def wrong_arity(fullname: str) -> str:
    return f"wrong number of arguments for '{fullname}' command"


def invalid_expire(cmdname: str) -> str:
    return f"invalid expire time in '{cmdname}' command"


def _cstr(b: bytes, limit: int) -> str:
    """``%.<limit>s`` of a C string: stops at NUL, cut to ``limit`` bytes."""
    nul = b.find(b"\0")
    if nul >= 0:
        b = b[:nul]
    return b[:limit].decode("latin-1")


def unknown_command(argv: list[bytes]) -> bytes:
    args = ""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % _cstr(a, 128 - len(args))
    text = "unknown command '%s', with args beginning with: %s" % (_cstr(argv[0], 128), args)
    return err(text.encode("latin-1"))


def unknown_subcommand(argv: list[bytes]) -> bytes:
    text = "unknown subcommand '%s'. Try %s HELP." % (
        _cstr(argv[1], 128),
        _cstr(argv[0], 1 << 30).upper(),
    )
    return err(text.encode("latin-1"))
