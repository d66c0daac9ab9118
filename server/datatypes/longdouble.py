"""C ``long double`` arithmetic as Redis 7.0 does it for INCRBYFLOAT (and HINCRBYFLOAT).

Design note
-----------
Redis parses both operands with ``strtold``, adds them in ``long double`` and prints the sum
with ``%.17Lf`` before stripping trailing zeros (util.c ``string2ld`` / ``ld2string`` in
LD_STR_HUMAN mode). On x86-64 Linux a ``long double`` is the x87 80-bit extended format: a
64-bit mantissa, exponents down to 2**-16382 (subnormals to 2**-16445) and up to 2**16384.
``SET k 10.5; INCRBYFLOAT k 0.1`` answers ``10.6`` only because of that extra precision.

We reproduce it exactly, without numpy, with integers: a finite value is a pair ``(m, e)``
meaning ``m * 2**e`` (``m`` a signed int). Every step that C rounds is rounded here the same
way, to nearest with ties to even:

* ``parse`` is ``strtold`` (decimal and hexadecimal floats, ``inf``/``infinity``; NaN is
  refused) with ``string2ld``'s extra rules: the whole string must be consumed (so an
  embedded NUL or surrounding space is an error), at most 5119 bytes, and results that
  overflow or underflow to zero (ERANGE) are refused. Subnormal results are accepted.
* ``add`` adds exactly, then rounds once to the extended format (the FPU does the same).
* ``format_human`` prints the exact binary value to 17 decimals rounding half to even (as
  glibc's printf does), strips trailing zeros and turns ``-0`` into ``0``.

Infinities are ``INF`` / ``-INF`` (floats); they only come from the literal text ``inf``.
"""

from __future__ import annotations

import math
import re

#: Exponent of the smallest subnormal: values are m * 2**e with e >= EMIN.
EMIN = -16445
#: Mantissa bits of the x87 extended format.
MANT_BITS = 64
#: A value overflows when |m| * 2**e >= 2**EMAX_BITS.
EMAX_BITS = 16384
#: string2ld's buffer (MAX_LONG_DOUBLE_CHARS): longer inputs are refused.
MAX_CHARS = 5 * 1024

INF = math.inf

_DEC = re.compile(rb"([+-]?)(?:([0-9]*)(?:\.([0-9]*))?)(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")
_INF = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)

# Decimal exponents beyond which a non-zero value surely overflows / underflows to zero
# (the largest extended value is ~1.19e4932, half the smallest subnormal ~1.82e-4951).
_DEC_TOO_BIG = 4934
_DEC_TOO_SMALL = -4952


class Overflow(Exception):
    """The exact result does not fit in a long double (strtold's ERANGE to infinity)."""


def _round(m: int, e: int):
    """Round m * 2**e (exact) to the extended format: (m, e), or raise Overflow."""
    if m == 0:
        return 0, 0
    neg = m < 0
    a = -m if neg else m
    shift = a.bit_length() - MANT_BITS
    if EMIN - e > shift:
        shift = EMIN - e
    if shift > 0:
        if shift > a.bit_length():
            return 0, 0  # below half of the smallest subnormal
        q = a >> shift
        rem = a - (q << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        a = q
        e += shift
        if a.bit_length() > MANT_BITS:
            a >>= 1
            e += 1
    if a and a.bit_length() + e > EMAX_BITS:
        raise Overflow
    return (-a if neg else a), e


def _round_ratio(neg: bool, num: int, den: int):
    """Round num/den (num, den > 0) to the extended format."""
    e = num.bit_length() - den.bit_length() - (MANT_BITS + 1)
    if e < EMIN:
        e = EMIN
    # q = floor(num / (den * 2**e)) carries at least 65 significant bits (or the subnormal
    # range); the remainder keeps the rest exactly, so rounding q once is correct.
    if e >= 0:
        q, r = divmod(num, den << e)
        d = den << e
    else:
        q, r = divmod(num << -e, den)
        d = den
    extra = q.bit_length() - MANT_BITS  # <= 0 only when e was clamped (subnormal results)
    if extra > 0:
        low = q & ((1 << extra) - 1)
        q >>= extra
        e += extra
        half = 1 << (extra - 1)
        # Compare low + r/d against half: the remainder is a sticky part below low.
        if low > half or (low == half and (r or q & 1)):
            q += 1
    elif r * 2 > d or (r * 2 == d and q & 1):
        q += 1
    if q.bit_length() > MANT_BITS:
        q >>= 1
        e += 1
    if q and q.bit_length() + e > EMAX_BITS:
        raise Overflow
    return (-q if neg else q), e


def parse(text: bytes):
    """``string2ld``: the value as (m, e) or +-INF, or None if Redis refuses the text."""
    n = len(text)
    if n == 0 or n >= MAX_CHARS:
        return None
    m = _DEC.fullmatch(text)
    base = 10
    if m is None:
        m = _HEX.fullmatch(text)
        base = 16
        if m is None:
            m = _INF.fullmatch(text)
            if m is not None:
                return -INF if m.group(1) == b"-" else INF
            return None  # NaN, garbage, spaces, NUL bytes...
    intpart, frac = m.group(2), m.group(3) or b""
    if not intpart and not frac:
        return None  # no digits at all: strtold converts nothing ("", ".", "0x")
    neg = m.group(1) == b"-"
    digits = (intpart + frac).lstrip(b"0")
    if not digits:
        return 0, 0  # zero, whatever the exponent
    exp = _exponent(m.group(4))
    try:
        if base == 16:
            mant = int(digits, 16)
            result = _round(-mant if neg else mant, exp - 4 * len(frac))
        else:
            result = _from_decimal(neg, digits, exp - len(frac))
    except Overflow:
        return None  # ERANGE to infinity
    if result is None or result[0] == 0:
        return None  # ERANGE: a non-zero text that rounds to zero
    return result


def _exponent(text: bytes | None) -> int:
    """The exponent digits, clamped far beyond any meaningful range (texts can be long)."""
    if text is None:
        return 0
    neg = text[:1] == b"-"
    digits = text.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 12:
        return -(10**12) if neg else 10**12
    v = int(digits or b"0")
    return -v if neg else v


def _from_decimal(neg: bool, digits: bytes, e10: int):
    """digits (no leading zeros) * 10**e10, correctly rounded; None when it surely underflows."""
    magnitude = len(digits) + e10  # 10**(magnitude-1) <= value < 10**magnitude
    if magnitude > _DEC_TOO_BIG:
        raise Overflow
    if magnitude < _DEC_TOO_SMALL:
        return None
    mant = _int_from_digits(digits)
    if e10 >= 0:
        mant *= 10**e10
        return _round(-mant if neg else mant, 0)
    return _round_ratio(neg, mant, 10**-e10)


# Python refuses int <-> decimal text conversions past 4300 digits (CVE-2020-10735); values
# here reach ~4950 digits, so long ones are converted in chunks.
_CHUNK_DIGITS = 3000
_CHUNK = 10**_CHUNK_DIGITS


def _int_from_digits(digits: bytes) -> int:
    if len(digits) <= _CHUNK_DIGITS:
        return int(digits)
    head, tail = digits[:-_CHUNK_DIGITS], digits[-_CHUNK_DIGITS:]
    return _int_from_digits(head) * _CHUNK + int(tail)


def _digits_of(n: int) -> bytes:
    if n < _CHUNK:
        return b"%d" % n
    hi, lo = divmod(n, _CHUNK)
    return _digits_of(hi) + b"%0*d" % (_CHUNK_DIGITS, lo)


def add(a, b):
    """a + b rounded to the extended format; +-INF or NaN (None) when not finite."""
    if a.__class__ is float or b.__class__ is float:
        if a.__class__ is float and b.__class__ is float and a != b:
            return None  # inf - inf
        return a if a.__class__ is float else b
    (ma, ea), (mb, eb) = a, b
    if ma == 0:
        return b
    if mb == 0:
        return a
    if ea > eb:
        ma <<= ea - eb
        ea = eb
    elif eb > ea:
        mb <<= eb - ea
    try:
        return _round(ma + mb, ea)
    except Overflow:
        return INF if ma + mb > 0 else -INF


def is_finite(v) -> bool:
    return v is not None and v.__class__ is not float


def format_human(v) -> bytes:
    """``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` without trailing zeros, never ``-0``."""
    if v.__class__ is float:
        return b"inf" if v > 0 else b"-inf"
    m, e = v
    neg = m < 0
    a = -m if neg else m
    scaled = a * 10**17
    if e >= 0:
        n = scaled << e
    else:
        q = scaled >> -e
        rem = scaled - (q << -e)
        half = 1 << (-e - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
        n = q
    digits = _digits_of(n).rjust(18, b"0")
    text = digits[:-17] + b"." + digits[-17:]
    text = text.rstrip(b"0")
    if text.endswith(b"."):
        text = text[:-1]
    if neg and text != b"0":
        return b"-" + text
    return text
