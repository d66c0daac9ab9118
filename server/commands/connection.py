"""Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT ..."""

from __future__ import annotations

import hmac

from protocol import encoder as enc
from protocol.encoder import OK, PONG

from .. import errors as E
from ..errors import CommandError
from .args import parse_int
from .spec import command


@command("ping")
def ping(c, argv):
    if c.subscriptions and c.resp == 2:
        # A RESP2 subscriber gets PING back in the shape of a pub/sub message.
        msg = argv[1] if len(argv) > 1 else b""
        return b"*2\r\n$4\r\npong\r\n" + enc.bulk(msg)
    if len(argv) == 1:
        return PONG
    if len(argv) == 2:
        return enc.bulk(argv[1])
    raise CommandError(E.wrong_arity("ping"))


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
    if index is None or index > 2**31 - 1 or index < -(2**31):
        raise CommandError(E.NOT_INTEGER)
    if index < 0 or index >= len(c.node.dbs):
        raise CommandError(E.DB_INDEX_OUT_OF_RANGE)
    c.select(index)
    return OK


def check_password(c, username: bytes, password: bytes) -> bool:
    """The default user is the only user: 'nopass' without requirepass, else the password."""
    if username != b"default":
        return False
    required = c.node.config["requirepass"]
    if not required:
        return True
    return hmac.compare_digest(password, required.encode("latin-1"))


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
    if not check_password(c, username, password):
        c.node.log.verbose("AUTH failed")
        raise CommandError(E.WRONGPASS)
    c.user = username
    c.set_authenticated()
    return OK


def valid_client_name(name: bytes) -> bool:
    """Client names are printable ASCII without spaces (clientSetName)."""
    return all(33 <= b <= 126 for b in name)


@command("hello")
def hello(c, argv):
    ver = 0
    i = 1
    if len(argv) >= 2:
        v = parse_int(argv[1])
        if v is None:
            raise CommandError("Protocol version is not an integer or out of range")
        ver = v
        i = 2
        if ver < 2 or ver > 3:
            raise CommandError(E.NOPROTO)
    username = password = setname = None
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - i - 1
        if opt == b"auth" and more >= 2:
            username, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            setname = argv[i + 1]
            i += 2
        else:
            raise CommandError("Syntax error in HELLO option '%s'" % argv[i].decode("latin-1"))
    if username is not None:
        if not check_password(c, username, password):
            raise CommandError(E.WRONGPASS)
        c.user = username
        c.set_authenticated()
    if not c.authenticated:
        raise CommandError(
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time"
        )
    if setname is not None:
        if not valid_client_name(setname):
            raise CommandError("Client names cannot contain spaces, newlines or special characters.")
        c.name = setname or None
    if ver:
        c.set_protocol(ver)
    return hello_reply(c)


def hello_reply(c) -> bytes:
    node = c.node
    p = c.proto
    role = node.role_name() if hasattr(node, "role_name") else "master"
    parts = [
        p.map_header(7),
        enc.bulk(b"server"),
        enc.bulk(b"redis"),
        enc.bulk(b"version"),
        enc.bulk(b"7.0.15"),
        enc.bulk(b"proto"),
        enc.integer(c.resp),
        enc.bulk(b"id"),
        enc.integer(c.id),
        enc.bulk(b"mode"),
        enc.bulk(b"standalone"),
        enc.bulk(b"role"),
        enc.bulk(role.encode()),
        enc.bulk(b"modules"),
        enc.EMPTY_ARRAY,
    ]
    return b"".join(parts)
