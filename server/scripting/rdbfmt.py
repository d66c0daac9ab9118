"""The pieces of Redis's RDB format that FUNCTION DUMP / RESTORE need.

Design note
-----------
A FUNCTION DUMP payload is RDB bytes: for each library the opcode ``RDB_OPCODE_FUNCTION2``
(245) and the library code as an RDB string, then the RDB version (2 bytes, little
endian) and a CRC64 (Jones polynomial, little endian) of everything before it -- the same
footer as DUMP of a key (cluster.c createDumpPayload / verifyDumpPayload).

An RDB string is written by ``rdbSaveRawString``: a string of at most 11 bytes that is a
canonical integer is stored as an 8/16/32-bit integer; one longer than 20 bytes is LZF
compressed when ``rdbcompression`` is on and compression saves at least 4 bytes; anything
else is stored as its length and bytes. ``lzf_compress`` below follows liblzf 3.6 as
configured in Redis (HLOG 16, VERY_FAST, zeroed hash table) step by step, so our payloads
are byte-identical to Redis's for the same input; ``lzf_decompress`` reads any valid LZF.

These helpers are pure (bytes in, bytes out) and are meant to be shared with the RDB
persistence code when it lands.
"""

from __future__ import annotations

RDB_VERSION = 10  # Redis 7.0
RDB_OPCODE_FUNCTION2 = 245
RDB_OPCODE_FUNCTION = 246  # 7.0 release candidates only

_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3


class PayloadError(Exception):
    """The payload is truncated or malformed."""


# -- CRC64 (crc64.c: Jones polynomial, reflected, init 0) -------------------------------------

_POLY = 0x95AC9329AC4BC9B5


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc64_pure(data: bytes, crc: int = 0) -> int:
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


try:  # the persistence code's C-accelerated CRC, when present
    from ..persistence.crc64 import crc64
except ImportError:  # pragma: no cover
    crc64 = crc64_pure


# -- LZF ------------------------------------------------------------------------------------

_HLOG = 16
_HSIZE = 1 << _HLOG
_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def _idx(h: int) -> int:
    return ((h >> (3 * 8 - _HLOG)) - h * 5) & (_HSIZE - 1)


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """liblzf's lzf_compress into a buffer of ``out_len`` bytes; None if it does not fit."""
    in_len = len(data)
    if not in_len or not out_len:
        return None
    htab: dict[int, int] = {}  # a zeroed table: a missing slot is offset 0, never a match
    out = bytearray(out_len + 3)
    ip = 0
    op = 1  # start run
    lit = 0
    in_end = in_len
    hval = (data[0] << 8) | data[1] if in_len > 1 else data[0] << 8
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
        slot = _idx(hval)
        ref = htab.get(slot, 0)
        htab[slot] = ip
        off = ip - ref - 1
        if (
            0 <= off < _MAX_OFF
            and ref > 0
            and data[ref + 2] == data[ip + 2]
            and data[ref] == data[ip]
            and data[ref + 1] == data[ip + 1]
        ):
            length = 2
            maxlen = in_end - ip - length
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            if op + 3 + 1 >= out_len and op - (not lit) + 3 + 1 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF  # stop run
            if not lit:
                op -= 1  # undo run if length is zero
            done = False
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        done = True
                        break
            if not done:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2  # now the number of octets - 1
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 1
            lit = 0
            op += 1  # start run
            ip += length + 1
            if ip >= in_end - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip
            ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF  # end run
    if not lit:
        op -= 1
    if op > out_len:
        return None
    return bytes(out[:op])


def lzf_decompress(data: bytes, out_len: int) -> bytes:
    out = bytearray()
    ip, n = 0, len(data)
    while ip < n:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:  # literal run
            length = ctrl + 1
            if ip + length > n:
                raise PayloadError("lzf literal overrun")
            out += data[ip : ip + length]
            ip += length
        else:  # back reference
            length = ctrl >> 5
            if length == 7:
                if ip >= n:
                    raise PayloadError("lzf truncated")
                length += data[ip]
                ip += 1
            if ip >= n:
                raise PayloadError("lzf truncated")
            ref = len(out) - ((ctrl & 0x1F) << 8) - data[ip] - 1
            ip += 1
            if ref < 0:
                raise PayloadError("lzf bad back reference")
            for _ in range(length + 2):
                out.append(out[ref])
                ref += 1
        if len(out) > out_len:
            raise PayloadError("lzf output overrun")
    if len(out) != out_len:
        raise PayloadError("lzf length mismatch")
    return bytes(out)


# -- lengths and strings ---------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    """rdbSaveLen."""
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _int_encoding(s: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: only a canonical integer that fits 32 bits."""
    if not s or len(s) > 11:
        return None
    try:
        v = int(s)
    except ValueError:
        return None
    if str(v).encode() != s:
        return None
    if -(1 << 7) <= v < 1 << 7:
        return bytes((0xC0 | _ENC_INT8,)) + v.to_bytes(1, "little", signed=True)
    if -(1 << 15) <= v < 1 << 15:
        return bytes((0xC0 | _ENC_INT16,)) + v.to_bytes(2, "little", signed=True)
    if -(1 << 31) <= v < 1 << 31:
        return bytes((0xC0 | _ENC_INT32,)) + v.to_bytes(4, "little", signed=True)
    return None


def encode_string(s: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString."""
    n = len(s)
    if n <= 11:
        enc = _int_encoding(s)
        if enc is not None:
            return enc
    if compress and n > 20 and n > 4:
        packed = lzf_compress(s, n - 4)
        if packed is not None:
            return bytes((0xC0 | _ENC_LZF,)) + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + s


class Reader:
    """Reads RDB values from a byte string (rio over a buffer)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise PayloadError("truncated")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def length(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: (length, is_encoded)."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise PayloadError("unknown length encoding")

    def string(self) -> bytes:
        """rdbGenericLoadStringObject."""
        n, encoded = self.length()
        if not encoded:
            return self.take(n)
        if n == _ENC_INT8:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == _ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == _ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == _ENC_LZF:
            clen, _ = self.length()
            ulen, _ = self.length()
            return lzf_decompress(self.take(clen), ulen)
        raise PayloadError("unknown string encoding")


# -- the DUMP footer ------------------------------------------------------------------------------


def add_footer(body: bytes) -> bytes:
    """Append the RDB version and the CRC64 (createDumpPayload)."""
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def verify_footer(payload: bytes) -> int | None:
    """verifyDumpPayload: the payload's RDB version, or None if it is wrong or corrupt."""
    if len(payload) < 10:
        return None
    footer = payload[-10:]
    version = footer[0] | (footer[1] << 8)
    if version > RDB_VERSION:
        return None
    if crc64(payload[:-8]) != int.from_bytes(footer[2:], "little"):
        return None
    return version
