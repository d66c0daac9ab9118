"""Argument conversion with Redis's exact rules and errors, written once.

Redis converts arguments with ``string2ll`` (strict integers: optional '-', no '+', no
leading zeros, no spaces, signed 64-bit) and ``strtod``/``strtold`` (C float syntax, with
overflow, underflow and NaN refused). Python's ``int()`` and ``float()`` accept more
(``" 1"``, ``"1_0"``, ``"+1"``, ``"1e999"`` as inf), so every command goes through these.
"""

from __future__ import annotations

import math
import re

from .. import errors as E
from ..errors import CommandError

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


def parse_int(b: bytes) -> int | None:
    """``string2ll``: the integer, or None if ``b`` is not a strict signed 64-bit integer."""
    if b.isdigit():
        # Fast path: plain non-negative digits.
        if (b[0] != 48 or len(b) == 1) and len(b) <= 19:
            v = int(b)
            return v if v <= LLONG_MAX else None
        if b[0] == 48:
            return None
    n = len(b)
    if n == 0 or n > 20:
        return None
    digits = b[1:] if b[0] == 45 else b
    if not digits or not digits.isdigit() or (digits[0] == 48):
        return None
    v = int(b)
    if v < LLONG_MIN or v > LLONG_MAX:
        return None
    return v


def to_int(b: bytes, message: str = E.NOT_INTEGER) -> int:
    """A strict 64-bit integer argument, or CommandError(message)."""
    v = parse_int(b)
    if v is None:
        raise CommandError(message)
    return v


def to_nonneg_int(b: bytes, message: str = E.NOT_INTEGER, negative: str = E.OUT_OF_RANGE_POSITIVE) -> int:
    v = to_int(b, message)
    if v < 0:
        raise CommandError(negative)
    return v


def to_range_int(b: bytes, lo: int, hi: int, message: str) -> int:
    v = parse_int(b)
    if v is None or v < lo or v > hi:
        raise CommandError(message)
    return v


# -- floating point -------------------------------------------------------------------------

_DECIMAL = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
    rb"(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|"
    rb"(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)|"
    rb"(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?))"
)
_HAS_NONZERO = re.compile(rb"[1-9a-fA-F]")


def _mantissa_has_nonzero(text: bytes, is_hex: bool) -> bool:
    if is_hex:
        body = text.lstrip(b"+-")[2:].split(b"p")[0].split(b"P")[0]
    else:
        body = re.split(rb"[eE]", text)[0]
        body = re.sub(rb"[^0-9]", b"", body)
        return b"".join(body.split(b"0")) != b""
    return _HAS_NONZERO.search(body) is not None


def parse_double(b: bytes) -> float | None:
    """``strtod`` as Redis uses it (getDoubleFromObject): whole string, no NaN, no
    overflow to infinity or underflow to zero unless the text says so."""
    m = _DECIMAL.fullmatch(b)
    if m is None:
        return None
    if m.group("nan"):
        return None
    if m.group("inf"):
        return -math.inf if b[:1] == b"-" else math.inf
    if m.group("hex"):
        try:
            v = float.fromhex(b.decode())
        except OverflowError:
            return None
    else:
        v = float(b)
    if math.isinf(v):
        return None  # ERANGE overflow
    if v == 0.0 and _mantissa_has_nonzero(b, bool(m.group("hex"))):
        return None  # ERANGE underflow
    return v


def to_float(b: bytes, message: str = E.NOT_FLOAT) -> float:
    v = parse_double(b)
    if v is None:
        raise CommandError(message)
    return v


def format_human_double(value: float) -> bytes:
    """``%.17g`` (what Redis 7.0 uses for ordinary double replies)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value
