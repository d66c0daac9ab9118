"""The replication backlog: the most recent bytes of the replication stream, by offset.

Design note
-----------
Offsets are Redis's: the stream's bytes are numbered from 1, ``end`` is the offset of the
last byte fed (``master_repl_offset``), and the backlog holds the ``histlen`` bytes before
it, so its first byte is at ``first_byte_offset = end - histlen + 1``. A replica asking to
continue at offset ``o`` can be served when ``first_byte_offset <= o <= end + 1``.

Storage follows Redis 7.0's replication buffer: fixed-size blocks (``BLOCK`` bytes,
PROTO_REPLY_CHUNK_BYTES), filled in order, and whole blocks dropped from the front, but
only while the rest still holds at least ``size`` bytes (incrementalTrimReplicationBacklog
never trims below the configured size). So once the backlog has wrapped, ``histlen`` lies
between ``size`` and ``size + BLOCK``, as in Redis. Every block but the last is full, which
makes finding an offset one division. Feeding copies the data once into the current block;
reading from an offset joins the blocks from there.

Pure: no I/O, no clock; the master (``replication/master.py``) owns one.
"""

from __future__ import annotations

from collections import deque

#: Size of one block of the backlog (PROTO_REPLY_CHUNK_BYTES).
BLOCK = 16 * 1024
#: The smallest backlog Redis allows (CONFIG_REPL_BACKLOG_MIN_SIZE).
MIN_SIZE = 16 * 1024


class Backlog:
    """See the module docstring. ``offset`` is master_repl_offset at creation."""

    __slots__ = ("size", "end", "histlen", "_blocks")

    def __init__(self, size: int, offset: int):
        self.size = max(size, MIN_SIZE)
        self.end = offset
        self.histlen = 0
        self._blocks: deque[bytearray] = deque()

    @property
    def first_byte_offset(self) -> int:
        """repl_backlog_first_byte_offset: the offset of the oldest byte held (end+1 when empty)."""
        return self.end - self.histlen + 1

    def feed(self, data: bytes) -> None:
        """Append stream bytes (the caller's master_repl_offset grows by ``len(data)``)."""
        n = len(data)
        if not n:
            return
        self.end += n
        self.histlen += n
        blocks = self._blocks
        pos = 0
        if blocks:
            last = blocks[-1]
            room = BLOCK - len(last)
            if room >= n:
                last += data
                self._trim()
                return
            if room:
                last += data[:room]
                pos = room
        while pos < n:
            blocks.append(bytearray(data[pos : pos + BLOCK]))
            pos += BLOCK
        self._trim()

    def _trim(self) -> None:
        blocks = self._blocks
        size = self.size
        while len(blocks) > 1 and self.histlen - len(blocks[0]) > size:
            self.histlen -= len(blocks.popleft())

    def resize(self, size: int) -> None:
        """repl-backlog-size changed: keep the newest bytes that fit the new size."""
        self.size = max(size, MIN_SIZE)
        self._trim()

    def can_serve(self, offset: int) -> bool:
        """Whether the bytes from ``offset`` (the first one a replica lacks) to the end are
        all held."""
        return self.first_byte_offset <= offset <= self.end + 1

    def read_from(self, offset: int) -> bytes:
        """The bytes from ``offset`` to the end (requires ``can_serve(offset)``)."""
        if not self.can_serve(offset):
            raise ValueError("offset %d is outside the backlog" % offset)
        skip = offset - self.first_byte_offset
        if skip == self.histlen:
            return b""
        index, start = divmod(skip, BLOCK)
        blocks = self._blocks
        parts = [bytes(blocks[index][start:])]
        parts += [bytes(blocks[i]) for i in range(index + 1, len(blocks))]
        return b"".join(parts)

    def memory(self) -> int:
        """Bytes allocated for the blocks (INFO mem_replication_backlog)."""
        return len(self._blocks) * BLOCK
