"""Hypothesis strategies for request streams.

- ``requests()``: argument vectors whose command is ECHO or PING, with arguments drawn from
  bytes that matter to the parsers (CR, LF, NUL, quotes, backslash, ``*``, ``$``, digits,
  RESP type bytes, high bytes);
- ``valid_streams()``: such requests, each written as multibulk or as an inline line
  (bare, double- or single-quoted), mixed with ``*0``, ``*-1`` and blank lines; returns
  the bytes and the requests they must parse to;
- ``mutated_streams()``: a valid stream with bytes inserted, deleted, replaced, cut short;
- ``garbage_streams()``: bytes biased towards the interesting ones;
- ``resp_streams()``: RESP2/RESP3 values of every type, nested, back to back.

No generated command can be anything but ECHO, PING, or an unknown name, so the streams are
safe to send to real servers.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.support.resp import encode_command

INTERESTING = b"\r\n\0\"' \t\\*$:+-_#,(!=%~>|0123456789x\x0b\x0c\xff"

interesting_bytes = st.sampled_from(list(INTERESTING)).map(lambda b: bytes([b]))
any_byte = st.binary(min_size=1, max_size=1)
payload = st.lists(st.one_of(interesting_bytes, interesting_bytes, any_byte), max_size=12).map(b"".join)

requests = st.one_of(
    st.tuples(st.sampled_from([b"ECHO", b"echo", b"EcHo"]), payload),
    st.tuples(st.sampled_from([b"PING", b"ping"])),
    st.tuples(st.just(b"PING"), payload),
    # Wrong arity, to see arity errors come back in the right place.
    st.tuples(st.just(b"ECHO"), payload, payload),
)

_BARE_FORBIDDEN = frozenset(b" \t\r\n\x0b\x0c\0\"'\\")
_PRINTABLE_IN_DQ = frozenset(range(0x20, 0x7F)) - frozenset(b'"\\')


def _double_quoted(arg: bytes, hex_all: bool) -> bytes:
    out = bytearray(b'"')
    for b in arg:
        if b in _PRINTABLE_IN_DQ and not hex_all:
            out.append(b)
        elif b == 10 and not hex_all:
            out += b"\\n"
        elif b == 34:
            out += b'\\"'
        elif b == 92:
            out += b"\\\\"
        else:
            out += b"\\x%02x" % b
    return bytes(out + b'"')


def _single_quoted(arg: bytes) -> bytes | None:
    if any(b in (10, 13, 0, 92) for b in arg):
        return None
    return b"'" + arg.replace(b"'", b"\\'") + b"'"


@st.composite
def inline_arg(draw, arg: bytes) -> bytes:
    choices = ["dq", "dqhex"]
    if arg and not any(b in _BARE_FORBIDDEN for b in arg):
        choices.append("bare")
    if _single_quoted(arg) is not None:
        choices.append("sq")
    how = draw(st.sampled_from(choices))
    if how == "bare":
        return arg
    if how == "sq":
        return _single_quoted(arg)
    return _double_quoted(arg, hex_all=how == "dqhex")


@st.composite
def encoded_request(draw, argv) -> bytes:
    if draw(st.booleans()):
        return encode_command(*argv)
    words = [draw(inline_arg(a)) for a in argv]
    sep = draw(st.sampled_from([b" ", b"  ", b"\t", b" \x0b"]))
    lead = draw(st.sampled_from([b"", b" ", b"\t"]))
    end = draw(st.sampled_from([b"\r\n", b"\n", b" \r\n"]))
    return lead + sep.join(words) + end


fillers = st.sampled_from([b"*0\r\n", b"*-1\r\n", b"\r\n", b"\n", b"  \r\n"])


@st.composite
def valid_streams(draw, max_requests: int = 8):
    argvs = draw(st.lists(requests, min_size=1, max_size=max_requests))
    parts = []
    for argv in argvs:
        if draw(st.integers(0, 4)) == 0:
            parts.append(draw(fillers))
        parts.append(draw(encoded_request(argv)))
    return b"".join(parts), tuple(argvs)


@st.composite
def mutated_streams(draw):
    data, _ = draw(valid_streams())
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "insert":
            data[at:at] = draw(st.one_of(interesting_bytes, any_byte, st.sampled_from([b"\r\n", b"*1\r\n", b"$-1\r\n"])))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 3))]
        elif op == "replace" and data:
            data[at] = draw(st.one_of(interesting_bytes, any_byte))[0]
        elif op == "truncate":
            del data[at + 1 :]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


garbage_streams = st.lists(st.one_of(interesting_bytes, interesting_bytes, any_byte), max_size=80).map(b"".join)

# -- RESP values of every type ----------------------------------------------------------------

_line = st.binary(max_size=6).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_blob = st.binary(max_size=8)
_scalars = st.one_of(
    _line.map(lambda s: b"+" + s + b"\r\n"),
    _line.map(lambda s: b"-ERR " + s + b"\r\n"),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: b":%d\r\n" % n),
    _blob.map(lambda b: b"$%d\r\n%b\r\n" % (len(b), b)),
    st.just(b"$-1\r\n"),
    st.just(b"*-1\r\n"),
    st.just(b"_\r\n"),
    st.sampled_from([b"#t\r\n", b"#f\r\n"]),
    st.floats(allow_nan=True).map(lambda f: b",%r\r\n" % f),
    st.integers(-(10**30), 10**30).map(lambda n: b"(%d\r\n" % n),
    _blob.map(lambda b: b"!%d\r\n%b\r\n" % (len(b), b)),
    _blob.map(lambda b: b"=%d\r\ntxt:%b\r\n" % (len(b) + 4, b)),
)


def _aggregate(children):
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: b"*%d\r\n" % len(xs) + b"".join(xs)),
        st.lists(children, max_size=4).map(lambda xs: b"~%d\r\n" % len(xs) + b"".join(xs)),
        st.lists(children, max_size=4).map(lambda xs: b">%d\r\n" % len(xs) + b"".join(xs)),
        st.lists(st.tuples(children, children), max_size=3).map(
            lambda kv: b"%%%d\r\n" % len(kv) + b"".join(k + v for k, v in kv)
        ),
        st.tuples(st.lists(st.tuples(children, children), min_size=1, max_size=2), children).map(
            lambda a: b"|%d\r\n" % len(a[0]) + b"".join(k + v for k, v in a[0]) + a[1]
        ),
    )


resp_values = st.recursive(_scalars, _aggregate, max_leaves=12)
#: Mostly real requests (arrays of bulks) with values of every type between and inside them.
resp_streams = st.lists(
    st.one_of(resp_values, requests.map(lambda argv: encode_command(*argv))), min_size=1, max_size=6
).map(b"".join)
