"""LZF, the compression of RDB strings (Redis's lzf_c.c / lzf_d.c, liblzf 3.6).

Design note
-----------
An LZF stream is a sequence of items, each starting with a control byte ``c``:

* ``c < 32``: a literal run, the next ``c + 1`` bytes are copied as they are;
* otherwise a back reference: length ``c >> 5`` (7 means "add the next byte"), plus 2,
  copied from ``((c & 0x1f) << 8) + next byte + 1`` bytes back in the output. The source
  may overlap the destination (a run of one byte repeated), so such copies go byte by byte.

``compress`` and ``decompress`` use the ``python-lzf`` C extension (liblzf itself, the same
code Redis ships) when it is installed, and the Python code here otherwise. The Python
compressor is a greedy matcher over 3-byte prefixes: any valid stream decodes the same, so
it need not produce the exact bytes liblzf would. ``compress_pure`` / ``decompress_pure``
stay importable for the tests.
"""

from __future__ import annotations


class LzfError(ValueError):
    """A compressed string that does not decode to its announced length."""


#: Longest back reference: 7 + 255 + 2 bytes; farthest: 8192 bytes back.
_MAX_REF_LEN = 264
_MAX_DISTANCE = 8192
_MAX_LITERAL = 32
#: A stream cannot expand more than this (a 2-byte back reference yields up to 8 bytes, a 3-byte
#: one up to 264): a larger announced length is corrupt, not a reason to allocate it.
_MAX_RATIO = 133


def _plausible(data, out_len: int) -> bool:
    return out_len <= len(data) * _MAX_RATIO


def decompress_pure(data, out_len: int) -> bytes:
    if out_len == 0:
        return b""  # lzf_decompress into no room "succeeds" with 0 bytes, and Redis takes it
    if not _plausible(data, out_len):
        raise LzfError("Invalid LZF compressed string")
    src = bytes(data)
    n = len(src)
    out = bytearray()
    i = 0
    try:
        while i < n:
            ctrl = src[i]
            i += 1
            if ctrl < 32:
                run = ctrl + 1
                if i + run > n:
                    raise LzfError("literal run past the end of the input")
                out += src[i : i + run]
                i += run
                continue
            length = ctrl >> 5
            if length == 7:
                length += src[i]
                i += 1
            ref = len(out) - ((ctrl & 0x1F) << 8) - src[i] - 1
            i += 1
            length += 2
            if ref < 0:
                raise LzfError("back reference before the start of the output")
            if ref + length <= len(out):
                out += out[ref : ref + length]
            else:
                for k in range(length):
                    out.append(out[ref + k])
            if len(out) > out_len:
                break
    except IndexError:
        raise LzfError("truncated compressed string") from None
    if len(out) != out_len:
        raise LzfError("Invalid LZF compressed string")
    return bytes(out)


def compress_pure(data, max_len: int) -> bytes | None:
    """An LZF stream for ``data``, or None if it would be longer than ``max_len``."""
    src = bytes(data)
    n = len(src)
    out = bytearray()
    table: dict[bytes, int] = {}
    lit = i = 0

    def literals(start: int, end: int) -> None:
        while start < end:
            chunk = src[start : min(end, start + _MAX_LITERAL)]
            out.append(len(chunk) - 1)
            out.extend(chunk)
            start += len(chunk)

    while i < n - 2:
        key = src[i : i + 3]
        ref = table.get(key)
        table[key] = i
        if ref is None or i - ref > _MAX_DISTANCE:
            i += 1
            continue
        limit = min(_MAX_REF_LEN, n - i)
        length = 3
        while length < limit and src[ref + length] == src[i + length]:
            length += 1
        literals(lit, i)
        off = i - ref - 1
        code = length - 2
        if code < 7:
            out.append((code << 5) | (off >> 8))
        else:
            out.append((7 << 5) | (off >> 8))
            out.append(code - 7)
        out.append(off & 0xFF)
        if len(out) > max_len:
            return None
        i += length
        lit = i
    literals(lit, n)
    return bytes(out) if len(out) <= max_len else None


try:
    import lzf as _lzf

    def compress(data, max_len: int) -> bytes | None:
        """LZF of ``data`` if it fits in ``max_len`` bytes, else None."""
        return _lzf.compress(data if data.__class__ is bytes else bytes(data), max_len)

    def decompress(data, out_len: int) -> bytes:
        """Decode ``data``, which must expand to exactly ``out_len`` bytes."""
        if out_len == 0:
            return b""  # as decompress_pure
        if not _plausible(data, out_len):
            raise LzfError("Invalid LZF compressed string")
        try:
            out = _lzf.decompress(data if data.__class__ is bytes else bytes(data), out_len)
        except ValueError:
            raise LzfError("Invalid LZF compressed string") from None
        if out is None or len(out) != out_len:
            raise LzfError("Invalid LZF compressed string")
        return out

    NATIVE = True
except ImportError:  # pragma: no cover - exercised only where python-lzf is missing
    compress = compress_pure
    decompress = decompress_pure
    NATIVE = False
