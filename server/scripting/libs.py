"""The C libraries Redis bundles with Lua, reimplemented: bit (LuaBitOp 1.0), cmsgpack
(lua_cmsgpack 0.4) and struct (Roberto Ierusalimschy's struct).

Design note
-----------
(cjson lives in the prelude, in Lua, where walking tables in ``next`` order is natural.)
Each function here is called from a Lua wrapper with the Lua arguments (strings as
``bytes``, numbers as ``int``/``float``, tables as lupa tables) and answers
``(True, n, v1..vn)`` or ``(False, message)``; the wrapper raises the message at the
caller's level, which gives ``user_script:N:`` positions like ``luaL_error``. Tables to
return are built with ``lua.table_from`` through ``Tables`` (set per engine).
"""

from __future__ import annotations

import math
import struct as _struct

LLONG_MIN = -(1 << 63)


def _type_name(v) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, bytes):
        return "string"
    return getattr(v, "lua_type_name", None) or _lupa_type(v)


def _lupa_type(v) -> str:
    from lupa import lua51

    return lua51.lua_type(v) or "userdata"


def _number(v):
    """lua_tonumber: numbers, and strings that convert (luaO_str2d)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, bytes):
        s = v.strip()
        try:
            if s[:2].lower() in (b"0x",) or s[:3].lower() in (b"-0x", b"+0x"):
                return float(int(s, 16))
            return float(s)
        except ValueError:
            return None
    return None


class ArgError(Exception):
    pass


def _check_number(fname: str, args: tuple, i: int):
    v = args[i - 1] if i <= len(args) else None
    n = _number(v)
    if n is None:
        got = "no value" if i > len(args) else _type_name(v)
        raise ArgError(f"bad argument #{i} to '{fname}' (number expected, got {got})")
    return n


def _guard(fname, fn):
    def call(*args):
        try:
            out = fn(*args)
        except ArgError as exc:
            return False, str(exc).encode()
        return (True, len(out), *out)

    return call


# -- bit --------------------------------------------------------------------------------------


def _tobit_raw(n) -> int:
    """LuaBitOp's barg: (UBits)(n + 2^52 + 2^51), the low 32 bits of n rounded to nearest."""
    if isinstance(n, int) and abs(n) < (1 << 51):
        return n & 0xFFFFFFFF
    x = float(n) + 6755399441055744.0
    if math.isinf(x) or math.isnan(x):
        return 0
    return int(x) & 0xFFFFFFFF


def _signed(u: int) -> int:
    return u - (1 << 32) if u & 0x80000000 else u


def _bits(fname, args, count=None):
    n = len(args) if count is None else count
    return [_tobit_raw(_check_number(fname, args, i)) for i in range(1, max(n, 1) + 1)]


def _fold(fname, op):
    def f(*args):
        vals = _bits(fname, args)
        acc = vals[0]
        for v in vals[1:]:
            acc = op(acc, v)
        return (_signed(acc),)

    return f


def _shift(fname, op):
    def f(*args):
        a, b = _bits(fname, args, 2)
        return (_signed(op(a, b & 31) & 0xFFFFFFFF),)

    return f


def _tohex(*args):
    x = _tobit_raw(_check_number("tohex", args, 1))
    n = 8
    if len(args) > 1 and args[1] is not None:
        n = _tobit_raw(_check_number("tohex", args, 2))
        n = _signed(n)
    upper = n < 0
    if upper:
        n = -n
    if n > 8:
        n = 8
    if n == 0:
        return (b"",)
    if n < 8:
        x &= (1 << (4 * n)) - 1
    return ((b"%0*X" if upper else b"%0*x") % (n, x),)


def _bswap(*args):
    (x,) = _bits("bswap", args, 1)
    return (_signed(int.from_bytes(x.to_bytes(4, "little"), "big")),)


BIT = {
    b"tobit": lambda *a: (_signed(_bits("tobit", a, 1)[0]),),
    b"bnot": lambda *a: (_signed(~_bits("bnot", a, 1)[0] & 0xFFFFFFFF),),
    b"band": _fold("band", lambda a, b: a & b),
    b"bor": _fold("bor", lambda a, b: a | b),
    b"bxor": _fold("bxor", lambda a, b: a ^ b),
    b"lshift": _shift("lshift", lambda a, b: a << b),
    b"rshift": _shift("rshift", lambda a, b: a >> b),
    b"arshift": _shift("arshift", lambda a, b: _signed(a) >> b),
    b"rol": _shift("rol", lambda a, b: (a << b) | (a >> (32 - b)) if b else a),
    b"ror": _shift("ror", lambda a, b: (a >> b) | (a << (32 - b)) if b else a),
    b"bswap": _bswap,
    b"tohex": _tohex,
}


# -- cmsgpack -----------------------------------------------------------------------------------

_MAX_NESTING = 16


def _is_table(v) -> bool:
    from lupa import lua51

    return lua51.lua_type(v) == "table"


class Tables:
    """How Python builds Lua tables (the running engine's ``table_from``, set per run)."""

    table_from = None
    is_table = staticmethod(_is_table)


def _is_int64(n: float) -> bool:
    return not math.isinf(n) and not math.isnan(n) and -(2.0**63) <= n < 2.0**63 and int(n) == n


def _mp_int(n: int) -> bytes:
    if n >= 0:
        if n <= 127:
            return bytes((n,))
        if n <= 0xFF:
            return b"\xcc" + bytes((n,))
        if n <= 0xFFFF:
            return b"\xcd" + n.to_bytes(2, "big")
        if n <= 0xFFFFFFFF:
            return b"\xce" + n.to_bytes(4, "big")
        return b"\xcf" + n.to_bytes(8, "big")
    if n >= -32:
        return bytes((n & 0xFF,))
    if n >= -128:
        return b"\xd0" + n.to_bytes(1, "big", signed=True)
    if n >= -32768:
        return b"\xd1" + n.to_bytes(2, "big", signed=True)
    if n >= -2147483648:
        return b"\xd2" + n.to_bytes(4, "big", signed=True)
    return b"\xd3" + n.to_bytes(8, "big", signed=True)


def _mp_number(n) -> bytes:
    if isinstance(n, int) and -(1 << 63) <= n < (1 << 63):
        return _mp_int(n)
    n = float(n)
    if _is_int64(n):
        return _mp_int(int(n))
    try:
        f = _struct.unpack(">f", _struct.pack(">f", n))[0]
    except OverflowError:
        f = None
    if f is not None and (f == n or (math.isnan(f) and math.isnan(n))):
        return b"\xca" + _struct.pack(">f", n)
    return b"\xcb" + _struct.pack(">d", n)


def _mp_bytes(s: bytes) -> bytes:
    n = len(s)
    if n < 32:
        return bytes((0xA0 | n,)) + s
    if n <= 0xFF:
        return b"\xd9" + bytes((n,)) + s
    if n <= 0xFFFF:
        return b"\xda" + n.to_bytes(2, "big") + s
    return b"\xdb" + n.to_bytes(4, "big") + s


def _mp_encode(v, out: list, level: int) -> None:
    if v is None or v.__class__ is bool:
        out.append(b"\xc0" if v is None else (b"\xc3" if v else b"\xc2"))
    elif isinstance(v, bytes):
        out.append(_mp_bytes(v))
    elif isinstance(v, (int, float)):
        out.append(_mp_number(v))
    elif Tables.is_table(v):
        if level == _MAX_NESTING:
            out.append(b"\xc0")
            return
        items = list(v.items())
        count, top = 0, 0
        array = True
        for k, _ in items:
            if isinstance(k, bool) or not isinstance(k, (int, float)) or k <= 0 or int(k) != k:
                array = False
                break
            top = max(top, int(k))
            count += 1
        if array and top == count:
            n = len(items)
            out.append(_mp_header(n, 0x90, b"\xdc", b"\xdd"))
            for j in range(1, n + 1):
                _mp_encode(v[j], out, level + 1)
        else:
            out.append(_mp_header(len(items), 0x80, b"\xde", b"\xdf"))
            for k, val in items:
                _mp_encode(k, out, level + 1)
                _mp_encode(val, out, level + 1)
    else:
        out.append(b"\xc0")


def _mp_header(n: int, fix: int, h16: bytes, h32: bytes) -> bytes:
    if n <= 15:
        return bytes((fix | n,))
    if n <= 0xFFFF:
        return h16 + n.to_bytes(2, "big")
    return h32 + n.to_bytes(4, "big")


def _mp_pack(*args):
    if not args:
        raise ArgError("bad argument #0 to 'pack' (MessagePack pack needs input.)")
    out: list[bytes] = []
    for a in args:
        _mp_encode(a, out, 0)
    return (b"".join(out),)


class _Eof(Exception):
    pass


class _BadFormat(Exception):
    pass


def _mp_decode(data: bytes, pos: int):
    def need(n):
        if pos + n > len(data):
            raise _Eof
        return data[pos : pos + n]

    b = need(1)[0]
    pos += 1
    if b <= 0x7F:
        return b, pos
    if b >= 0xE0:
        return b - 256, pos
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return need(n), pos + n
    if 0x90 <= b <= 0x9F:
        return _mp_array(data, pos, b & 0x0F)
    if 0x80 <= b <= 0x8F:
        return _mp_map(data, pos, b & 0x0F)
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    fixed = {0xCC: (1, False), 0xCD: (2, False), 0xCE: (4, False), 0xCF: (8, False),
             0xD0: (1, True), 0xD1: (2, True), 0xD2: (4, True), 0xD3: (8, True)}
    if b in fixed:
        size, signed = fixed[b]
        v = int.from_bytes(need(size), "big", signed=signed)
        return (float(v) if abs(v) >= 1 << 53 else v), pos + size
    if b == 0xCA:
        return _struct.unpack(">f", need(4))[0], pos + 4
    if b == 0xCB:
        return _struct.unpack(">d", need(8))[0], pos + 8
    sized = {0xD9: 1, 0xDA: 2, 0xDB: 4, 0xC4: 1, 0xC5: 2, 0xC6: 4}
    if b in sized:
        size = sized[b]
        n = int.from_bytes(need(size), "big")
        pos += size
        if pos + n > len(data):
            raise _Eof
        return data[pos : pos + n], pos + n
    if b in (0xDC, 0xDD, 0xDE, 0xDF):
        size = 2 if b in (0xDC, 0xDE) else 4
        n = int.from_bytes(need(size), "big")
        if b in (0xDC, 0xDD):
            return _mp_array(data, pos + size, n)
        return _mp_map(data, pos + size, n)
    raise _BadFormat


def _mp_array(data, pos, n):
    items = []
    for _ in range(n):
        v, pos = _mp_decode(data, pos)
        items.append(v)
    t = Tables.table_from({})
    for i, v in enumerate(items, 1):
        if v is not None:
            t[i] = v
    return t, pos


def _mp_map(data, pos, n):
    t = Tables.table_from({})
    for _ in range(n):
        k, pos = _mp_decode(data, pos)
        v, pos = _mp_decode(data, pos)
        if k is not None and v is not None:
            t[k] = v
    return t, pos


def _mp_unpack_full(fname, args, limit, offset):
    s = args[0] if args else None
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        s = (b"%.14g" % s)
    if not isinstance(s, bytes):
        raise ArgError(f"bad argument #1 to '{fname}' (string expected, got {_type_name(s) if args else 'no value'})")
    decode_all = not limit and not offset
    if offset < 0 or limit < 0:
        raise ArgError(f"Invalid request to unpack with offset of {offset} and limit of {len(s)}.")
    if offset > len(s):
        raise ArgError(f"Start offset {offset} greater than input length {len(s)}.")
    if decode_all:
        limit = 1 << 31
    pos, out = offset, []
    while pos < len(s) and len(out) < limit:
        try:
            v, pos = _mp_decode(s, pos)
        except _Eof:
            raise ArgError("Missing bytes in input.") from None
        except _BadFormat:
            raise ArgError("Bad data format in input.") from None
        out.append(v)
    if not decode_all:
        out.insert(0, -1 if pos >= len(s) else pos)
    return tuple(out)


def _opt_int(fname, args, i, default=0):
    if len(args) < i or args[i - 1] is None:
        return default
    n = _check_number(fname, args, i)
    return int(n)


CMSGPACK = {
    b"pack": _mp_pack,
    b"unpack": lambda *a: _mp_unpack_full("unpack", a, 0, 0),
    b"unpack_one": lambda *a: _mp_unpack_full("unpack_one", a, 1, _opt_int("unpack_one", a, 2)),
    b"unpack_limit": lambda *a: _mp_unpack_full(
        "unpack_limit", a, int(_check_number("unpack_limit", a, 2)), _opt_int("unpack_limit", a, 3)
    ),
}


# -- struct -------------------------------------------------------------------------------------

_MAXINTSIZE = 32
_NATIVE_ALIGN = 8


def _struct_options(fname, fmt: bytes):
    """Yield (option, size) after handling endianness and alignment directives."""
    i, n = 0, len(fmt)
    state = {"little": True, "align": 1}
    while i < n:
        opt = chr(fmt[i])
        i += 1
        num = None
        j = i
        while j < n and 48 <= fmt[j] <= 57:
            j += 1
        if j > i:
            num = int(fmt[i:j])
        if opt in "<>=!":
            if opt == "<" or opt == "=":
                state["little"] = True
            elif opt == ">":
                state["little"] = False
            else:
                state["align"] = num if num is not None else _NATIVE_ALIGN
                i = j
                if state["align"] & (state["align"] - 1):
                    raise ArgError(f"bad argument #1 to '{fname}' (alignment {state['align']} is not a power of 2)")
            yield opt, 0, state
            continue
        if opt == " ":
            continue
        size = {"x": 1, "b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "s": 0}.get(opt)
        if opt in "iI":
            size = num if num is not None else 4
            i = j
            if size > _MAXINTSIZE:
                raise ArgError(f"bad argument #1 to '{fname}' (integral size {size} is larger than limit of {_MAXINTSIZE})")
        elif opt == "c":
            size = num if num is not None else 1
            i = j
            if num == 0:
                size = -1
        elif size is None:
            raise ArgError(f"bad argument #1 to '{fname}' (invalid format option '{opt}')")
        yield opt, size, state


def _align(total: int, size: int, state) -> int:
    align = min(size, state["align"])
    if align > 1 and size > 0 and total % align:
        total += align - total % align
    return total


def _struct_pack(*args):
    fmt = args[0] if args else None
    if not isinstance(fmt, bytes):
        raise ArgError(f"bad argument #1 to 'pack' (string expected, got {_type_name(fmt) if args else 'no value'})")
    out = bytearray()
    arg = 1
    for opt, size, state in _struct_options("pack", fmt):
        if opt in "<>=!":
            continue
        if opt not in "cs" and opt != "x":
            pad = _align(len(out), size, state) - len(out)
            out += b"\0" * pad
        if opt == "x":
            out += b"\0"
            continue
        arg += 1
        if opt in "bBhHlLTiI":
            v = _check_number("pack", args, arg)
            v = int(v) if not isinstance(v, float) or not math.isnan(v) else 0
            v &= (1 << (8 * size)) - 1
            out += v.to_bytes(size, "little" if state["little"] else "big")
        elif opt in "fd":
            v = float(_check_number("pack", args, arg))
            code = ("<" if state["little"] else ">") + opt
            out += _struct.pack(code, v)
        elif opt == "c" or opt == "s":
            s = args[arg - 1] if arg <= len(args) else None
            if isinstance(s, (int, float)) and not isinstance(s, bool):
                s = b"%.14g" % s
            if not isinstance(s, bytes):
                got = "no value" if arg > len(args) else _type_name(s)
                raise ArgError(f"bad argument #{arg} to 'pack' (string expected, got {got})")
            if opt == "s":
                out += s + b"\0"
            else:
                if size == -1:
                    size = len(s)
                if len(s) < size:
                    raise ArgError(f"bad argument #{arg + 1} to 'pack' (string too short)")
                out += s[:size]
    return (bytes(out),)


def _struct_unpack(*args):
    fmt = args[0] if args else None
    data = args[1] if len(args) > 1 else None
    if not isinstance(fmt, bytes):
        raise ArgError("bad argument #1 to 'unpack' (string expected, got %s)" % (_type_name(fmt) if args else "no value"))
    if not isinstance(data, bytes):
        raise ArgError("bad argument #2 to 'unpack' (string expected, got %s)" % (_type_name(data) if len(args) > 1 else "no value"))
    pos = int(_opt_int("unpack", args, 3, 1)) - 1
    if pos < 0:
        pos = 0
    out = []
    prev = None
    for opt, size, state in _struct_options("unpack", fmt):
        if opt in "<>=!":
            continue
        if opt not in "cs" and opt != "x":
            pos = _align(pos, size, state)
        if opt == "x":
            pos += 1
            continue
        if opt == "c" and size == -1:
            if prev is None or not isinstance(prev, (int, float)):
                raise ArgError("format 'c0' needs a previous size")
            size = int(out.pop())
        if opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise ArgError("bad argument #2 to 'unpack' (unfinished string in data)")
            out.append(data[pos:end])
            pos = end + 1
            prev = out[-1]
            continue
        if pos + size > len(data):
            raise ArgError("bad argument #2 to 'unpack' (data string too short)")
        chunk = data[pos : pos + size]
        pos += size
        order = "little" if state["little"] else "big"
        if opt in "bhliT" or opt == "i":
            v = int.from_bytes(chunk, order, signed=True)
        elif opt in "BHLI":
            v = int.from_bytes(chunk, order, signed=False)
        elif opt in "fd":
            v = _struct.unpack(("<" if state["little"] else ">") + opt, chunk)[0]
        else:
            v = chunk
        if isinstance(v, int) and abs(v) >= 1 << 53:
            v = float(v)
        out.append(v)
        prev = v
    out.append(pos + 1)
    return tuple(out)


def _struct_size(*args):
    fmt = args[0] if args else None
    if not isinstance(fmt, bytes):
        raise ArgError("bad argument #1 to 'size' (string expected, got %s)" % (_type_name(fmt) if args else "no value"))
    total = 0
    for opt, size, state in _struct_options("size", fmt):
        if opt in "<>=!":
            continue
        if opt == "s" or (opt == "c" and size == -1):
            raise ArgError("bad argument #1 to 'size' (options 'c0' - 's' have undefined sizes)")
        if opt not in "c" and opt != "x":
            total = _align(total, size, state)
        total += size
    return (total,)


STRUCT = {b"pack": _struct_pack, b"unpack": _struct_unpack, b"size": _struct_size}

#: name -> {function name -> callable returning (True, n, values...) or (False, message)}
LIBRARIES = {
    name: {k: _guard(k.decode(), f) for k, f in funcs.items()}
    for name, funcs in ((b"bit", BIT), (b"cmsgpack", CMSGPACK), (b"struct", STRUCT))
}
