"""Request readers: bytes from a client in, argument vectors out.

Design note
-----------
Redis accepts two request syntaxes (networking.c processInputBuffer): a RESP array of bulk
strings ("multibulk"), chosen when a request starts with ``*``, and an "inline" command line
otherwise (what telnet and ``redis-cli`` send for some input). Both readers here implement
exactly the same language and the same errors:

``PyRequestReader``
    The reference: a pure-Python transcription of Redis's state machine, byte for byte,
    including its quirks (the byte after ``\\r`` and the two bytes after a bulk are skipped
    unchecked; a NUL stops the line search the way ``strchr`` does; "too big" limits count the
    whole unparsed buffer). It keeps its state between feeds, so a request may arrive one byte
    at a time, and a declared bulk is never allocated before its bytes have arrived.

``RequestReader``
    The fast path. A chunk that is made only of complete, well-formed multibulk requests is
    parsed by hiredis (C). hiredis parses *replies*, a larger language, so every chunk is
    screened first and anything hiredis would read differently from Redis goes to the
    reference reader instead:

    * a line starting with a RESP type hiredis would return as a string, a list or a dict
      (``+ ( = | ~ > %``): Redis reads those bytes as an inline command or refuses them;
    * an array count with more digits than the chunk has bytes: hiredis allocates the whole
      array when it reads the header (``*2147483647`` costs seconds, ``>`` and ``|`` counts
      gigabytes), while Redis waits for the elements without allocating;
    * a chunk longer than ``max_bulk_len``: it could hold a bulk Redis refuses;
    * a chunk that does not leave hiredis at a request boundary (checked by feeding a probe
      ``*0``): a request cut at the chunk's end, or a header hiredis is still waiting on;
    * anything hiredis reports as an error, or a value that is not a flat list of bytes
      (integers, nulls, errors, doubles, booleans, nested arrays, maps).

    Nothing has run before the screen's verdict, so a refused chunk is simply parsed again by
    the reference reader, which then keeps the stream until it is back at a request boundary
    with an empty buffer; the next chunk goes to hiredis again. A false alarm costs speed,
    never correctness; ``tests/protocol`` checks that both readers agree on every input.

Both readers return ``(requests, error)`` from ``feed``: the complete requests found, in order,
and a ``ProtocolError`` if the stream broke after them. The caller runs the requests, sends the
error's reply and closes. Empty requests (``*0``, ``*-1``, blank inline lines) produce nothing.
"""

from __future__ import annotations

import re
from itertools import chain

import hiredis

from . import errors as E
from .errors import ProtocolError

# -- Named limits (redis server.h / config.c) ------------------------------------------------
#: An inline request, or a multibulk count/length line, must end within this many bytes
#: (PROTO_INLINE_MAX_SIZE): a client cannot make us buffer an endless header.
INLINE_MAX_SIZE = 64 * 1024
#: Default ``proto-max-bulk-len``: the largest single argument (512 MB). Settable, min 1 MB.
MAX_BULK_LEN = 512 * 1024 * 1024
#: The largest argument count Redis accepts (INT_MAX).
MAX_MULTIBULK_LEN = 2**31 - 1
#: Before AUTH succeeds a client may send at most 10 arguments of 16 KB each, so an
#: unauthenticated peer cannot make the server allocate much (CVE-2021-32675).
UNAUTH_MAX_MULTIBULK_LEN = 10
UNAUTH_MAX_BULK_LEN = 16384

_CR = 13
_NL = 10
_STAR = 42
_DOLLAR = 36


def _strict_ll(b: bytes) -> int | None:
    """Redis ``string2ll``: an optional '-', no leading zeros or '+', fits a signed 64-bit."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    if b == b"0":
        return 0
    if b[0] == 45:  # '-'
        digits = b[1:]
    else:
        digits = b
    if not digits or not digits.isdigit() or digits[0] == 48:
        return None
    v = int(b)
    if v < -(2**63) or v > 2**63 - 1:
        return None
    return v


# -- inline commands (sds.c sdssplitargs) ---------------------------------------------------

_ISSPACE = frozenset(b" \t\n\r\x0b\x0c")
_WORD_END = frozenset(b" \n\r\t")  # \0 cannot occur: the line search stops at NUL
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NEEDS_SLOW_SPLIT = re.compile(rb"[\"'\x0b\x0c]")


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command line as Redis does; None means unbalanced quotes."""
    if _NEEDS_SLOW_SPLIT.search(line) is None:
        # Without quotes, \v or \f the rules are exactly ASCII-whitespace splitting.
        return line.split()
    args: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _ISSPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            ch = line[i] if i < n else 0
            if inq:
                if (
                    ch == 92
                    and i + 3 < n
                    and line[i + 1] == 120
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif ch == 34:
                    if i + 1 < n and line[i + 1] not in _ISSPACE:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    cur.append(ch)
            elif insq:
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in _ISSPACE:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    cur.append(ch)
            else:
                if i >= n or ch in _WORD_END:
                    i += 1
                    break
                if ch == 34:
                    inq = True
                elif ch == 39:
                    insq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))


# -- the reference reader --------------------------------------------------------------------


class PyRequestReader:
    """Redis's request parser, transcribed; see the module docstring."""

    __slots__ = (
        "_buf",
        "_pos",
        "_chunks",
        "_held",
        "_need",
        "_mbulk",
        "_bulklen",
        "_args",
        "max_bulk_len",
        "authenticated",
        "master",
        "error",
    )

    def __init__(
        self,
        max_bulk_len: int = MAX_BULK_LEN,
        authenticated: bool = True,
        master: bool = False,
    ):
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []  # bytes held back while a bulk is incomplete
        self._held = 0  # their total length (pending() is called on every read)
        self._need = 0  # bytes those chunks must add up to before parsing can move on
        self._mbulk = 0  # arguments still expected by the multibulk in progress
        self._bulklen = -1  # length of the bulk in progress, -1 before its header
        self._args: list[bytes] = []
        self.max_bulk_len = max_bulk_len
        #: False while the server requires AUTH: smaller limits apply.
        self.authenticated = authenticated
        #: True for the link from our master: no bulk length limit, inline is an error.
        self.master = master
        self.error: ProtocolError | None = None

    # State shared with RequestReader ---------------------------------------------------------
    def at_boundary(self) -> bool:
        """True when no bytes are buffered and no request is half read."""
        return (
            self._mbulk == 0 and self._pos >= len(self._buf) and not self._chunks
        )

    def pending(self) -> int:
        """Bytes received but not yet consumed by a complete request."""
        return len(self._buf) - self._pos + self._held

    def query_buffer(self, incoming: int = 0) -> int:
        """The size Redis's query buffer reaches once ``incoming`` more bytes are read.

        That is what client-query-buffer-limit is checked against, before parsing. Parsed
        arguments do not count, and Redis reads a big argument only up to its end, so while
        a bulk is incomplete the buffer never holds more than that bulk and its CRLF.
        """
        size = len(self._buf) - self._pos + self._held + incoming
        if self._bulklen >= 0:
            return min(size, self._bulklen + 2)
        return size

    def between_requests(self) -> bool:
        """True when no request is half read (bytes of the next one may be buffered)."""
        return self._mbulk == 0 and self._bulklen == -1 and not self._chunks

    def take_buffer(self) -> bytes:
        """Hand the unparsed bytes over (only valid between requests)."""
        assert self.between_requests()
        rest = self._buf[self._pos :]
        self._buf = b""
        self._pos = 0
        return rest

    def feed(
        self, data: bytes, max_requests: int = 0
    ) -> tuple[list[list[bytes]], ProtocolError | None]:
        """Add ``data`` and parse; at most ``max_requests`` requests if it is > 0."""
        if self.error is not None:
            return [], self.error
        if data:
            if self._need:
                self._chunks.append(data)
                self._held += len(data)
                self._need -= len(data)
                if self._need > 0:
                    return [], None
                self._buf = self._buf[self._pos :] + b"".join(self._chunks)
                self._pos = 0
                self._chunks = []
                self._held = 0
                self._need = 0
            elif self._pos >= len(self._buf):
                self._buf = data
                self._pos = 0
            else:
                self._buf = self._buf[self._pos :] + data
                self._pos = 0
        elif self._need:
            return [], None
        out: list[list[bytes]] = []
        try:
            while self._pos < len(self._buf):
                if self._mbulk == 0 and self._bulklen == -1:
                    if self._buf[self._pos] == _STAR:
                        if not self._multibulk_header():
                            break
                    else:
                        args = self._inline()
                        if args is None:
                            break
                        if args:
                            out.append(args)
                            if len(out) == max_requests:
                                break
                        continue
                if self._mbulk and not self._multibulk_args():
                    break
                if self._mbulk == 0 and self._args:
                    out.append(self._args)
                    self._args = []
                    if len(out) == max_requests:
                        break
        except ProtocolError as exc:
            self.error = exc
            self._buf = b""
            self._pos = 0
            self._chunks = []
            self._held = self._need = 0
            self._mbulk = 0
            self._args = []
        if self._pos and self._pos >= len(self._buf):
            self._buf = b""
            self._pos = 0
        return out, self.error

    def _find_cr(self) -> int:
        """Index of the next CR, or -1; like strchr, a NUL ends the search."""
        buf = self._buf
        cr = buf.find(b"\r", self._pos)
        if cr >= 0 and buf.find(b"\0", self._pos, cr) >= 0:
            return -1
        return cr

    def _inline(self) -> list[bytes] | None:
        """One inline line; None if incomplete, [] for an empty line."""
        buf = self._buf
        pos = self._pos
        nl = buf.find(b"\n", pos)
        if nl >= 0 and buf.find(b"\0", pos, nl) >= 0:
            nl = -1
        if nl < 0:
            if len(buf) - pos > INLINE_MAX_SIZE:
                raise ProtocolError(E.TOO_BIG_INLINE)
            return None
        end = nl - 1 if nl != pos and buf[nl - 1] == _CR else nl
        args = split_inline(buf[pos:end])
        if args is None:
            raise ProtocolError(E.UNBALANCED_QUOTES)
        if self.master and end > pos:
            # A master never sends inline commands (only empty keepalive lines); anything
            # else on the line means the stream is desynchronized.
            raise ProtocolError("Master using the inline protocol. Desync?")
        self._pos = nl + 1
        return args

    def _multibulk_header(self) -> bool:
        buf = self._buf
        pos = self._pos
        cr = self._find_cr()
        if cr < 0:
            if len(buf) - pos > INLINE_MAX_SIZE:
                raise ProtocolError(E.TOO_BIG_MBULK_COUNT)
            return False
        if cr > len(buf) - 2:
            return False  # the byte after CR has not arrived yet
        n = _strict_ll(buf[pos + 1 : cr])
        if n is None or n > MAX_MULTIBULK_LEN:
            raise ProtocolError(E.INVALID_MBULK_LEN)
        if n > UNAUTH_MAX_MULTIBULK_LEN and not self.authenticated:
            raise ProtocolError(E.UNAUTH_MBULK_LEN)
        self._pos = cr + 2
        if n > 0:
            self._mbulk = n
            self._args = []
        return True

    def _multibulk_args(self) -> bool:
        """Read arguments of the current multibulk; False when more bytes are needed."""
        buf = self._buf
        args = self._args
        while self._mbulk:
            pos = self._pos
            if self._bulklen == -1:
                cr = self._find_cr()
                if cr < 0:
                    if len(buf) - pos > INLINE_MAX_SIZE:
                        raise ProtocolError(E.TOO_BIG_BULK_COUNT)
                    return False
                if cr > len(buf) - 2:
                    return False
                if buf[pos] != _DOLLAR:
                    raise ProtocolError(E.expected_dollar(buf[pos]))
                n = _strict_ll(buf[pos + 1 : cr])
                if n is None or n < 0 or (not self.master and n > self.max_bulk_len):
                    raise ProtocolError(E.INVALID_BULK_LEN)
                if n > UNAUTH_MAX_BULK_LEN and not self.authenticated:
                    raise ProtocolError(E.UNAUTH_BULK_LEN)
                pos = self._pos = cr + 2
                self._bulklen = n
            end = pos + self._bulklen
            if len(buf) < end + 2:
                # Collect the rest as it comes and join once: re-joining the buffer on
                # every read would be quadratic for a bulk that trickles in.
                self._need = end + 2 - len(buf)
                return False
            args.append(buf[pos:end])
            self._pos = end + 2
            self._bulklen = -1
            self._mbulk -= 1
        return True


# -- the fast path ---------------------------------------------------------------------------

_PROBE = b"*0\r\n"
#: ``_LONG_COUNT[k]`` finds a ``*`` followed by more than k digits: in a chunk of a k-digit
#: length such a count cannot be complete, and hiredis would allocate it up front.
_LONG_COUNT = [re.compile(rb"\*[0-9]{%d}" % (k + 1)) for k in range(21)]
#: ``_LINE_SCREEN[k]`` finds, after a newline, a line hiredis would read as something other
#: than a request (``+ ( = | ~ > %``) or a long array count as above.
_LINE_SCREEN = [re.compile(rb"\n(?:[+(=|~>%%]|\*[0-9]{%d})" % (k + 1)) for k in range(21)]


#: What hiredis returns when it needs more bytes. Not its default ``False``: a RESP3
#: boolean ``#f`` line parses to ``False`` too, and would end the loop early.
_NEED_MORE = object()


def _hiredis_reader() -> hiredis.Reader:
    return hiredis.Reader(notEnoughData=_NEED_MORE)


class RequestReader:
    """hiredis fast path with the reference reader as the judge of anything unusual."""

    __slots__ = ("_hi", "_py", "_slow")

    def __init__(
        self,
        max_bulk_len: int = MAX_BULK_LEN,
        authenticated: bool = True,
        master: bool = False,
    ):
        self._py = PyRequestReader(max_bulk_len, authenticated, master)
        self._hi = _hiredis_reader()
        # The reference reader owns the stream until it is back at a request boundary.
        self._slow = not authenticated or master

    @property
    def error(self) -> ProtocolError | None:
        return self._py.error

    @property
    def authenticated(self) -> bool:
        return self._py.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._py.authenticated = value
        if not value:
            self._slow = True

    @property
    def max_bulk_len(self) -> int:
        return self._py.max_bulk_len

    @max_bulk_len.setter
    def max_bulk_len(self, value: int) -> None:
        self._py.max_bulk_len = value

    def pending(self) -> int:
        """Bytes received and not yet returned as requests."""
        return self._py.pending()

    def query_buffer(self, incoming: int = 0) -> int:
        return self._py.query_buffer(incoming)

    def feed(
        self, data: bytes, max_requests: int = 0
    ) -> tuple[list[list[bytes]], ProtocolError | None]:
        """Parse ``data``; see PyRequestReader.feed. ``max_requests`` forces the slow path.

        The fast path takes a chunk only if hiredis reads it exactly as Redis would (see the
        module docstring). The screens are ordered by cost: memchr for the bytes that could
        start a line hiredis reads differently, then one regex pass -- for long array counts
        only, or, when one of those bytes occurs (values often hold them), for both at once:
        the regex skips from newline to newline, where a two-byte search per byte would
        crawl through a large value.
        """
        if self._slow or max_requests:
            return self._feed_slow(data, max_requests)
        n = len(data)
        if n < 4 or data[0] != 42 or data[-1] != 10 or data[-2] != 13 or n > self._py.max_bulk_len:
            return self._feed_slow(data, 0)
        k = len(str(n))
        if 43 in data or 40 in data or 61 in data or 124 in data or 126 in data or 62 in data or 37 in data:
            # + ( = | ~ > % somewhere: look at every line start (the first line is a '*' one).
            suspect = _LINE_SCREEN[k].search(data) is not None or _LONG_COUNT[k].match(data) is not None
        else:
            suspect = _LONG_COUNT[k].search(data) is not None
        if suspect:
            return self._feed_slow(data, 0)
        hi = self._hi
        hi.feed(data)
        try:
            out = list(iter(hi.gets, _NEED_MORE))
            hi.feed(_PROBE)
            # At a request boundary, with no empty request ("*0", or a top-level "$0" bulk,
            # which Redis reads as inline), and every request a list of bytes: anything else
            # at the top (bytes, integer, error, null) or inside (nested, null...) fails the
            # join. A top-level map would pass it, so the screens send "%" lines away.
            if hi.gets() != [] or not all(out):
                raise ValueError
            b"".join(chain.from_iterable(out))
        except Exception:
            # Nothing has run yet: the judge reads the whole chunk again.
            return self._reparse(data)
        return out, None

    def _reparse(self, data: bytes) -> tuple[list[list[bytes]], ProtocolError | None]:
        self._hi = _hiredis_reader()
        return self._feed_slow(data, 0)

    def _feed_slow(
        self, data: bytes, max_requests: int
    ) -> tuple[list[list[bytes]], ProtocolError | None]:
        py = self._py
        out, err = py.feed(data, max_requests)
        self._slow = not (
            err is None and py.authenticated and not py.master and py.at_boundary()
        )
        return out, err

    def resume(self, max_requests: int = 0):
        """Parse bytes already buffered, after a request changed the rules (AUTH)."""
        py = self._py
        if (
            not max_requests
            and py.error is None
            and py.authenticated
            and not py.master
            and py.between_requests()
        ):
            # Between requests: what is left may take the fast path again.
            self._slow = False
            return self.feed(py.take_buffer())
        return self._feed_slow(b"", max_requests)
