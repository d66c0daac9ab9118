"""HyperLogLog in Redis's own string representation (Redis 7.0 hyperloglog.c).

Design note
-----------
An HLL is an ordinary string value, byte for byte the one Redis writes, so values travel
between Vermilion and Redis through GET/SET, DUMP/RESTORE, RDB and replication:

``HYLL`` magic, one encoding byte (0 dense, 1 sparse), three unused bytes, and the cached
cardinality as 8 little-endian bytes whose top bit says "stale" -- then the registers:

* dense: 16384 registers of 6 bits, packed LSB first (12288 bytes);
* sparse: run-length opcodes, ZERO ``00xxxxxx`` (1-64 zero registers), XZERO
  ``01xxxxxx yyyyyyyy`` (1-16384 zero registers) and VAL ``1vvvvvxx`` (1-4 registers of
  value 1-32). A new HLL is sparse (one XZERO of 16384); it turns dense, for good, when a
  register needs a value above 32 or the string would grow past ``hll-sparse-max-bytes``.

Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the
register, and the run of zero bits above them, plus one, is the value it may be raised to
(hllPatLen). The count is Otmar Ertl's estimator over the register histogram (hllCount).

What makes it fast enough in Python:

* Dense registers are read and written in place in the ``bytearray`` (two bytes at most).
* Whole-HLL work never loops over registers in Python. Dense registers are unpacked to one
  byte each with ``bytes.translate`` tables on the three byte columns (``raw_from_dense``)
  and packed back the same way; a histogram is 64 ``bytes.count`` calls; the
  register-wise maximum of two HLLs (PFMERGE, PFCOUNT of several keys) is a SWAR maximum
  on two 16384-byte integers.
* A sparse string is parsed at C speed (``Sparse``): ``bytes.translate`` maps each opcode
  byte to the registers it covers, a regular expression finds the rare XZEROs, and
  ``accumulate`` gives the register count after each opcode. Updates (hllSparseSet) find
  their opcode by bisection and splice the opcode bytes; the string is written back once
  per command. The parsed form of recently used sparse values is cached, keyed by the
  value's identity and used only while it still serialises to the value's bytes, so
  repeated PFADDs to a sparse key do not parse it again.

Every edge of Redis's algorithm is kept because the resulting bytes are visible: the exact
opcode splits and the neighbour merging of hllSparseSet, the cached cardinality (and the
unused header bytes) copied on promotion, and updates made before a corrupted opcode is met
staying in the value. Reading a sparse value (counting, merging, promoting) requires its
runs to cover exactly 16384 registers, as the Redis 7.0.15 we compare with does (Debian's,
which carries the CVE-2025-32023 fix); updating it only needs an opcode covering the
register.

A malformed string may end in the first byte of an XZERO: Redis then reads the byte after
the string's end as its low byte -- the terminator, 0, or what an update of that very opcode
wrote there (``Sparse.cut``; updates keep that byte as Redis's buffer does, and a value
parsed afresh starts from 0).
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate

MAGIC = b"HYLL"
DENSE = 0
SPARSE = 1
HDR_SIZE = 16
P = 14
Q = 64 - P
REGISTERS = 1 << P
DENSE_SIZE = HDR_SIZE + REGISTERS * 6 // 8
#: Error replies (shared by the commands).
INVALID_HLL = "-WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPTED = "-INVALIDOBJ Corrupted HLL object detected"

_SEED = 0xADC83B19
_M = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1
_ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
_VAL_MAX_VALUE = 32
_ZERO_MAX_LEN = 64
#: A fresh HLL: the header (sparse, cached cardinality 0) and XZERO:16384.
EMPTY = MAGIC + bytes([SPARSE]) + bytes(11) + b"\x7f\xff"


# -- hashing -------------------------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A as Redis has it (little-endian blocks, endian neutral)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK64
    blocks = n >> 3
    if blocks:
        for k in struct.unpack_from("<%dQ" % blocks, data):
            k = (k * _M) & _MASK64
            k ^= k >> 47
            h ^= (k * _M) & _MASK64
            h = (h * _M) & _MASK64
    tail = n & 7
    if tail:
        h ^= int.from_bytes(data[n - tail :], "little")
        h = (h * _M) & _MASK64
    h ^= h >> 47
    h = (h * _M) & _MASK64
    return h ^ (h >> 47)


def pat_len(element: bytes) -> tuple[int, int]:
    """hllPatLen: (register index, value) for an element -- the low 14 bits of the hash,
    and the number of zero bits above them up to the first one, plus one (1..51)."""
    h = murmurhash64a(element)
    rest = (h >> P) | (1 << Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# -- validation ----------------------------------------------------------------------------------


def is_hll(value) -> bool:
    """isHLLObjectOrReply for a string: magic, a known encoding, and a dense one of the
    exact size. A sparse string of any length passes (its runs are checked when read)."""
    n = len(value)
    if n < HDR_SIZE or value[:4] != MAGIC:
        return False
    encoding = value[4]
    return encoding == SPARSE or (encoding == DENSE and n == DENSE_SIZE)


def invalidate(buf: bytearray) -> None:
    """HLL_INVALIDATE_CACHE: mark the cached cardinality stale."""
    buf[15] |= 0x80


def cached_count(value) -> int | None:
    """The cached cardinality, or None when it is marked stale."""
    if value[15] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


def store_count(buf: bytearray, card: int) -> None:
    buf[8:16] = card.to_bytes(8, "little")


# -- dense registers -----------------------------------------------------------------------------


def dense_set(buf: bytearray, index: int, count: int) -> bool:
    """hllDenseSet: raise register ``index`` to ``count``; True if it changed."""
    bit = index * 6
    pos = HDR_SIZE + (bit >> 3)
    fb = bit & 7
    b0 = buf[pos]
    if fb <= 2:  # the register lies within one byte
        if (b0 >> fb) & 63 >= count:
            return False
        buf[pos] = (b0 & ~(63 << fb) & 0xFF) | (count << fb)
        return True
    b1 = buf[pos + 1]
    fb8 = 8 - fb
    if ((b0 >> fb) | (b1 << fb8)) & 63 >= count:
        return False
    buf[pos] = (b0 & ~(63 << fb) & 0xFF) | ((count << fb) & 0xFF)
    buf[pos + 1] = (b1 & ~(63 >> fb8)) | (count >> fb8)
    return True


def _table(f) -> bytes:
    return bytes(f(b) & 0xFF for b in range(256))


# Three packed bytes hold four registers: r0 = b0[0:6], r1 = b0[6:8] + b1[0:4],
# r2 = b1[4:8] + b2[0:2], r3 = b2[2:8] (bit ranges, LSB first).
_LOW6 = _table(lambda b: b & 63)
_HIGH2 = _table(lambda b: b >> 6)
_LOW4_UP2 = _table(lambda b: (b & 15) << 2)
_HIGH4 = _table(lambda b: b >> 4)
_LOW2_UP4 = _table(lambda b: (b & 3) << 4)
_HIGH6 = _table(lambda b: b >> 2)
_UP6 = _table(lambda b: b << 6)
_DOWN2 = _table(lambda b: b >> 2)
_LOW4_UP4 = _table(lambda b: (b & 15) << 4)
_DOWN4 = _table(lambda b: b >> 4)
_UP2 = _table(lambda b: b << 2)


def _or(a: bytes, b: bytes) -> bytes:
    """Byte-wise OR of two equal-length strings."""
    n = len(a)
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little")


def _columns(regs) -> tuple[bytes, bytes, bytes, bytes]:
    """The four register columns (every 4th register) of packed dense registers."""
    b0, b1, b2 = bytes(regs[0::3]), bytes(regs[1::3]), bytes(regs[2::3])
    return (
        b0.translate(_LOW6),
        _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2)),
        _or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4)),
        b2.translate(_HIGH6),
    )


def raw_from_dense(value) -> bytearray:
    """The 16384 registers of a dense HLL, one byte each."""
    raw = bytearray(REGISTERS)
    for i, column in enumerate(_columns(memoryview(value)[HDR_SIZE:DENSE_SIZE])):
        raw[i::4] = column
    return raw


def pack(raw) -> bytearray:
    """Dense registers (12288 bytes) from one byte per register (values up to 63)."""
    r0, r1, r2, r3 = (bytes(raw[i::4]) for i in range(4))
    out = bytearray(REGISTERS * 6 // 8)
    out[0::3] = _or(r0, r1.translate(_UP6))
    out[1::3] = _or(r1.translate(_DOWN2), r2.translate(_LOW4_UP4))
    out[2::3] = _or(r2.translate(_DOWN4), r3.translate(_UP2))
    return out


def _histogram(parts) -> list[int]:
    """reghisto: how many registers hold each value 0..63, over byte strings of registers."""
    hist = [0] * 64
    top = max(max(p) for p in parts if p)
    for v in range(1, top + 1):
        needle = bytes((v,))
        hist[v] = sum(p.count(needle) for p in parts)
    hist[0] = REGISTERS - sum(hist)
    return hist


def dense_histogram(value) -> list[int]:
    return _histogram(_columns(memoryview(value)[HDR_SIZE:DENSE_SIZE]))


def raw_histogram(raw) -> list[int]:
    return _histogram((raw,))


# -- the estimator -------------------------------------------------------------------------------


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z_prev == z:
            return z / 3


def estimate(hist: list[int]) -> int:
    """hllCount from a register histogram ("New cardinality estimation algorithms for
    HyperLogLog sketches", Otmar Ertl), in Redis's order of double operations."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = _ALPHA_INF * m * m / z
    # llroundl: half away from zero (e is never negative)
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)


def raw_max(a: bytes, b: bytes) -> bytes:
    """The register-wise maximum of two raw register strings (values below 128): per byte,
    (0x80 | a) - b keeps its top bit exactly when a >= b, and never borrows."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    keep = (((x | _TOPS) - y) & _TOPS) >> 7
    keep *= 0xFF
    return ((x & keep) | (y & ~keep)).to_bytes(REGISTERS, "little")


_TOPS = int.from_bytes(b"\x80" * REGISTERS, "little")


# -- the sparse encoding -------------------------------------------------------------------------


def _one_byte_span(b: int) -> int:
    """Registers covered by a ZERO or VAL opcode byte (0 for an XZERO's first byte)."""
    if b < 0x40:
        return (b & 63) + 1
    if b & 0x80:
        return (b & 3) + 1
    return 0


#: Opcode byte -> registers it covers (ZERO, VAL), and -> those registers one byte each.
_SPANS = bytes(_one_byte_span(b) for b in range(256))
_PIECES = [bytes((((b >> 2) & 31) + 1 if b & 0x80 else 0,)) * _one_byte_span(b) for b in range(256)]
#: Bytes that may start an XZERO (or be the second byte of one).
_XZERO_BYTE = re.compile(rb"[\x40-\x7f]")


def _val(value: int, length: int) -> bytes:
    return bytes((0x80 | (value - 1) << 2 | (length - 1),))


def _zeros(length: int) -> bytes:
    """A zero run as Redis writes it on a split: ZERO up to 64 registers, else XZERO."""
    if length > _ZERO_MAX_LEN:
        length -= 1
        return bytes((0x40 | length >> 8, length & 0xFF))
    return bytes((length - 1,))


def _xzero_len(b0: int, b1: int) -> int:
    return (((b0 & 63) << 8) | b1) + 1


class Sparse:
    """A sparse HLL, parsed for reading and updating (see the module docstring).

    ``data`` holds the opcodes (the string after the header). Every opcode is one byte
    except XZERO; ``xzeros`` lists the opcode numbers of the XZEROs (few), so opcode ``k``
    starts at byte ``k + (XZEROs before k)``. ``ends[k]`` is the number of registers
    covered by opcodes 0..k, for bisection. ``cut`` is set when the string ends inside an
    XZERO: its missing byte is kept as 0 in ``data`` and left out of ``to_bytes``.
    """

    __slots__ = ("header", "data", "xzeros", "ends", "cut")

    def __init__(self, value):
        self.header = bytearray(value[:HDR_SIZE])
        data = self.data = bytearray(value[HDR_SIZE:])
        spans = list(data.translate(_SPANS))
        xzeros = self.xzeros = []
        self.cut = False
        skip = 0
        for p in [m.start() for m in _XZERO_BYTE.finditer(data)]:
            if p < skip:
                continue  # the second byte of the XZERO before
            skip = p + 2
            if skip > len(data):
                self.cut = True
                data.append(0)
                spans.append(0)
            spans[p] = _xzero_len(data[p], data[p + 1])
            xzeros.append(p - len(xzeros))
        for i in range(len(xzeros) - 1, -1, -1):  # an XZERO's second byte covers nothing
            del spans[xzeros[i] + i + 1]
        self.ends = list(accumulate(spans))

    def _offset(self, k: int) -> int:
        """Byte offset of opcode ``k`` in ``data``."""
        return k + bisect_left(self.xzeros, k) if self.xzeros else k

    def size(self) -> int:
        """The string's length."""
        return HDR_SIZE + len(self.data) - self.cut

    # -- reading ---------------------------------------------------------------------------------
    def total(self) -> int:
        return self.ends[-1] if self.ends else 0

    def histogram(self) -> list[int] | None:
        """hllSparseRegHisto: None unless the runs cover exactly 16384 registers."""
        if self.total() != REGISTERS:
            return None
        counts = Counter(self.data)
        for k in self.xzeros:  # an XZERO's second byte is no opcode
            counts[self.data[self._offset(k) + 1]] -= 1
        hist = [0] * 64
        for b, n in counts.items():
            if b & 0x80:
                hist[((b >> 2) & 31) + 1] += ((b & 3) + 1) * n
        hist[0] = REGISTERS - sum(hist)
        return hist

    def raw(self) -> bytes | None:
        """The registers one byte each, or None if the runs do not cover exactly 16384
        registers (corrupted)."""
        if self.total() != REGISTERS:
            return None
        data = self.data
        parts = []
        pos = 0
        for i, x in enumerate(self.xzeros):
            p = x + i
            parts += map(_PIECES.__getitem__, data[pos:p])
            parts.append(bytes(_xzero_len(data[p], data[p + 1])))
            pos = p + 2
        parts += map(_PIECES.__getitem__, data[pos:])
        return b"".join(parts)

    def opcodes(self):
        """The opcodes, each as its bytes (PFDEBUG DECODE)."""
        data = self.data
        pos = 0
        for i, x in enumerate(self.xzeros):
            p = x + i
            yield from (data[j : j + 1] for j in range(pos, p))
            yield data[p : p + 2]
            pos = p + 2
        yield from (data[j : j + 1] for j in range(pos, len(data)))

    def to_dense(self) -> bytearray | None:
        """hllSparseToDense: the dense string (this header, with its cached cardinality,
        and the registers packed), or None if the runs are corrupted."""
        raw = self.raw()
        if raw is None:
            return None
        header = bytearray(self.header)
        header[4] = DENSE
        return header + pack(raw)

    def to_bytes(self) -> bytes:
        data = self.data[:-1] if self.cut else self.data
        return bytes(self.header + data)

    # -- hllSparseSet ----------------------------------------------------------------------------
    def set(self, index: int, count: int, max_bytes: int) -> int:
        """Raise register ``index`` to ``count`` as hllSparseSet does: 1 if it changed,
        0 if not, -1 if no opcode covers the register (corrupted), 2 if the HLL must be
        promoted to dense first (value above 32, or the string would pass max_bytes)."""
        if count > _VAL_MAX_VALUE:
            return 2
        ends = self.ends
        k = bisect_right(ends, index)
        if k == len(ends):
            return -1
        data = self.data
        p = self._offset(k)
        b = data[p]
        first = ends[k - 1] if k else 0
        if b & 0x80:  # VAL
            old = ((b >> 2) & 31) + 1
            if old >= count:
                return 0
        span = ends[k] - first
        if span == 1 and (b & 0x80 or b < 0x40):  # a VAL or ZERO of this register only
            data[p] = 0x80 | (count - 1) << 2
            self._merge_from(k - 1 if k else 0)
            return 1
        # The general case: split the opcode around the register.
        last = first + span - 1
        if b & 0x80:
            before = _val(old, index - first) if index != first else None
            after = _val(old, last - index) if index != last else None
        else:
            before = _zeros(index - first) if index != first else None
            after = _zeros(last - index) if index != last else None
        new = [x for x in (before, _val(count, 1), after) if x is not None]
        new_ends = [e for e, x in ((index, before), (index + 1, True), (last + 1, after)) if x is not None]
        oplen = 1 if b & 0x80 or b < 0x40 else 2
        seq = b"".join(new)
        delta = len(seq) - oplen
        if delta > 0 and self.size() + delta > max_bytes:
            return 2
        was_cut = self.cut and k == len(ends) - 1
        data[p : p + oplen] = seq
        ends[k : k + 1] = new_ends
        self._renumber(k, oplen == 2, [i for i, x in enumerate(new) if len(x) == 2], len(new))
        if was_cut:
            # The new opcodes were written one byte past the string's end: a last XZERO
            # keeps its low byte there (still read), a last one-byte opcode is lost.
            if len(new[-1]) == 1:
                del data[-1]
                del ends[-1]
                self.cut = False
        else:
            self._terminate()
        self._merge_from(k - 1 if k else 0)
        return 1

    def _terminate(self) -> None:
        """The string's length was set again: the byte past its end is the terminator, 0
        -- which is what a cut XZERO at the end reads as its low byte from then on."""
        if self.cut and self.data[-1]:
            data = self.data
            data[-1] = 0
            ends = self.ends
            ends[-1] = (ends[-2] if len(ends) > 1 else 0) + _xzero_len(data[-2], 0)

    def _renumber(self, k: int, was_xzero: bool, new_xzeros: list[int], n_new: int) -> None:
        """Opcode ``k`` became ``n_new`` opcodes (the XZEROs among them at ``new_xzeros``)."""
        xz = self.xzeros
        if not xz and not new_xzeros:
            return
        shift = n_new - 1
        i = bisect_left(xz, k)
        tail = [x + shift for x in xz[i + 1 if was_xzero else i :]]
        xz[i:] = [k + j for j in new_xzeros] + tail

    def _merge_from(self, k: int) -> None:
        """Step 4 of hllSparseSet: from the opcode before the updated one, look at up to
        five opcodes and merge adjacent VALs of equal value while the run fits in one."""
        data = self.data
        ends = self.ends
        n = len(ends)
        scan = 5
        while k < n and scan:
            scan -= 1
            p = self._offset(k)
            b = data[p]
            if b & 0x80 and k + 1 < n:
                b2 = data[p + 1]
                if b2 & 0x80 and (b ^ b2) & 0x7C == 0:
                    length = (b & 3) + (b2 & 3) + 2
                    if length <= 4:
                        data[p + 1] = (b & 0xFC) | (length - 1)
                        del data[p]
                        del ends[k]
                        xz = self.xzeros
                        if xz:
                            i = bisect_left(xz, k)
                            xz[i:] = [x - 1 for x in xz[i:]]
                        n -= 1
                        self._terminate()
                        continue
            k += 1
        invalidate(self.header)


# -- whole values ----------------------------------------------------------------------------------

#: Parsed sparse values by id(). An entry is used only if it still serialises to the
#: value's bytes, so a reused id, an in-place change of the value (SETRANGE...) or an
#: update of the parsed form that was not written back never serves a stale entry.
_CACHE: dict[int, Sparse] = {}
_CACHE_SIZE = 64


def sparse_of(value) -> Sparse:
    """The parsed form of a sparse value (cached)."""
    sp = _CACHE.get(id(value))
    if sp is not None and sp.to_bytes() == value:
        return sp
    sp = Sparse(value)
    remember(value, sp)
    return sp


def remember(value, sp: Sparse) -> None:
    if len(_CACHE) >= _CACHE_SIZE:
        try:  # the oldest entry; nodes on other threads may be evicting too
            del _CACHE[next(iter(_CACHE))]
        except (RuntimeError, KeyError, StopIteration):
            pass
    _CACHE[id(value)] = sp


def raw_registers(value) -> bytes | None:
    """hllMerge's view of a valid HLL value: one byte per register; None if corrupted."""
    if value[4] == DENSE:
        return bytes(raw_from_dense(value))
    return sparse_of(value).raw()

