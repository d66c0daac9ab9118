"""Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET and CLIENT.

Design note
-----------
These handlers change per-connection state on the ``Client`` (``server/connection.py``).
Changes that affect how the connection reads or replies set ``c.interrupt`` so the batch
loop leaves its fast path: AUTH succeeding, CLIENT REPLY (the slow path applies
``c.reply_mode`` to every later reply), CLIENT KILL of the caller itself and QUIT
(``c.closing``).

Passwords never reach MONITOR or SLOWLOG: AUTH and HELLO replace them in ``argv`` with
``(redacted)`` once read, as Redis's redactClientCommandArgument does; the dispatcher
feeds the same list to both after the handler returns.

RESET clears the state other modules own (MULTI/WATCH, subscriptions, tracking) through
``RESET_HOOKS``: a module registers ``@on_reset`` functions taking the client.

CLIENT SETINFO and CLIENT NO-TOUCH are Redis 7.2 commands (redis-py sends SETINFO on every
connection); their metadata is given here because redis-7.0.json lacks them. CLIENT HELP
stays 7.0's text.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from protocol import encoder as enc
from protocol.encoder import OK, PONG

from .. import clientinfo
from .. import errors as E
from ..connection import REPLY_OFF, REPLY_ON, REPLY_SKIP
from ..errors import CommandError
from .args import parse_int
from .spec import command

REDACTED = b"(redacted)"
CLIENT_NAME_CHARS = "Client names cannot contain spaces, newlines or special characters."
NOAUTH_HELLO = (
    "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)

#: Functions run by RESET with the client (discard MULTI, unsubscribe, tracking off...).
RESET_HOOKS: list[Callable] = []


def on_reset(hook: Callable) -> Callable:
    """Register ``hook(client)`` to clear a module's per-client state on RESET."""
    RESET_HOOKS.append(hook)
    return hook


def subcommand_syntax_error(argv: list[bytes]) -> CommandError:
    """addReplySubcommandSyntaxError: the subcommand exists but its arguments do not fit."""
    return CommandError(
        "unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
        % (argv[1][:128].decode("latin-1"), argv[0].decode("latin-1").upper())
    )


def help_reply(lines: list[str]) -> bytes:
    """addReplyHelp: a list of status lines."""
    return b"*%d\r\n" % len(lines) + b"".join(b"+" + line.encode() + b"\r\n" for line in lines)


# -- PING ECHO QUIT SELECT ---------------------------------------------------------------------


@command("ping")
def ping(c, argv):
    if len(argv) > 2:
        raise CommandError(E.wrong_arity("ping"))
    if c.subscriptions and c.resp == 2:
        # A RESP2 subscriber gets PING back in the shape of a pub/sub message.
        msg = argv[1] if len(argv) > 1 else b""
        return b"*2\r\n$4\r\npong\r\n" + enc.bulk(msg)
    if len(argv) == 1:
        return PONG
    return enc.bulk(argv[1])


@command("echo")
def echo(c, argv):
    return enc.bulk(argv[1])


@command("quit")
def quit_(c, argv):
    c.closing = True
    c.interrupt = True
    return OK


@command("select")
def select(c, argv):
    index = parse_int(argv[1])
    if index is None:
        raise CommandError(E.NOT_INTEGER)
    if index > 2**31 - 1 or index < -(2**31):
        # getIntFromObjectOrReply: a valid long long that does not fit an int.
        raise CommandError("value is out of range, value must between -2147483648 and 2147483647")
    if c.node.config["cluster-enabled"] and index != 0:
        raise CommandError("SELECT is not allowed in cluster mode")
    if index < 0 or index >= len(c.node.dbs):
        raise CommandError(E.DB_INDEX_OUT_OF_RANGE)
    c.select(index)
    return OK


# -- AUTH HELLO --------------------------------------------------------------------------------


def check_password(c, username: bytes, password: bytes) -> bool:
    """The default user is the only user: 'nopass' without requirepass, else the password."""
    if username != b"default":
        return False
    required = c.node.config["requirepass"]
    if not required:
        return True
    return hmac.compare_digest(password, required.encode("latin-1"))


def authenticate(c, username: bytes, password: bytes) -> None:
    if not check_password(c, username, password):
        c.node.log.verbose("AUTH failed")
        raise CommandError(E.WRONGPASS)
    c.user = username
    c.set_authenticated()


@command("auth")
def auth(c, argv):
    if len(argv) > 3:
        raise CommandError(E.SYNTAX)
    if len(argv) == 2:
        if not c.node.config["requirepass"]:
            raise CommandError(E.AUTH_NOT_CONFIGURED)
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    for i in range(1, len(argv)):
        argv[i] = REDACTED
    authenticate(c, username, password)
    return OK


def valid_client_name(name: bytes) -> bool:
    """Client names are printable ASCII without spaces (clientSetNameOrReply)."""
    return all(33 <= b <= 126 for b in name)


def set_client_name(c, name: bytes) -> None:
    if not valid_client_name(name):
        raise CommandError(CLIENT_NAME_CHARS)
    c.name = name or None


@command("hello")
def hello(c, argv):
    ver = 0
    i = 1
    if len(argv) >= 2:
        v = parse_int(argv[1])
        if v is None:
            raise CommandError("Protocol version is not an integer or out of range")
        if v < 2 or v > 3:
            raise CommandError(E.NOPROTO)
        ver = v
        i = 2
    credentials = name = None
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - i - 1
        if opt == b"auth" and more >= 2:
            credentials = argv[i + 1], argv[i + 2]
            argv[i + 1] = argv[i + 2] = REDACTED
            i += 3
        elif opt == b"setname" and more >= 1:
            name = argv[i + 1]
            if not valid_client_name(name):
                raise CommandError(CLIENT_NAME_CHARS)
            i += 2
        else:
            raise CommandError("Syntax error in HELLO option '%s'" % argv[i].decode("latin-1"))
    if credentials is not None:
        authenticate(c, *credentials)
    if not c.authenticated:
        raise CommandError(NOAUTH_HELLO)
    if name is not None:
        c.name = name or None
    if ver:
        c.set_protocol(ver)
    return hello_reply(c)


def server_mode(node) -> bytes:
    if getattr(node, "sentinel", None) is not None:
        return b"sentinel"
    return b"cluster" if node.config["cluster-enabled"] else b"standalone"


def hello_reply(c) -> bytes:
    node = c.node
    mode = server_mode(node)
    fields = [
        (b"server", enc.bulk(b"redis")),
        (b"version", enc.bulk(b"7.0.15")),
        (b"proto", enc.integer(c.resp)),
        (b"id", enc.integer(c.id)),
        (b"mode", enc.bulk(mode)),
    ]
    if mode != b"sentinel":
        role = node.role_name() if hasattr(node, "role_name") else "master"
        fields.append((b"role", enc.bulk(role.encode())))
    fields.append((b"modules", enc.EMPTY_ARRAY))
    return c.proto.map_header(len(fields)) + b"".join(enc.bulk(k) + v for k, v in fields)


# -- RESET -------------------------------------------------------------------------------------


@command("reset")
def reset(c, argv):
    if c.is_replica or c.is_master:  # a MONITOR client is not a replica here
        raise CommandError("can only reset normal client connections")
    clear_connection_state(c)
    return b"+RESET\r\n"


def clear_connection_state(c) -> None:
    """clearClientConnectionState: back to a freshly connected client's state."""
    node = c.node
    if c.is_monitor:
        stop_monitoring(c)
    for hook in RESET_HOOKS:
        hook(c)
    c.select(0)
    c.set_protocol(2)
    c.user = b"default"
    if node.requires_auth and c.authenticated:
        c.authenticated = False
        c.reader.authenticated = False
        c.update_gated()
    if c.multi is not None:
        c.multi = None
        c.multi_error = False
        c.update_gated()
    c.name = None
    c.no_evict = False
    c.no_touch = False
    c.update_gated()
    c.reply_mode = REPLY_ON
    c.interrupt = True


def stop_monitoring(c) -> None:
    node = c.node
    if c in node.monitors:
        node.monitors.remove(c)
    c.is_monitor = False
    c.is_replica = False
    node.recompute_gates()


# -- CLIENT ------------------------------------------------------------------------------------

CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]


@command("client|help")
def client_help(c, argv):
    return help_reply(CLIENT_HELP)


@command("client|id")
def client_id(c, argv):
    return enc.integer(c.id)


@command("client|info")
def client_info(c, argv):
    line = clientinfo.info_line(c, c, argv) + "\n"
    return c.proto.verbatim(line.encode("latin-1"))


@command("client|list")
def client_list(c, argv):
    node = c.node
    if len(argv) == 2:
        text = clientinfo.client_list(node.clients.values(), c, argv)
    elif len(argv) == 4 and argv[2].lower() == b"type":
        ctype = clientinfo.type_by_name(argv[3])
        if ctype is None:
            raise CommandError("Unknown client type '%s'" % argv[3].decode("latin-1"))
        text = clientinfo.client_list(node.clients.values(), c, argv, ctype)
    elif len(argv) > 3 and argv[2].lower() == b"id":
        chosen = []
        for raw in argv[3:]:
            cid = parse_int(raw)
            if cid is None:
                raise CommandError("Invalid client ID")
            other = node.clients.get(cid)
            if other is not None:
                chosen.append(other)
        text = clientinfo.client_list(chosen, c, argv)
    else:
        raise CommandError(E.SYNTAX)
    return c.proto.verbatim(text)


def _user_exists(node, name: bytes) -> bool:
    users = getattr(node, "users", None)
    if users is not None:
        return name in users
    return name == b"default"


@command("client|kill")
def client_kill(c, argv):
    """CLIENT KILL addr (old form: +OK or an error) or filters (the number killed)."""
    node = c.node
    addr = laddr = user = ctype = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2].decode("latin-1")
        skipme = False  # with the old form a client may kill itself
    else:
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            if i + 1 >= len(argv):
                raise CommandError(E.SYNTAX)
            value = argv[i + 1]
            if opt == b"id":
                n = parse_int(value)
                if n is None or n < 1:
                    raise CommandError("client-id should be greater than 0")
                cid = n
            elif opt == b"type":
                ctype = clientinfo.type_by_name(value)
                if ctype is None:
                    raise CommandError("Unknown client type '%s'" % value.decode("latin-1"))
            elif opt == b"addr":
                addr = value.decode("latin-1")
            elif opt == b"laddr":
                laddr = value.decode("latin-1")
            elif opt == b"user":
                if not _user_exists(node, value):
                    raise CommandError("No such user '%s'" % value.decode("latin-1"))
                user = value
            elif opt == b"skipme":
                low = value.lower()
                if low not in (b"yes", b"no"):
                    raise CommandError(E.SYNTAX)
                skipme = low == b"yes"
            else:
                raise CommandError(E.SYNTAX)
            i += 2
    killed = 0
    for other in list(node.clients.values()):
        if addr is not None and other.addr != addr:
            continue
        if laddr is not None and other.laddr != laddr:
            continue
        if ctype is not None and clientinfo.client_type(other) != ctype:
            continue
        if cid and other.id != cid:
            continue
        if user is not None and other.user != user:
            continue
        if other is c:
            if skipme:
                continue
            c.closing = True  # after this reply
            c.interrupt = True
        else:
            other.close()
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise CommandError("No such client")
        return OK
    return enc.integer(killed)


@command("client|setname")
def client_setname(c, argv):
    set_client_name(c, argv[2])
    return OK


@command("client|getname")
def client_getname(c, argv):
    return c.proto.bulk_or_null(c.name)


def _on_off(value: bytes) -> bool:
    low = value.lower()
    if low == b"on":
        return True
    if low == b"off":
        return False
    raise CommandError(E.SYNTAX)


@command("client|no-evict")
def client_no_evict(c, argv):
    c.no_evict = _on_off(argv[2])
    return OK


_ON_OFF_DOCS = [
    "arguments",
    [
        {
            "%": [
                ["name", "enabled"],
                ["type", "oneof"],
                [
                    "arguments",
                    [
                        {"%": [["name", "on"], ["type", "pure-token"], ["token", "ON"]]},
                        {"%": [["name", "off"], ["type", "pure-token"], ["token", "OFF"]]},
                    ],
                ],
            ]
        }
    ],
]


def _sub_info(fullname: str, arity: int, flags: list[str], categories: list[str], tips: list[str]) -> list:
    """A COMMAND INFO entry, type-tagged like redis-7.0.json."""
    return [
        fullname,
        arity,
        {"~": [{"+": f} for f in flags]},
        0,
        0,
        0,
        {"~": [{"+": cat} for cat in categories]},
        {"~": tips},
        {"~": []},
        {"~": []},
    ]


def _docs(summary: str, since: str, arguments: list) -> dict:
    return {
        "%": [
            ["summary", summary],
            ["since", since],
            ["group", "connection"],
            ["complexity", "O(1)"],
            arguments,
        ]
    }


@command(
    "client|no-touch",
    info=_sub_info("client|no-touch", 3, ["noscript", "loading", "stale"], ["@slow", "@connection"], []),
    docs=_docs(
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "7.2.0",
        _ON_OFF_DOCS,
    ),
)
def client_no_touch(c, argv):
    """CLIENT NO-TOUCH (7.2): this client's reads leave the keys' access clocks alone."""
    c.no_touch = _on_off(argv[2])
    c.update_gated()  # the dispatcher's slow path suspends the access clocks for it
    return OK


@command(
    "client|setinfo",
    info=_sub_info(
        "client|setinfo",
        4,
        ["noscript", "loading", "stale"],
        ["@slow", "@connection"],
        ["request_policy:all_nodes", "response_policy:all_succeeded"],
    ),
    docs=_docs(
        "Sets information specific to the client or connection.",
        "7.2.0",
        [
            "arguments",
            [
                {
                    "%": [
                        ["name", "attr"],
                        ["type", "oneof"],
                        [
                            "arguments",
                            [
                                {"%": [["name", "libname"], ["type", "string"], ["token", "LIB-NAME"]]},
                                {"%": [["name", "libver"], ["type", "string"], ["token", "LIB-VER"]]},
                            ],
                        ],
                    ]
                }
            ],
        ],
    ),
)
def client_setinfo(c, argv):
    """CLIENT SETINFO LIB-NAME|LIB-VER value (7.2; redis-py sends it on connect)."""
    attr = argv[2]
    low = attr.lower()
    if low not in (b"lib-name", b"lib-ver"):
        raise CommandError("Unrecognized option '%s'" % attr.decode("latin-1"))
    value = argv[3]
    if not valid_client_name(value):
        raise CommandError(
            "%s cannot contain spaces, newlines or special characters." % attr.decode("latin-1")
        )
    if low == b"lib-name":
        c.lib_name = value
    else:
        c.lib_ver = value
    return OK


@command("client|reply")
def client_reply(c, argv):
    """ON answers +OK; OFF and SKIP answer nothing (the connection applies the mode)."""
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = REPLY_ON
        c.interrupt = True
        return OK
    if mode == b"off":
        c.reply_mode = REPLY_OFF
    elif mode == b"skip":
        if c.reply_mode != REPLY_OFF:
            c.reply_mode = REPLY_SKIP
    else:
        raise CommandError(E.SYNTAX)
    c.interrupt = True
    return b""


@command("client|pause")
def client_pause(c, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    pause_all = True
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            pause_all = False
        elif mode != b"all":
            raise CommandError("CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int(argv[2])
    if ms is None:
        raise CommandError("timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError(E.TIMEOUT_NEGATIVE)
    if ms > 2**63 - 1 - c.node.clock.ms:
        ms = 0  # Redis 7.0's end time overflows into the past: the pause ends at once
    c.node.pause(ms, pause_all)
    return OK


@command("client|unpause")
def client_unpause(c, argv):
    c.node.unpause()
    return OK
