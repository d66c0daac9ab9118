"""Commands from a master's stream, each with its exact size in bytes (for the offsets).

Design note
-----------
A replica's offset moves by the exact byte size of every command it applies, so the reader
of the master link must say how many bytes each command took. ``StreamReader`` does it
cheaply: hiredis parses, and the size is the command's canonical RESP length
(``*<n>\\r\\n`` and ``$<len>\\r\\n<bytes>\\r\\n`` per argument), which is what every master
writes -- the stream is produced by the master's own encoder, or proxied byte for byte from
its master. Each command is checked to start with ``*`` and end with CRLF where the sizes
say it does; anything else (a stray newline, an inline command, a non-canonical length)
switches the reader for good to the exact reference parser (``protocol.reader`` in its
master mode), which consumes the very same bytes one request at a time and reports
protocol errors as Redis does.

Pure: bytes in, ``(argv, size)`` out.
"""

from __future__ import annotations

import hiredis

from protocol.reader import PyRequestReader

_STAR = 42


#: Decimal digits of the numbers below 10,000 (most lengths).
_DIGITS = bytes(len(str(i)) for i in range(10_000))


def canonical_size(argv: list[bytes]) -> int:
    """The length of ``argv`` encoded as a RESP array of bulk strings."""
    n = len(argv)
    size = 3 + (_DIGITS[n] if n < 10_000 else len(str(n))) + 5 * n
    digits = _DIGITS
    for a in argv:
        m = len(a)
        size += m + (digits[m] if m < 10_000 else len(str(m)))
    return size


class StreamReader:
    """See the module docstring."""

    __slots__ = ("_hi", "_buf", "_pos", "_exact", "error")

    # In hiredis mode ``_buf[_pos:]`` mirrors what hiredis holds (for the checks and for a
    # switch); in exact mode it holds bytes fed since the parser last ran.

    def __init__(self):
        self._hi = hiredis.Reader()
        self._buf = bytearray()  # bytes fed and not returned yet, from _pos
        self._pos = 0
        self._exact: PyRequestReader | None = None
        self.error = None

    @property
    def exact(self) -> bool:
        """True once the stream needed the reference parser."""
        return self._exact is not None

    def feed(self, data: bytes) -> None:
        self._buf += data
        if self._exact is None:
            self._hi.feed(data)

    def next(self):
        """``(argv, size)`` of the next complete command, None if more bytes are needed.
        After a protocol error (``error`` is set) it returns None for ever."""
        if self.error is not None:
            return None
        if self._exact is not None:
            return self._next_exact()
        try:
            req = self._hi.gets()
        except hiredis.ProtocolError:
            return self._switch()
        if req is False:
            return None
        buf = self._buf
        pos = self._pos
        if req.__class__ is not list or not req or buf[pos] != _STAR:
            return self._switch()
        try:
            size = canonical_size(req)
        except TypeError:  # an element that is not a bulk string
            return self._switch()
        end = pos + size
        if end > len(buf) or buf[end - 2] != 13 or buf[end - 1] != 10:
            return self._switch()
        self._advance(end)
        return req, size

    def _advance(self, end: int) -> None:
        if end >= len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif end > 65536 and end > len(self._buf) // 2:
            del self._buf[:end]
            self._pos = 0
        else:
            self._pos = end

    def _switch(self):
        """The stream is not canonical: re-read it from the first unreturned byte, exactly."""
        self._exact = PyRequestReader(authenticated=True, master=True)
        del self._buf[: self._pos]  # in exact mode _buf holds what the parser has not seen
        self._pos = 0
        self._hi = None
        return self._next_exact()

    def _next_exact(self):
        reader = self._exact
        data = bytes(self._buf)
        self._buf.clear()
        before = reader.pending() + len(data)
        reqs, err = reader.feed(data, 1)
        if err is not None:
            self.error = err
            return None
        if not reqs:
            return None
        return reqs[0], before - reader.pending()
