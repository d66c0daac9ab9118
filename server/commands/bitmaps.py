"""Bitmap commands (Redis 7.0 bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO.

Design note
-----------
Bitmaps are strings: bit 0 is the most significant bit of the first byte. Writers keep the
value as a ``bytearray`` (Redis's raw encoding), grown with zero bytes as needed; readers
accept ``bytes`` too. Whole-string work (popcount, first set/clear bit, AND/OR/XOR/NOT) is
done on big Python integers (``int.from_bytes``), which runs in C.

BITPOS and BITCOUNT follow bitops.c step by step, edge masks included, because their
answers at range edges (and BITPOS's ``-1`` when an explicit end holds no clear bit) are
what the code does rather than something a cleaner definition would give. BITFIELD
likewise reproduces the C overflow checks with explicit 64-bit wrap-around, quirks
included (e.g. ``OVERFLOW SAT SET i8 0 <huge negative>`` saturates to the maximum).

Only changes that really happen signal the key, fire ``setbit`` and count as dirty: a SETBIT
that leaves the bit as it was, within the current length, changes nothing.
"""

from __future__ import annotations

from protocol import encoder as enc
from protocol.encoder import ONE, ZERO

from .. import errors as E
from ..errors import CommandError
from .args import parse_int, to_int
from .spec import command
from .strings import copt, lookup_write, notify, set_key, string_or_none, unshare

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1
_I64_MIN = -(1 << 63)


def _s64(x: int) -> int:
    """x wrapped to a signed 64-bit integer (C's two's complement arithmetic)."""
    x &= _U64
    return x - (1 << 64) if x >> 63 else x


def bit_offset(c, arg: bytes, hash_ok: bool = False, bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset below proto-max-bulk-len bytes; ``#n`` means
    n*bits for BITFIELD (the product wraps like C's)."""
    usehash = hash_ok and bits > 0 and arg[:1] == b"#"
    v = parse_int(arg[1:] if usehash else arg)
    if v is None:
        raise CommandError(E.BIT_OFFSET)
    if usehash:
        v = _s64(v * bits)
    if v < 0 or ((v >> 3) >= c.node.config["proto-max-bulk-len"] and not c.is_master):
        raise CommandError(E.BIT_OFFSET)
    return v


def _grow_for_write(c, key: bytes, maxbit: int):
    """lookupStringForBitCommand: (value as bytearray, dirty, created). The value is zero-padded
    to hold ``maxbit``; a new key is not stored yet (the caller stores it once)."""
    db = c.db
    need = (maxbit >> 3) + 1
    v = lookup_write(db, key)
    if v is None:
        return bytearray(need), True, True
    buf = unshare(db, key, v)
    grown = len(buf) < need
    if grown:
        buf.extend(bytes(need - len(buf)))
    return buf, grown, False


# -- SETBIT / GETBIT -----------------------------------------------------------------------


@command("setbit")
def setbit(c, argv):
    offset = bit_offset(c, argv[2])
    on = parse_int(argv[3])
    if on is None or on & ~1:
        raise CommandError(E.BIT_VALUE)
    key = argv[1]
    buf, dirty, created = _grow_for_write(c, key, offset)
    byte = offset >> 3
    shift = 7 - (offset & 7)
    old = (buf[byte] >> shift) & 1
    if dirty or old != on:
        buf[byte] = (buf[byte] & ~(1 << shift)) | (on << shift)
        if created:
            c.db.set(key, buf)
        else:
            c.node.key_modified(c.db, key)
        notify(c, key, "setbit")
    return ONE if old else ZERO


@command("getbit")
def getbit(c, argv):
    offset = bit_offset(c, argv[2])
    v = string_or_none(c.db.get(argv[1]))
    byte = offset >> 3
    if v is None or byte >= len(v):
        return ZERO
    return ONE if (v[byte] >> (7 - (offset & 7))) & 1 else ZERO


# -- BITCOUNT / BITPOS ---------------------------------------------------------------------


def _range_keyword(arg: bytes) -> bool:
    """BIT or BYTE (True for BIT); anything else is a syntax error."""
    opt = copt(arg)
    if opt == b"BIT":
        return True
    if opt == b"BYTE":
        return False
    raise CommandError(E.SYNTAX)


def _clamp(start: int, end: int, totlen: int) -> tuple[int, int]:
    if start < 0:
        start += totlen
    if end < 0:
        end += totlen
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= totlen:
        end = totlen - 1
    return start, end


def _edge_masks(start: int, end: int) -> tuple[int, int, int, int]:
    """Bit range -> byte range plus the masks of the bits outside it in the edge bytes."""
    first = ~((1 << (8 - (start & 7))) - 1) & 0xFF
    last = (1 << (7 - (end & 7))) - 1
    return start >> 3, end >> 3, first, last


@command("bitcount")
def bitcount(c, argv):
    v = string_or_none(c.db.get(argv[1]))
    if v is None:
        return ZERO
    argc = len(argv)
    first = last = 0
    if argc == 4 or argc == 5:
        start = to_int(argv[2])
        end = to_int(argv[3])
        if start < 0 and end < 0 and start > end:
            return ZERO
        isbit = _range_keyword(argv[4]) if argc == 5 else False
        totlen = len(v) << 3 if isbit else len(v)
        start, end = _clamp(start, end, totlen)
        if isbit and start <= end:
            start, end, first, last = _edge_masks(start, end)
    elif argc == 2:
        start, end = 0, len(v) - 1
    else:
        raise CommandError(E.SYNTAX)
    if start > end:
        return ZERO
    count = int.from_bytes(v[start : end + 1], "big").bit_count()
    # Take away the bits of the edge bytes that lie outside the bit range.
    count -= (v[start] & first).bit_count() + (v[end] & last).bit_count()
    return enc.integer(count)


def _first_bit(data, bit: int) -> int:
    """redisBitpos: first position of ``bit`` in ``data``; -1 if no 1 is found; for 0 the
    string counts as zero-padded on the right, so len*8 if it is all ones."""
    width = len(data) * 8
    n = int.from_bytes(data, "big")
    if not bit:
        n ^= (1 << width) - 1
    if n == 0:
        return -1 if bit else width
    return width - n.bit_length()


@command("bitpos")
def bitpos(c, argv):
    bit = to_int(argv[2])
    if bit != 0 and bit != 1:
        raise CommandError("The bit argument must be 1 or 0.")
    v = string_or_none(c.db.get(argv[1]))
    if v is None:
        return enc.integer(-1 if bit else 0)
    argc = len(argv)
    end_given = False
    first = last = 0
    if 4 <= argc <= 6:
        totlen = len(v)
        start = to_int(argv[3])
        isbit = _range_keyword(argv[5]) if argc == 6 else False
        if argc >= 5:
            end = to_int(argv[4])
            end_given = True
        else:
            end = (totlen << 3) + 7 if isbit else totlen - 1
        if isbit:
            totlen <<= 3
        start, end = _clamp(start, end, totlen)
        if isbit and start <= end:
            start, end, first, last = _edge_masks(start, end)
    elif argc == 3:
        start, end = 0, len(v) - 1
    else:
        raise CommandError(E.SYNTAX)
    if start > end:
        return enc.integer(-1)
    pos, start, nbytes = _bitpos_range(v, bit, start, end, first, last)
    # With an explicit end the right of the range is not zero padding.
    if end_given and bit == 0 and pos == nbytes << 3:
        return enc.integer(-1)
    if pos != -1:
        pos += start << 3
    return enc.integer(pos)


def _masked(byte: int, mask: int, bit: int) -> bytes:
    """An edge byte with its out-of-range bits forced to the value not searched for."""
    return bytes(((byte & ~mask) & 0xFF,) if bit else (byte | mask,))


def _bitpos_range(v, bit: int, start: int, end: int, first: int, last: int):
    """The search of bitposCommand over bytes start..end: (pos, start, bytes) where pos is
    relative to the (possibly advanced) start byte."""
    nbytes = end - start + 1
    if first:
        byte = v[start] & ~first & 0xFF if bit else v[start] | first
        if last and nbytes == 1:
            byte = byte & ~last & 0xFF if bit else byte | last
        pos = _first_bit(bytes((byte,)), bit)
        if nbytes == 1 or (pos != -1 and pos != 8):
            return pos, start, nbytes
        start += 1
        nbytes -= 1
    whole = nbytes - (1 if last else 0)
    if whole > 0:
        pos = _first_bit(v[start : start + whole], bit)
        if nbytes == whole or (pos != -1 and pos != whole << 3):
            return pos, start, nbytes
        start += whole
        nbytes -= whole
    return _first_bit(_masked(v[end], last, bit), bit), start, nbytes


# -- BITOP ---------------------------------------------------------------------------------


@command("bitop")
def bitop(c, argv):
    op = copt(argv[1])
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise CommandError(E.SYNTAX)
    if op == b"NOT" and len(argv) != 4:
        raise CommandError("BITOP NOT must be called with a single source key.")
    db = c.db
    sources = [string_or_none(db.get(key)) or b"" for key in argv[3:]]
    maxlen = max(len(s) for s in sources)
    key = argv[2]
    if maxlen:
        # Shorter strings are zero-padded on the right.
        ints = [int.from_bytes(s, "big") << ((maxlen - len(s)) * 8) for s in sources]
        acc = ints[0]
        if op == b"NOT":
            acc ^= (1 << (maxlen * 8)) - 1
        elif op == b"AND":
            for n in ints[1:]:
                acc &= n
        elif op == b"OR":
            for n in ints[1:]:
                acc |= n
        else:
            for n in ints[1:]:
                acc ^= n
        set_key(db, key, bytearray(acc.to_bytes(maxlen, "big")))
        notify(c, key, "set")
    elif db.delete(key):
        notify(c, key, "del", "g")
    return enc.integer(maxlen)


# -- BITFIELD ------------------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW_WORDS = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}
_TYPE_ERROR = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."


def bitfield_type(arg: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: (signed, bits); i1..i64 or u1..u63, lower-case sign."""
    sign = arg[:1]
    if sign != b"i" and sign != b"u":
        raise CommandError(_TYPE_ERROR)
    digits = arg[1:]
    if b"\0" in digits:
        digits = digits[: digits.index(b"\0")]
    bits = parse_int(digits)
    signed = sign == b"i"
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise CommandError(_TYPE_ERROR)
    return signed, bits


def _read_field(data, offset: int, bits: int) -> int:
    """The unsigned field at bit ``offset`` (bytes past the end read as zero)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    chunk = data[first : last + 1]
    n = int.from_bytes(chunk, "big") << ((last + 1 - first - len(chunk)) * 8)
    return (n >> ((last + 1) * 8 - offset - bits)) & ((1 << bits) - 1)


def _write_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    """Store the low ``bits`` bits of ``value`` at bit ``offset`` (buf is long enough)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    shift = (last + 1) * 8 - offset - bits
    mask = ((1 << bits) - 1) << shift
    n = int.from_bytes(buf[first : last + 1], "big")
    n = (n & ~mask) | ((value << shift) & mask)
    buf[first : last + 1] = n.to_bytes(last + 1 - first, "big")


def _to_signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def _unsigned_overflow(value: int, incr: int, bits: int, owtype: int):
    """checkUnsignedBitfieldOverflow: (overflowed, limit). ``value`` is a uint64."""
    fmax = (1 << bits) - 1
    maxincr = _s64(fmax - value)
    minincr = _s64(-value)
    if value > fmax or (incr > 0 and incr > maxincr):
        limit = fmax
    elif incr < 0 and incr < minincr:
        limit = 0
    else:
        return False, 0
    if owtype == _WRAP:
        limit = (value + incr) & fmax
    return True, limit


def _signed_overflow(value: int, incr: int, bits: int, owtype: int):
    """checkSignedBitfieldOverflow: (overflowed, limit), with C's wrapping intermediates."""
    fmax = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    fmin = -fmax - 1
    maxincr = _s64(fmax - value)
    minincr = _s64(fmin - value)
    if value > fmax or (bits != 64 and incr > maxincr) or (value >= 0 and incr > 0 and incr > maxincr):
        limit = fmax
    elif value < fmin or (bits != 64 and incr < minincr) or (value < 0 and incr < 0 and incr < minincr):
        limit = fmin
    else:
        return False, 0
    if owtype == _WRAP:
        u = (value + incr) & _U64
        if bits < 64:
            u = u | (_U64 << bits) & _U64 if u >> (bits - 1) & 1 else u & ((1 << bits) - 1)
        limit = _s64(u)
    return True, limit


def _parse_bitfield(c, argv):
    """The operations, validated before anything runs: (ops, readonly, highest written bit)."""
    ops = []
    owtype = _WRAP
    readonly = True
    highest = 0
    n = len(argv)
    j = 2
    while j < n:
        remaining = n - j - 1
        sub = copt(argv[j])
        if sub == b"GET" and remaining >= 2:
            opcode = _GET
        elif sub == b"SET" and remaining >= 3:
            opcode = _SET
        elif sub == b"INCRBY" and remaining >= 3:
            opcode = _INCRBY
        elif sub == b"OVERFLOW" and remaining >= 1:
            owtype = _OVERFLOW_WORDS.get(copt(argv[j + 1]))
            if owtype is None:
                raise CommandError("Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(E.SYNTAX)
        signed, bits = bitfield_type(argv[j + 1])
        offset = bit_offset(c, argv[j + 2], True, bits)
        arg = 0
        if opcode != _GET:
            readonly = False
            highest = max(highest, offset + bits - 1)
            arg = to_int(argv[j + 3])
            j += 4
        else:
            j += 3
        ops.append((opcode, offset, bits, signed, owtype, arg))
    return ops, readonly, highest


def _bitfield(c, argv, ro: bool) -> bytes:
    ops, readonly, highest = _parse_bitfield(c, argv)
    key = argv[1]
    db = c.db
    if readonly:
        data = string_or_none(db.get(key)) or b""
        buf, dirty, created = None, False, False
    else:
        if ro:
            raise CommandError("BITFIELD_RO only supports the GET subcommand")
        buf, dirty, created = _grow_for_write(c, key, highest)
        data = buf
    out = [b"*%d\r\n" % len(ops)]
    changes = 0
    null = c.proto.null
    for opcode, offset, bits, signed, owtype, arg in ops:
        old = _read_field(data, offset, bits)
        if opcode == _GET:
            out.append(enc.integer(_to_signed(old, bits) if signed else old))
            continue
        if signed:
            old = _to_signed(old, bits)
            if opcode == _INCRBY:
                overflow, limit = _signed_overflow(old, arg, bits, owtype)
                new = limit if overflow else old + arg
                ret = new
            else:
                overflow, limit = _signed_overflow(arg, 0, bits, owtype)
                new = limit if overflow else arg
                ret = old
        else:
            if opcode == _INCRBY:
                overflow, limit = _unsigned_overflow(old, arg, bits, owtype)
                new = limit if overflow else (old + arg) & _U64
                ret = new
            else:
                value = arg & _U64
                overflow, limit = _unsigned_overflow(value, 0, bits, owtype)
                new = limit if overflow else value
                ret = old
        if overflow and owtype == _FAIL:
            out.append(null)
            continue
        out.append(enc.integer(ret))
        _write_field(buf, offset, bits, new & _U64)
        if dirty or old != new:
            changes += 1
    if changes:
        if created:
            db.set(key, buf)
        else:
            c.node.key_modified(db, key)
        c.node.dirty += changes - 1  # the signal above counted one
        notify(c, key, "setbit")
    elif created:
        # Every write failed (OVERFLOW FAIL): Redis still creates the zeroed key, but counts
        # no change, so it is neither signalled nor propagated.
        db.add_unsignalled(key, buf)
    return b"".join(out)


@command("bitfield")
def bitfield(c, argv):
    return _bitfield(c, argv, False)


@command("bitfield_ro")
def bitfield_ro(c, argv):
    return _bitfield(c, argv, True)
