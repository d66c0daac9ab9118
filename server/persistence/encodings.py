"""The compact blobs inside RDB values: listpack, intset, and the legacy ziplist and zipmap.

Design note
-----------
Redis stores small collections as one string holding a packed structure, and writes that
string to the RDB as it is. This module turns those blobs into Python lists and back; it
knows nothing of keys, types or files. Every decoder validates as it walks (header sizes,
bounds, terminators, counts) and raises ``BlobError`` rather than return a partial result.

* listpack (listpack.c, 7.0+; hashes, zsets and list nodes): a 6-byte header (total bytes,
  element count), entries of ``encoding+data`` followed by a back-length, and ``FF``. A
  string that is a canonical 64-bit integer is stored as an integer, in the smallest
  encoding that holds it. ``lp_encode`` builds one, ``lp_decode`` reads one.
* intset (intset.c; sets of integers): encoding width, count, then the values sorted, all
  little-endian. ``intset_encode`` / ``intset_decode``.
* ziplist (ziplist.c, Redis 2.6-6.2) and zipmap (zipmap.c, Redis <= 2.4): read only, for
  older files.

Decoded elements are ``bytes``; integers come back as their decimal text, which is what
Redis returns for them too.
"""

from __future__ import annotations

import re
import struct
from array import array

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<IH")
_INTSET_HEADER = struct.Struct("<II")

#: lpStringToInt64 / string2ll: canonical decimal of a signed 64-bit integer (no "+", no
#: leading zeros, no "-0"), at most 20 characters.
_INT_TEXT = re.compile(rb"0|-?[1-9][0-9]{0,18}").fullmatch
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


class BlobError(ValueError):
    """A packed structure that fails its integrity check."""


def as_int64(s: bytes) -> int | None:
    """The integer a listpack would store ``s`` as, or None (lpStringToInt64)."""
    if len(s) > 20 or _INT_TEXT(s) is None:
        return None
    v = int(s)
    return v if _I64_MIN <= v <= _I64_MAX else None


# -- listpack ------------------------------------------------------------------------------------

#: Listpack header (6 bytes) + end byte.
LP_EMPTY = 7
#: The element count field saturates here ("unknown, count by walking").
LP_COUNT_UNKNOWN = 65535


def _backlen(n: int) -> bytes:
    """lpEncodeBacklen: ``n`` in 7-bit groups, most significant first; every byte but the
    first carries 0x80 (so it reads back from the end)."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                  (n & 127) | 128))


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


#: Entries for the integers 0..127 and for short strings' headers, prebuilt.
_SMALL_UINT = [bytes((v, 1)) for v in range(128)]


def lp_entry(s: bytes) -> bytes:
    """One listpack entry (encoding, data, back-length) for the element ``s``."""
    n = len(s)
    if n <= 20:
        v = as_int64(s)
        if v is not None:
            if 0 <= v <= 127:
                return _SMALL_UINT[v]
            if -4096 <= v <= 4095:
                u = v & 0x1FFF
                return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
            if -32768 <= v <= 32767:
                return b"\xf1" + v.to_bytes(2, "little", signed=True) + b"\x03"
            if -8388608 <= v <= 8388607:
                return b"\xf2" + v.to_bytes(3, "little", signed=True) + b"\x04"
            if -2147483648 <= v <= 2147483647:
                return b"\xf3" + v.to_bytes(4, "little", signed=True) + b"\x05"
            return b"\xf4" + v.to_bytes(8, "little", signed=True) + b"\x09"
    if n < 64:
        head = bytes((0x80 | n,))
    elif n < 4096:
        head = bytes((0xE0 | (n >> 8), n & 0xFF))
    else:
        head = b"\xf0" + _U32.pack(n)
    return head + s + _backlen(len(head) + n)


def lp_encode(items) -> bytes:
    """A listpack holding ``items`` (bytes), in order."""
    body = b"".join([lp_entry(s) for s in items])
    count = len(items)
    return _HEADER.pack(len(body) + LP_EMPTY, min(count, LP_COUNT_UNKNOWN)) + body + b"\xff"


def lp_entries_size(items) -> int:
    """The size of a listpack holding ``items``, without building it."""
    return LP_EMPTY + sum(len(lp_entry(s)) for s in items)


def lp_decode(blob: bytes) -> list[bytes]:
    """The elements of a listpack, after checking its header and walking every entry."""
    n = len(blob)
    if n < LP_EMPTY:
        raise BlobError("listpack shorter than its header")
    total, count = _HEADER.unpack_from(blob)
    if total != n or blob[-1] != 0xFF:
        raise BlobError("listpack header does not match its size")
    out: list[bytes] = []
    append = out.append
    end = n - 1
    p = 6
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:  # 7-bit unsigned integer
                append(b"%d" % b)
                p += 2
                continue
            if b < 0xC0:  # string up to 63 bytes
                size = b & 0x3F
                start = p + 1
            elif b < 0xE0:  # 13-bit signed integer
                v = ((b & 0x1F) << 8) | blob[p + 1]
                if v >= 4096:
                    v -= 8192
                append(b"%d" % v)
                p += 3
                continue
            elif b < 0xF0:  # string up to 4095 bytes
                size = ((b & 0x0F) << 8) | blob[p + 1]
                start = p + 2
            elif b == 0xF0:  # string with a 32-bit length
                size = _U32.unpack_from(blob, p + 1)[0]
                start = p + 5
            elif b <= 0xF4:  # 16/24/32/64-bit integer
                width = (2, 3, 4, 8)[b - 0xF1]
                if p + 1 + width > end:
                    raise BlobError("listpack integer past the end")
                append(b"%d" % int.from_bytes(blob[p + 1 : p + 1 + width], "little", signed=True))
                p += 1 + width + 1
                continue
            else:
                raise BlobError("invalid listpack entry encoding")
            stop = start + size
            if stop > end:
                raise BlobError("listpack string past the end")
            append(blob[start:stop])
            p = stop + _backlen_size(stop - p)
    except (IndexError, struct.error):
        raise BlobError("listpack entry past the end") from None
    if p != end:
        raise BlobError("listpack entries do not end at its terminator")
    if count != LP_COUNT_UNKNOWN and count != len(out):
        raise BlobError("listpack count does not match its entries")
    return out


# -- intset ------------------------------------------------------------------------------------------

_INTSET_ARRAY = {2: "h", 4: "i", 8: "q"}


def intset_encode(values: list[int]) -> bytes:
    """An intset of ``values`` (sorted, distinct), in the narrowest encoding that fits."""
    lo, hi = values[0], values[-1]
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        width = 4
    else:
        width = 8
    body = array(_INTSET_ARRAY[width], values)
    if body.itemsize != width:  # pragma: no cover - platforms where C int/short differ
        return _INTSET_HEADER.pack(width, len(values)) + b"".join(
            v.to_bytes(width, "little", signed=True) for v in values)
    if struct.pack("=H", 1) != b"\x01\x00":  # pragma: no cover - big-endian hosts
        body.byteswap()
    return _INTSET_HEADER.pack(width, len(values)) + body.tobytes()


def intset_decode(blob: bytes) -> list[int]:
    """The values of an intset, checked as intsetValidateIntegrity does (plus the order)."""
    if len(blob) < 8:
        raise BlobError("intset shorter than its header")
    width, count = _INTSET_HEADER.unpack_from(blob)
    if width not in _INTSET_ARRAY:
        raise BlobError("invalid intset encoding")
    if 8 + count * width != len(blob) or count == 0:
        raise BlobError("intset size does not match its count")
    values = array(_INTSET_ARRAY[width])
    if values.itemsize != width:  # pragma: no cover
        out = [int.from_bytes(blob[8 + i * width : 8 + (i + 1) * width], "little", signed=True) for i in range(count)]
    else:
        values.frombytes(blob[8:])
        if struct.pack("=H", 1) != b"\x01\x00":  # pragma: no cover
            values.byteswap()
        out = values.tolist()
    for i in range(1, count):
        if out[i - 1] >= out[i]:
            raise BlobError("intset values out of order or repeated")
    return out


# -- ziplist (read only) ----------------------------------------------------------------------------

_ZL_HEADER = struct.Struct("<IIH")
_ZL_INT = {0xC0: (2, "<h"), 0xD0: (4, "<i"), 0xE0: (8, "<q"), 0xFE: (1, "<b")}


def zl_decode(blob: bytes) -> list[bytes]:
    """The elements of a ziplist (Redis 2.6-6.2 lists, hashes and zsets)."""
    n = len(blob)
    if n < 11:
        raise BlobError("ziplist shorter than its header")
    zlbytes, zltail, zllen = _ZL_HEADER.unpack_from(blob)
    if zlbytes != n or blob[-1] != 0xFF or zltail > n - 1:
        raise BlobError("ziplist header does not match its size")
    out: list[bytes] = []
    end = n - 1
    p = 10
    try:
        while p < end:
            p += 5 if blob[p] == 0xFE else 1  # prevlen
            b = blob[p]
            kind = b >> 6
            if kind == 0:
                size, start = b & 0x3F, p + 1
            elif kind == 1:
                size, start = ((b & 0x3F) << 8) | blob[p + 1], p + 2
            elif kind == 2:
                if b != 0x80:
                    raise BlobError("invalid ziplist string encoding")
                size, start = int.from_bytes(blob[p + 1 : p + 5], "big"), p + 5
            else:
                if b == 0xF0:  # 24-bit integer
                    out.append(b"%d" % int.from_bytes(blob[p + 1 : p + 4], "little", signed=True))
                    p += 4
                elif 0xF1 <= b <= 0xFD:  # immediate 0..12
                    out.append(b"%d" % ((b & 0x0F) - 1))
                    p += 1
                elif b in _ZL_INT:
                    width, fmt = _ZL_INT[b]
                    out.append(b"%d" % struct.unpack_from(fmt, blob, p + 1)[0])
                    p += 1 + width
                else:
                    raise BlobError("invalid ziplist entry encoding")
                if p > end:
                    raise BlobError("ziplist integer past the end")
                continue
            p = start + size
            if p > end:
                raise BlobError("ziplist string past the end")
            out.append(blob[start:p])
    except (IndexError, struct.error):
        raise BlobError("ziplist entry past the end") from None
    if p != end:
        raise BlobError("ziplist entries do not end at its terminator")
    if zllen != 0xFFFF and zllen != len(out):
        raise BlobError("ziplist count does not match its entries")
    return out


# -- zipmap (read only) -------------------------------------------------------------------------------

_ZIPMAP_BIGLEN = 254
_ZIPMAP_END = 255


def zipmap_decode(blob: bytes) -> list[bytes]:
    """Field, value, field, value... of a zipmap (Redis <= 2.4 hashes): a count byte, then
    ``len key len free value <free bytes>`` entries, lengths in one byte or 254 + 4 bytes."""
    out: list[bytes] = []
    n = len(blob)

    def length(p: int) -> tuple[int, int]:
        b = blob[p]
        if b < _ZIPMAP_BIGLEN:
            return b, p + 1
        if b == _ZIPMAP_BIGLEN:
            return _U32.unpack_from(blob, p + 1)[0], p + 5
        raise BlobError("invalid zipmap length")

    try:
        if n < 2:
            raise BlobError("zipmap too short")
        p = 1
        while blob[p] != _ZIPMAP_END:
            size, p = length(p)
            key = blob[p : p + size]
            p += size
            size, p = length(p)
            free = blob[p]
            p += 1
            value = blob[p : p + size]
            p += size + free
            if p >= n:
                raise BlobError("zipmap entry past the end")
            out += (key, value)
    except (IndexError, struct.error):
        raise BlobError("zipmap entry past the end") from None
    if p != n - 1:
        raise BlobError("zipmap does not end at its terminator")
    if blob[0] < _ZIPMAP_BIGLEN and blob[0] != len(out) // 2:
        raise BlobError("zipmap count does not match its entries")
    return out
