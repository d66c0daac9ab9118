"""Reply encoding for RESP2 and RESP3.

Design note
-----------
Commands build their replies as ``bytes`` directly: the hot path never goes through an
intermediate reply object. Replies that look the same in both protocols (simple strings,
errors, integers, bulk strings, arrays) are module-level functions and prebuilt constants.
Types that RESP3 adds (null, map, set, double, boolean, verbatim, push, big number) are
written through the connection's protocol object, ``RESP2`` or ``RESP3``, which share one
interface; ``HELLO 3`` swaps the object on the connection. RESP2 spellings follow Redis's
networking.c: a map becomes a flat array of 2n, a set an array, a double a bulk string,
a boolean ``:1``/``:0``, a verbatim string a plain bulk, a push an array.
"""

from __future__ import annotations

import math

# -- constants -------------------------------------------------------------------------------
CRLF = b"\r\n"
OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"
MINUS_ONE = b":-1\r\n"
MINUS_TWO = b":-2\r\n"
EMPTY_ARRAY = b"*0\r\n"
EMPTY_BULK = b"$0\r\n\r\n"
NULL_BULK = b"$-1\r\n"  # RESP2 null for a string reply
NULL_ARRAY = b"*-1\r\n"  # RESP2 null for an array reply

_INT_MIN_CACHED = -2
_INT_MAX_CACHED = 10000
_INTS = [b":%d\r\n" % i for i in range(_INT_MIN_CACHED, _INT_MAX_CACHED + 1)]


def integer(n: int) -> bytes:
    if _INT_MIN_CACHED <= n <= _INT_MAX_CACHED:
        return _INTS[n - _INT_MIN_CACHED]
    return b":%d\r\n" % n


#: ``$<n>\r\n`` for the lengths most values have: concatenating a cached header is about a
#: third cheaper than formatting one (bulk replies are the hottest encoding: GET).
BULK_HEADERS = [b"$%d\r\n" % n for n in range(1024)]


def bulk(value: bytes) -> bytes:
    n = len(value)
    if n < 1024:
        return BULK_HEADERS[n] + value + CRLF
    return b"$%d\r\n%b\r\n" % (n, value)


def simple(text: bytes) -> bytes:
    return b"+" + text + CRLF


def error(message: str | bytes) -> bytes:
    """An error reply. Like Redis, text without its own code gets ``ERR``; CR/LF become spaces."""
    if isinstance(message, str):
        message = message.encode("utf-8", "surrogateescape")
    if b"\r" in message or b"\n" in message:
        message = message.replace(b"\r", b" ").replace(b"\n", b" ")
    if message[:1] == b"-":
        return message + CRLF
    return b"-ERR " + message + CRLF


def array_header(n: int) -> bytes:
    return b"*%d\r\n" % n


def array(encoded_items: list[bytes]) -> bytes:
    """An array of already encoded replies."""
    return b"*%d\r\n%b" % (len(encoded_items), b"".join(encoded_items))


def bulk_array(values) -> bytes:
    """An array of bulk strings (no nulls)."""
    parts = [b"*%d\r\n" % len(values)]
    parts += [b"$%d\r\n%b\r\n" % (len(v), v) for v in values]
    return b"".join(parts)


# -- doubles -------------------------------------------------------------------------------


def format_double(value: float) -> bytes:
    """Redis 7.0's double reply text: ``%.17g``; ``inf``, ``-inf`` and ``nan`` spelled out."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value != value:
        return b"nan"
    return b"%.17g" % value


# -- protocol objects ------------------------------------------------------------------------


class Resp2:
    """Encodings of the RESP3-only types, as written to a RESP2 client."""

    version = 2
    null = NULL_BULK
    null_array = NULL_ARRAY
    true = ONE
    false = ZERO
    empty_map = EMPTY_ARRAY
    empty_set = EMPTY_ARRAY

    @staticmethod
    def map_header(pairs: int) -> bytes:
        return b"*%d\r\n" % (pairs * 2)

    @staticmethod
    def set_header(n: int) -> bytes:
        return b"*%d\r\n" % n

    @staticmethod
    def push_header(n: int) -> bytes:
        return b"*%d\r\n" % n

    @staticmethod
    def double(value: float) -> bytes:
        text = format_double(value)
        return b"$%d\r\n%b\r\n" % (len(text), text)

    @staticmethod
    def boolean(flag: bool) -> bytes:
        return ONE if flag else ZERO

    @staticmethod
    def verbatim(text: bytes, fmt: bytes = b"txt") -> bytes:
        return b"$%d\r\n%b\r\n" % (len(text), text)

    @staticmethod
    def bignum(digits: bytes) -> bytes:
        return b"$%d\r\n%b\r\n" % (len(digits), digits)

    @staticmethod
    def bulk_or_null(value: bytes | None) -> bytes:
        if value is None:
            return NULL_BULK
        return b"$%d\r\n%b\r\n" % (len(value), value)


class Resp3(Resp2):
    version = 3
    null = b"_\r\n"
    null_array = b"_\r\n"
    true = b"#t\r\n"
    false = b"#f\r\n"
    empty_map = b"%0\r\n"
    empty_set = b"~0\r\n"

    @staticmethod
    def map_header(pairs: int) -> bytes:
        return b"%%%d\r\n" % pairs

    @staticmethod
    def set_header(n: int) -> bytes:
        return b"~%d\r\n" % n

    @staticmethod
    def push_header(n: int) -> bytes:
        return b">%d\r\n" % n

    @staticmethod
    def double(value: float) -> bytes:
        return b"," + format_double(value) + CRLF

    @staticmethod
    def boolean(flag: bool) -> bytes:
        return b"#t\r\n" if flag else b"#f\r\n"

    @staticmethod
    def verbatim(text: bytes, fmt: bytes = b"txt") -> bytes:
        return b"=%d\r\n%b:%b\r\n" % (len(text) + 4, fmt, text)

    @staticmethod
    def bignum(digits: bytes) -> bytes:
        return b"(" + digits + CRLF

    @staticmethod
    def bulk_or_null(value: bytes | None) -> bytes:
        if value is None:
            return b"_\r\n"
        return b"$%d\r\n%b\r\n" % (len(value), value)


RESP2 = Resp2()
RESP3 = Resp3()


def for_version(version: int) -> Resp2:
    return RESP3 if version == 3 else RESP2
