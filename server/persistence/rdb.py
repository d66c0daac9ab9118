"""Redis's RDB format (rdb.c, version 10): the file writer, the loader, and DUMP payloads.

Design note
-----------
Pure format code: values in, bytes out, and back. Nothing here touches sockets, files
(except through the ``write`` callable a writer is given) or the node's state; the
snapshot machinery (``snapshots.py``) and the commands decide when and where.

Writing (``RdbWriter``) follows rdbSaveRio: ``REDIS0010``, the AUX fields Redis 7.0 writes,
FUNCTION2 records, then for each non-empty database ``SELECTDB`` + ``RESIZEDB`` and one
record per key (``FC`` expiry in ms, ``F8``/``F9`` LRU idle time or LFU counter when the
maxmemory policy keeps them, type, key, value), ``EOF`` and the CRC-64. Values use the types
7.0 writes: strings (int-encoded when they are a canonical 32-bit integer, LZF-compressed
above 20 bytes when ``rdbcompression`` is on and it saves at least 4 bytes), lists as
QUICKLIST_2 with listpack nodes cut by ``list-max-listpack-size``, hashes as listpack or
hash table and zsets as listpack or ZSET_2 after their in-memory encoding, sets as intset or
hash table. Packed blobs go through the string encoder too, so they are compressed as Redis
compresses them. The output grows in one ``bytearray`` with prebuilt length prefixes, and is
handed to ``write`` (with the running checksum updated) every ``CHUNK`` bytes.

Loading (``load``) reads the whole file as one ``bytes`` and walks it with an integer
offset (``Reader``): slicing ``bytes`` gives the key and value objects in one copy. It
accepts versions 1-12, every opcode (AUX fields are skipped, FUNCTION/FUNCTION2 payloads
are kept for the scripting layer, 7.4's SLOT_INFO is skipped) and every value type Redis
has written: strings raw/int/LZF, lists (1, 10, 14, 18 with packed and plain nodes), sets
(2, 11, 20), zsets (3, 5, 12, 17) and hashes (4, 9, 13, 16). Streams (15, 19, 21) and
module values are refused with ``RdbUnsupported``: this server has no such types, and a
dataset silently missing keys is worse than a clear error. Loaded values get the encoding
Redis 7.0's rdbLoadObject gives them under the current ``*-max-*`` limits. Nothing is
installed by the loader: it returns a ``LoadResult`` that the caller swaps in whole, so a
failed load never leaves a partial dataset.

DUMP and RESTORE use the same value encoding: ``dump_payload`` (type + value + RDB version
as 2 bytes LE + CRC-64 LE) and ``verify_payload`` / ``load_payload``.
"""

from __future__ import annotations

import math
import re
import struct
import time

from ..datatypes.hash import RHash
from ..datatypes.list import RList
from ..datatypes.list import encode as list_encode
from ..datatypes.set import INTSET_HARD_LIMIT, RSet, is_int64
from ..datatypes.zset import ZSet, listpack_score_text
from . import lzf
from .crc64 import crc64
from .encodings import BlobError, intset_decode, intset_encode, lp_decode, lp_entry, zipmap_decode, zl_decode

#: The version this server writes, and the newest it loads (7.2 wrote 11, 7.4 writes 12).
RDB_VERSION = 10
RDB_LOAD_MAX_VERSION = 12
REDIS_VERSION = b"7.0.15"

# Value types (rdb.h).
T_STRING, T_LIST, T_SET, T_ZSET, T_HASH, T_ZSET_2, T_MODULE, T_MODULE_2 = 0, 1, 2, 3, 4, 5, 6, 7
T_HASH_ZIPMAP, T_LIST_ZIPLIST, T_SET_INTSET, T_ZSET_ZIPLIST, T_HASH_ZIPLIST = 9, 10, 11, 12, 13
T_LIST_QUICKLIST, T_STREAM_LISTPACKS, T_HASH_LISTPACK, T_ZSET_LISTPACK = 14, 15, 16, 17
T_LIST_QUICKLIST_2, T_STREAM_LISTPACKS_2, T_SET_LISTPACK, T_STREAM_LISTPACKS_3 = 18, 19, 20, 21

# Opcodes.
OP_SLOT_INFO, OP_FUNCTION2, OP_FUNCTION, OP_MODULE_AUX = 0xF4, 0xF5, 0xF6, 0xF7
OP_IDLE, OP_FREQ, OP_AUX, OP_RESIZEDB = 0xF8, 0xF9, 0xFA, 0xFB
OP_EXPIRETIME_MS, OP_EXPIRETIME, OP_SELECTDB, OP_EOF = 0xFC, 0xFD, 0xFE, 0xFF

#: Quicklist node containers (quicklist.h).
NODE_PLAIN, NODE_PACKED = 1, 2
#: quicklist's packed_threshold: elements this large get a node of their own (PLAIN).
PACKED_THRESHOLD = 1 << 30
#: list-max-listpack-size < 0: node size limits (quicklist.c optimization_level).
_NODE_BYTES = (4096, 8192, 16384, 32768, 65536)
#: Estimated per-element overhead when deciding whether an element fits a node
#: (SIZE_ESTIMATE_OVERHEAD), and the node size above which a count limit no longer applies
#: (SIZE_SAFETY_LIMIT).
_FIT_OVERHEAD = 8
_SAFETY_LIMIT = 8192
_FILL_MAX = (1 << 15) - 1

#: The writer hands its buffer on every this many bytes.
CHUNK = 1 << 22

_TYPE_NAMES = {
    T_STREAM_LISTPACKS: "stream", T_STREAM_LISTPACKS_2: "stream", T_STREAM_LISTPACKS_3: "stream",
    T_MODULE: "module", T_MODULE_2: "module",
}


class RdbError(Exception):
    """A file or payload that cannot be loaded. ``corrupt`` tells a damaged structure from
    a truncated input (Redis logs them differently)."""

    corrupt = True


class RdbShortRead(RdbError):
    corrupt = False

    def __init__(self, message: str = "Unexpected EOF reading RDB file"):
        super().__init__(message)


class RdbFormatError(RdbError):
    """Not an RDB file this server reads: bad signature or version (rdbLoad's EINVAL)."""


class RdbChecksumError(RdbError):
    def __init__(self, expected: int, got: int):
        super().__init__("RDB CRC error")
        self.expected, self.got = expected, got


class RdbUnsupported(RdbError):
    """A valid record of a kind this server has no data type for (streams, modules)."""


# -- length and string encoding -----------------------------------------------------------------

_LEN = [bytes((n,)) for n in range(64)] + [bytes((0x40 | (n >> 8), n & 0xFF)) for n in range(64, 1 << 14)]
_INT8 = {v: bytes((0xC0, v & 0xFF)) for v in range(-128, 128)}
#: rdbTryIntegerEncoding: string2ll's canonical form, short enough for 32 bits.
_INT32_TEXT = re.compile(rb"0|-?[1-9][0-9]{0,9}").fullmatch
_EXPIRE = struct.Struct("<Bq")
_DOUBLE = struct.Struct("<d")
_MS = struct.Struct("<q")
_S32 = struct.Struct("<i")


def encode_length(n: int) -> bytes:
    """rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit big-endian length."""
    if n < 16384:
        return _LEN[n]
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(s, compress: bool = True) -> bytes:
    """rdbSaveRawString: an integer encoding for short canonical numbers, LZF for longer
    strings that compress by at least 4 bytes, else the length and the bytes."""
    n = len(s)
    if n <= 11:
        if n and _INT32_TEXT(s) is not None:
            v = int(s)
            if -128 <= v <= 127:
                return _INT8[v]
            if -32768 <= v <= 32767:
                return b"\xc1" + v.to_bytes(2, "little", signed=True)
            if -2147483648 <= v <= 2147483647:
                return b"\xc2" + v.to_bytes(4, "little", signed=True)
        return _LEN[n] + s
    if compress and n > 20:
        packed = lzf.compress(s, n - 4)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    if n < 16384:
        return _LEN[n] + s
    return encode_length(n) + s


# -- writing values ---------------------------------------------------------------------------------


class SaveOptions:
    """What shapes the bytes of a value: ``rdbcompression`` and ``list-max-listpack-size``."""

    __slots__ = ("compress", "list_fill")

    def __init__(self, compress: bool = True, list_fill: int = -2):
        self.compress = compress
        self.list_fill = list_fill

    @classmethod
    def from_config(cls, config) -> SaveOptions:
        return cls(bool(config["rdbcompression"]), config["list-max-listpack-size"])


def _quicklist_nodes(values, fill: int):
    """(container, bytes) per node, cut as quicklist's _quicklistNodeAllowInsert cuts them
    when the elements are pushed in order: a negative ``fill`` limits a node's listpack
    bytes (4 KB .. 64 KB), a positive one its element count (while under 8 KB)."""
    fill = max(-5, min(fill, _FILL_MAX))
    size_limit = _NODE_BYTES[-fill - 1] if fill < 0 else 0
    entries: list[bytes] = []
    size = 7
    for v in values:
        n = len(v)
        if n >= PACKED_THRESHOLD:
            if entries:
                yield NODE_PACKED, _listpack(entries, size)
                entries, size = [], 7
            yield NODE_PLAIN, v
            continue
        if entries:
            new_size = size + n + _FIT_OVERHEAD
            fits = new_size <= size_limit if size_limit else (new_size <= _SAFETY_LIMIT and len(entries) < fill)
            if not fits:
                yield NODE_PACKED, _listpack(entries, size)
                entries, size = [], 7
        e = lp_entry(v)
        entries.append(e)
        size += len(e)
    if entries:
        yield NODE_PACKED, _listpack(entries, size)


def _listpack(entries: list[bytes], size: int) -> bytes:
    return struct.pack("<IH", size, min(len(entries), 65535)) + b"".join(entries) + b"\xff"


def _lp(items) -> bytes:
    entries = [lp_entry(s) for s in items]
    return _listpack(entries, 7 + sum(map(len, entries)))


def write_value(out: bytearray, key, value, opts: SaveOptions) -> bool:
    """Append the type byte, ``key`` (unless None: DUMP payloads have none) and the value
    (rdbSaveObjectType + rdbSaveObject). False for an empty collection (nothing written)."""
    compress = opts.compress
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        rdbtype, body = T_STRING, encode_string(value, compress)
    elif not value:
        return False
    else:
        rdbtype, body = _collection(value, opts)
    out.append(rdbtype)
    if key is not None:
        out += encode_string(key, compress)
    out += body
    return True


def _collection(value, opts: SaveOptions) -> tuple[int, bytes]:
    """(RDB type, encoded value) of a non-empty list, set, hash or sorted set, in the type
    Redis 7.0 picks for its in-memory encoding."""
    compress = opts.compress
    string = encode_string
    if isinstance(value, RList):
        nodes = list(_quicklist_nodes(value, opts.list_fill))
        parts = [encode_length(len(nodes))]
        for container, blob in nodes:
            parts += (bytes((container,)), string(blob, compress))
        return T_LIST_QUICKLIST_2, b"".join(parts)
    if isinstance(value, RSet):
        if value.intset:
            return T_SET_INTSET, string(intset_encode(sorted(map(int, value))), compress)
        return T_SET, encode_length(len(value)) + b"".join([string(m, compress) for m in value])
    if isinstance(value, RHash):
        if value.listpack:
            return T_HASH_LISTPACK, string(_lp([x for pair in value.items() for x in pair]), compress)
        parts = [encode_length(len(value))]
        for field, v in value.items():
            parts += (string(field, compress), string(v, compress))
        return T_HASH, b"".join(parts)
    if isinstance(value, ZSet):
        if value.listpack:
            items = []
            for score, member in value.order:
                items += (member, listpack_score_text(score))
            return T_ZSET_LISTPACK, string(_lp(items), compress)
        parts = [encode_length(len(value))]
        pack = _DOUBLE.pack
        # From the greatest to the smallest, as Redis walks its skiplist backwards.
        for score, member in reversed(value.order):
            parts += (string(member, compress), pack(score))
        return T_ZSET_2, b"".join(parts)
    raise TypeError(f"cannot serialize a {type(value).__name__} value")


class RdbWriter:
    """Builds an RDB stream; see the module docstring.

    ``write(chunk)`` receives the bytes as they are produced (None keeps them in memory:
    ``getvalue()``). ``checksum`` False writes a zero checksum (``rdbchecksum no``).
    ``lru`` chooses the per-key access records: None, ``("lru", idle_of)`` or
    ``("lfu", counter_of)``, where the function maps a key's ``db.lru`` entry to the idle
    seconds or the LFU counter.
    """

    def __init__(self, opts: SaveOptions, write=None, checksum: bool = True, lru=None, key_delay_us: int = 0):
        self.opts = opts
        self.out = bytearray()
        self.crc = 0
        self.checksum = checksum
        self._write = write
        self._chunks: list[bytes] = []
        self.lru = lru
        self.key_delay_us = key_delay_us
        self.keys = 0

    # -- output --------------------------------------------------------------------------
    def flush(self, fold: bool = True) -> None:
        """Hand the buffer on, folding it into the checksum first (unless ``fold`` is
        False: the checksum's own bytes)."""
        out = self.out
        if not out:
            return
        if fold and self.checksum:
            self.crc = crc64(out, self.crc)
        if self._write is None:
            self._chunks.append(bytes(out))
        else:
            self._write(out)
        out.clear()

    def getvalue(self) -> bytes:
        self.flush()
        return b"".join(self._chunks)

    # -- records -------------------------------------------------------------------------
    def header(self, aux: list[tuple[bytes, bytes]]) -> None:
        out = self.out
        out += b"REDIS%04d" % RDB_VERSION
        for name, value in aux:
            out.append(OP_AUX)
            out += encode_string(name, self.opts.compress)
            out += encode_string(value, self.opts.compress)

    def functions(self, libraries) -> None:
        for code in libraries:
            self.out.append(OP_FUNCTION2)
            self.out += encode_string(code, self.opts.compress)

    def database(self, dbid: int, db) -> None:
        """SELECTDB, RESIZEDB and every key of one database (rdbSaveDb)."""
        data = db.data
        if not data:
            return
        out = self.out
        expires = db.expires
        out.append(OP_SELECTDB)
        out += encode_length(dbid)
        out.append(OP_RESIZEDB)
        out += encode_length(len(data))
        out += encode_length(len(expires))
        opts = self.opts
        compress = opts.compress
        string = encode_string
        pack_expire = _EXPIRE.pack
        record = self._access_record()
        lru = db.lru
        chunk = CHUNK
        delay = self.key_delay_us
        keys = 0
        for key, value in data.items():
            if expires:
                when = expires.get(key)
                if when is not None:
                    out += pack_expire(OP_EXPIRETIME_MS, when)
            if record is not None:
                out += record(lru.get(key))
            cls = value.__class__
            if cls is bytes or cls is bytearray:
                out.append(T_STRING)
                out += string(key, compress)
                out += string(value, compress)
            elif not write_value(out, key, value, opts):
                continue
            keys += 1
            if len(out) > chunk:
                self.flush()
            if delay:
                _delay(delay)
        self.keys += keys

    def _access_record(self):
        """The function making a key's F8/F9 record from its ``db.lru`` entry, or None."""
        if self.lru is None:
            return None
        kind, fn = self.lru
        if kind == "lru":
            return lambda field: bytes((OP_IDLE,)) + encode_length(fn(field))
        return lambda field: bytes((OP_FREQ, fn(field)))

    def finish(self) -> None:
        """EOF and the checksum (little-endian; zero when checksums are off)."""
        self.out.append(OP_EOF)
        self.flush()
        self.out += self.crc.to_bytes(8, "little")
        self.flush(fold=False)


def _delay(usec: int) -> None:
    """debugDelay: rdb-key-save-delay / key-load-delay (negative: a busy loop)."""
    if usec > 0:
        time.sleep(usec / 1e6)
    else:
        for _ in range(-usec):
            pass


def aux_fields(ctime: int, used_mem: int, repl=None, aof_base: bool = False) -> list[tuple[bytes, bytes]]:
    """rdbSaveInfoAuxFields: the AUX fields Redis 7.0 writes, in its order. ``repl`` is
    (repl-stream-db, repl-id, repl-offset) when replication information exists."""
    aux = [
        (b"redis-ver", REDIS_VERSION),
        (b"redis-bits", b"64"),
        (b"ctime", b"%d" % ctime),
        (b"used-mem", b"%d" % used_mem),
    ]
    if repl is not None:
        stream_db, replid, offset = repl
        aux += [(b"repl-stream-db", b"%d" % stream_db), (b"repl-id", replid), (b"repl-offset", b"%d" % offset)]
    aux.append((b"aof-base", b"1" if aof_base else b"0"))
    return aux


# -- reading --------------------------------------------------------------------------------------


class LoadLimits:
    """The encoding thresholds loaded values are judged by (server config at load time)."""

    __slots__ = ("hash_entries", "hash_value", "zset_entries", "zset_value", "intset_entries")

    def __init__(self, hash_entries=512, hash_value=64, zset_entries=128, zset_value=64, intset_entries=512):
        self.hash_entries = hash_entries
        self.hash_value = hash_value
        self.zset_entries = zset_entries
        self.zset_value = zset_value
        self.intset_entries = intset_entries

    @classmethod
    def from_config(cls, config) -> LoadLimits:
        v = config.values
        return cls(v["hash-max-listpack-entries"], v["hash-max-listpack-value"], v["zset-max-listpack-entries"],
                   v["zset-max-listpack-value"], v["set-max-intset-entries"])


#: Keeps a zset in a listpack only while its members total less than this (lpSafeToAdd).
_LISTPACK_MAX_SAFETY = 1 << 30


class Reader:
    """A cursor over RDB bytes: ``buf[pos:end]``. Reads past ``end`` raise RdbShortRead
    (or IndexError, which callers turn into it)."""

    __slots__ = ("buf", "pos", "end", "limits")

    def __init__(self, buf: bytes, limits: LoadLimits, pos: int = 0, end: int | None = None):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.limits = limits

    def byte(self) -> int:
        p = self.pos
        if p >= self.end:
            raise RdbShortRead()
        self.pos = p + 1
        return self.buf[p]

    def take(self, n: int) -> bytes:
        p = self.pos
        q = p + n
        if q > self.end:
            raise RdbShortRead()
        self.pos = q
        return self.buf[p:q]

    def length(self) -> int:
        """rdbLoadLen for a plain length (an encoded-string marker here is corrupt)."""
        n, encoded = self._length()
        if encoded:
            raise RdbError("Unknown length encoding %d in rdbLoadLen()" % 3)
        return n

    def _length(self) -> tuple[int, bool]:
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbError("Unknown length encoding %d in rdbLoadLen()" % kind)

    def string(self) -> bytes:
        """rdbGenericLoadStringObject: plain, integer-encoded or LZF string, as bytes."""
        buf = self.buf
        p = self.pos
        if p >= self.end:
            raise RdbShortRead()
        b = buf[p]
        if b < 0x40:
            q = p + 1 + b
            if q > self.end:
                raise RdbShortRead()
            self.pos = q
            return buf[p + 1 : q]
        n, encoded = self._length()
        if not encoded:
            return self.take(n)
        if n == 0:
            v = self.byte()
            return b"%d" % (v - 256 if v > 127 else v)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            clen = self.length()
            ulen = self.length()
            try:
                return lzf.decompress(self.take(clen), ulen)
            except lzf.LzfError:
                raise RdbError("Invalid LZF compressed string") from None
        raise RdbError("Unknown RDB string encoding type %d" % n)

    def ms_time(self) -> int:
        return _MS.unpack(self.take(8))[0]

    def binary_double(self) -> float:
        return _DOUBLE.unpack(self.take(8))[0]

    def text_double(self) -> float:
        """rdbLoadDoubleValue (ZSET type 3): a length byte (253 nan, 254 +inf, 255 -inf)
        then the number as text."""
        n = self.byte()
        if n == 255:
            return -math.inf
        if n == 254:
            return math.inf
        if n == 253:
            return math.nan
        text = self.take(n)
        try:
            return float(text)
        except ValueError:
            raise RdbError("Invalid double value") from None

    # -- values ----------------------------------------------------------------------------
    def value(self, rdbtype: int):
        """rdbLoadObject: the value of a record of type ``rdbtype``; None for an empty
        collection (which Redis skips when loading and refuses in RESTORE)."""
        reader = _READERS.get(rdbtype)
        if reader is None:
            kind = _TYPE_NAMES.get(rdbtype)
            if kind is not None:
                raise RdbUnsupported(
                    "RDB type %d (%s) is not supported by this server: it has no %s data type" % (rdbtype, kind, kind))
            raise RdbError("Unknown RDB encoding type %d" % rdbtype)
        return reader(self)

    def _blob(self, what: str, decode):
        try:
            return decode(self.string())
        except BlobError:
            raise RdbError("%s integrity check failed." % what) from None

    # lists
    def _list(self):
        n = self.length()
        values = [self.string() for _ in range(n)]
        return RList(values) if values else None

    def _list_ziplist(self):
        values = self._blob("List ziplist", zl_decode)
        return RList(values) if values else None

    def _quicklist(self, with_containers: bool):
        nodes = self.length()
        lst = RList()
        extend = lst.items.extend
        for _ in range(nodes):
            container = NODE_PACKED
            if with_containers:
                container = self.length()
                if container not in (NODE_PACKED, NODE_PLAIN):
                    raise RdbError("Quicklist integrity check failed.")
            blob = self.string()
            if not blob:
                raise RdbError("Quicklist integrity check failed.")
            if container == NODE_PLAIN:
                lst.items.append(list_encode(blob))
                continue
            try:
                values = lp_decode(blob) if with_containers else zl_decode(blob)
            except BlobError:
                raise RdbError("Listpack integrity check failed." if with_containers
                               else "Ziplist integrity check failed.") from None
            extend(map(list_encode, values))  # empty nodes are skipped, as Redis does
        return lst if lst else None

    def _quicklist_1(self):
        return self._quicklist(False)

    def _quicklist_2(self):
        return self._quicklist(True)

    # sets
    def _make_set(self, members: list[bytes], intset_limit: int):
        if not members:
            return None
        s = RSet(members)
        if len(s) != len(members):
            raise RdbError("Duplicate set members detected")
        if len(s) > intset_limit or not all(map(is_int64, s)):
            s.to_hashtable(len(s))
        return s

    def _set(self):
        n = self.length()
        members = [self.string() for _ in range(n)]
        return self._make_set(members, min(self.limits.intset_entries, INTSET_HARD_LIMIT))

    def _set_intset(self):
        values = self._blob("Intset", intset_decode)
        s = RSet([b"%d" % v for v in values])
        if len(s) > self.limits.intset_entries:
            s.to_hashtable(len(s))
        return s

    def _set_listpack(self):
        members = self._blob("Set listpack", lp_decode)
        return self._make_set(members, min(self.limits.intset_entries, INTSET_HARD_LIMIT))

    # hashes
    def _make_hash(self, flat: list[bytes], listpack: bool, what: str):
        if len(flat) % 2:
            raise RdbError("%s integrity check failed." % what)
        if not flat:
            return None
        h = RHash(zip(flat[::2], flat[1::2]), listpack)
        if len(h) * 2 != len(flat):
            raise RdbError("Duplicate hash fields detected")
        return h

    def _hash(self):
        n = self.length()
        flat = [self.string() for _ in range(2 * n)]
        limits = self.limits
        listpack = n <= limits.hash_entries and all(len(x) <= limits.hash_value for x in flat)
        return self._make_hash(flat, listpack, "Hash")

    def _hash_packed(self, what: str, decode, check_value_len: bool = False):
        flat = self._blob(what, decode)
        limits = self.limits
        listpack = len(flat) // 2 <= limits.hash_entries
        if check_value_len and listpack:
            listpack = all(len(x) <= limits.hash_value for x in flat)
        return self._make_hash(flat, listpack, what)

    def _hash_listpack(self):
        return self._hash_packed("Hash listpack", lp_decode)

    def _hash_ziplist(self):
        return self._hash_packed("Hash ziplist", zl_decode)

    def _hash_zipmap(self):
        return self._hash_packed("Zipmap", zipmap_decode, check_value_len=True)

    # sorted sets
    def _make_zset(self, pairs: list[tuple[bytes, float]], listpack: bool):
        if not pairs:
            return None
        for _, score in pairs:
            if score != score:
                raise RdbError("Zset with NAN score detected")
        z = ZSet.from_pairs(pairs, listpack)
        if len(z) != len(pairs):
            raise RdbError("Duplicate zset fields detected")
        return z

    def _zset(self, binary: bool):
        n = self.length()
        read_score = self.binary_double if binary else self.text_double
        pairs = []
        for _ in range(n):
            member = self.string()
            pairs.append((member, read_score()))
        limits = self.limits
        lengths = [len(m) for m, _ in pairs]
        listpack = (
            n <= limits.zset_entries
            and max(lengths, default=0) <= limits.zset_value
            and sum(lengths) < _LISTPACK_MAX_SAFETY
        )
        return self._make_zset(pairs, listpack)

    def _zset_1(self):
        return self._zset(False)

    def _zset_2(self):
        return self._zset(True)

    def _zset_packed(self, what: str, decode):
        flat = self._blob(what, decode)
        if len(flat) % 2:
            raise RdbError("%s integrity check failed." % what)
        pairs = []
        for i in range(0, len(flat), 2):
            try:
                score = float(flat[i + 1])
            except ValueError:
                raise RdbError("%s integrity check failed." % what) from None
            pairs.append((flat[i], score))
        return self._make_zset(pairs, len(pairs) <= self.limits.zset_entries)

    def _zset_listpack(self):
        return self._zset_packed("Zset listpack", lp_decode)

    def _zset_ziplist(self):
        return self._zset_packed("Zset ziplist", zl_decode)


_READERS = {
    T_STRING: Reader.string,
    T_LIST: Reader._list,
    T_SET: Reader._set,
    T_ZSET: Reader._zset_1,
    T_HASH: Reader._hash,
    T_ZSET_2: Reader._zset_2,
    T_HASH_ZIPMAP: Reader._hash_zipmap,
    T_LIST_ZIPLIST: Reader._list_ziplist,
    T_SET_INTSET: Reader._set_intset,
    T_ZSET_ZIPLIST: Reader._zset_ziplist,
    T_HASH_ZIPLIST: Reader._hash_ziplist,
    T_LIST_QUICKLIST: Reader._quicklist_1,
    T_HASH_LISTPACK: Reader._hash_listpack,
    T_ZSET_LISTPACK: Reader._zset_listpack,
    T_LIST_QUICKLIST_2: Reader._quicklist_2,
    T_SET_LISTPACK: Reader._set_listpack,
}


class LoadedDb:
    """One database's keys as loaded: the three dicts of ``keyspace.Database``."""

    __slots__ = ("data", "expires", "lru")

    def __init__(self):
        self.data: dict = {}
        self.expires: dict = {}
        self.lru: dict = {}


class LoadResult:
    """Everything a file held: databases, FUNCTION payloads, AUX fields, counters."""

    def __init__(self, version: int):
        self.version = version
        self.dbs: dict[int, LoadedDb] = {}
        self.functions: list[bytes] = []
        self.aux: dict[bytes, bytes] = {}
        self.keys_loaded = 0
        self.keys_expired = 0
        self.empty_keys_skipped = 0
        self.checksum_disabled = False
        #: The offset just past the checksum: where an AOF tail follows an RDB preamble.
        self.end = 0


class AccessClock:
    """Turns F8/F9 records into ``db.lru`` entries (objectSetLRUOrLFU) for the policy in
    force at load time: LFU policies keep ``(minutes << 8) | counter``, the others an LRU
    clock in seconds; keys without a record get what a new object gets."""

    __slots__ = ("lfu", "lru_clock", "lfu_minutes", "default")

    LRU_MAX = (1 << 24) - 1
    LFU_INIT_VAL = 5

    def __init__(self, lfu: bool, lru_clock: int, unix_seconds: int):
        self.lfu = lfu
        self.lru_clock = lru_clock
        self.lfu_minutes = (unix_seconds // 60) & 65535
        self.default = (self.lfu_minutes << 8) | self.LFU_INIT_VAL if lfu else lru_clock

    def field(self, idle: int, freq: int) -> int:
        if self.lfu:
            return (self.lfu_minutes << 8) | freq if freq >= 0 else self.default
        if idle < 0:
            return self.default
        when = self.lru_clock - idle
        if when < 0:
            when = (self.lru_clock + self.LRU_MAX // 2) % self.LRU_MAX
        return when


def check_header(buf: bytes) -> int:
    """The RDB version of ``buf``, or RdbFormatError / RdbShortRead (rdbLoadRio's start)."""
    if len(buf) < 9:
        raise RdbShortRead()
    if buf[:5] != b"REDIS":
        raise RdbFormatError("Wrong signature trying to load DB from file")
    m = re.match(rb"\s*[-+]?\d+", buf[5:9])
    version = int(m.group()) if m else 0  # atoi
    if not 1 <= version <= RDB_LOAD_MAX_VERSION:
        raise RdbFormatError("Can't handle RDB format version %d" % version)
    return version


def module_type_name(module_id: int) -> str:
    """moduleTypeNameByID: the 9-character module type name inside a module id."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    module_id >>= 10
    name = []
    for _ in range(9):
        name.append(charset[module_id & 63])
        module_id >>= 6
    return "".join(reversed(name))


#: Keys between two calls of load()'s ``progress`` callback.
PROGRESS_KEYS = 1024


def load(buf: bytes, limits: LoadLimits, *, dbnum: int, now_ms: int, clock: AccessClock,
         drop_expired: bool = True, verify_checksum: bool = True, key_delay_us: int = 0,
         log=None, progress=None) -> LoadResult:
    """Parse a whole RDB file (rdbLoadRioWithLoadingCtx). ``drop_expired``: a master
    loading from disk drops keys whose time has passed (counted in ``keys_expired``).
    ``log(level, message)`` receives the lines Redis logs while loading; ``progress(pos,
    result)`` is called every PROGRESS_KEYS keys (startup loading: INFO's loading_* fields;
    it may raise to abandon the load).
    Raises an RdbError subclass on anything but a complete, valid file."""
    version = check_header(buf)
    result = LoadResult(version)
    r = Reader(buf, limits, 9)
    try:
        _load_records(r, result, dbnum, now_ms, clock, drop_expired, key_delay_us, log, progress)
        eof = r.pos  # just past the EOF opcode
        stored = int.from_bytes(r.take(8), "little") if version >= 5 else 0
    except (IndexError, struct.error):
        exc = RdbShortRead()
        exc.offset = r.pos
        raise exc from None
    except RdbError as exc:
        exc.offset = r.pos
        raise
    if version >= 5:
        if stored == 0:
            result.checksum_disabled = True
        elif verify_checksum:
            expected = crc64(memoryview(buf)[:eof])
            if stored != expected:
                exc = RdbChecksumError(expected, stored)
                exc.offset = eof
                raise exc
    result.end = r.pos
    return result


def _load_records(r: Reader, result: LoadResult, dbnum: int, now_ms: int, clock: AccessClock,
                  drop_expired: bool, key_delay_us: int, log, progress=None) -> None:
    """The record loop. The common records (a short string key with a short string value,
    an expiry) are read inline from ``buf`` at ``pos``; everything else goes through the
    Reader, with ``r.pos`` synchronised around the call. A slice that runs past the end of
    ``buf`` comes back short and leaves ``pos`` beyond it, so the next read raises
    IndexError: a truncated file always ends as a short read."""
    buf = r.buf
    pos = r.pos
    dbid = 0
    db = result.dbs.setdefault(0, LoadedDb())
    data, expires, access = db.data, db.expires, db.lru
    expiretime = idle = freq = -1
    readers = _READERS
    string = r.string
    unpack_ms = _MS.unpack_from
    while True:
        t = buf[pos]
        pos += 1
        if t < OP_SLOT_INFO:  # a key: type, key, value
            b = buf[pos]
            if b < 64:
                q = pos + 1 + b
                key = buf[pos + 1 : q]
                pos = q
            else:
                r.pos = pos
                key = string()
                pos = r.pos
            if t == T_STRING and buf[pos] < 64:
                q = pos + 1 + buf[pos]
                value = buf[pos + 1 : q]
                pos = q
            else:
                r.pos = pos
                reader = readers.get(t)
                value = reader(r) if reader is not None else r.value(t)
                pos = r.pos
            if value is None:
                result.empty_keys_skipped += 1
                if log is not None and result.empty_keys_skipped <= 10:
                    log("warning", "rdbLoadObject skipping empty key: %s" % key.decode("latin-1"))
            elif expiretime != -1 and drop_expired and expiretime < now_ms:
                result.keys_expired += 1
            else:
                if key in data:
                    raise RdbError("RDB has duplicated key '%s' in DB %d" % (key.decode("latin-1"), dbid))
                data[key] = value
                if expiretime != -1:
                    expires[key] = expiretime
                if idle >= 0 or freq >= 0:
                    access[key] = clock.field(idle, freq)
                result.keys_loaded += 1
                if progress is not None and not result.keys_loaded % PROGRESS_KEYS:
                    progress(pos, result)
            if key_delay_us:
                _delay(key_delay_us)
            expiretime = idle = freq = -1
            continue
        if t == OP_EXPIRETIME_MS:
            expiretime = unpack_ms(buf, pos)[0]
            pos += 8
            continue
        r.pos = pos
        if t == OP_SELECTDB:
            dbid = r.length()
            if dbid >= dbnum:
                raise RdbFormatError(
                    "FATAL: Data file was created with a Redis server configured to handle more than %d "
                    "databases. Exiting\n" % dbnum)
            db = result.dbs.setdefault(dbid, LoadedDb())
            data, expires, access = db.data, db.expires, db.lru
        elif t == OP_RESIZEDB:
            r.length()
            r.length()
        elif t == OP_AUX:
            name = string()
            value = string()
            result.aux[name] = value
            if log is not None:
                _log_aux(log, name, value)
        elif t == OP_EOF:
            _fill_access_clocks(result, clock.default)
            return
        elif t == OP_EXPIRETIME:
            expiretime = _S32.unpack(r.take(4))[0] * 1000
        elif t == OP_FREQ:
            freq = r.byte()
        elif t == OP_IDLE:
            idle = r.length()
        elif t == OP_FUNCTION2:
            result.functions.append(string())
        elif t == OP_FUNCTION:
            name = string()
            engine = string()
            if r.length():
                string()  # the description, dropped as Redis drops it
            code = string()
            result.functions.append(b"#!%s name=%s\n%s" % (engine, name, code))
        elif t == OP_MODULE_AUX:
            module_id = r.length()
            raise RdbUnsupported(
                "The RDB file contains AUX module data I can't load: no matching module '%s'"
                % module_type_name(module_id))
        elif t == OP_SLOT_INFO:
            r.length()
            r.length()
            r.length()
        else:  # pragma: no cover - every byte value is handled above
            raise RdbError("Unknown RDB encoding type %d" % t)
        pos = r.pos


def _fill_access_clocks(result: LoadResult, default: int) -> None:
    """Keys loaded without an F8/F9 record get the access clock of a new object; during
    the loop ``lru`` held only the keys that had one."""
    for db in result.dbs.values():
        special = db.lru
        db.lru = dict.fromkeys(db.data, default)
        if special:
            db.lru.update(special)


def _log_aux(log, name: bytes, value: bytes) -> None:
    """What rdbLoadRio logs about the AUX fields it knows."""
    text = value.decode("latin-1")
    lname = name.lower()
    if name[:1] == b"%":
        log("notice", "RDB '%s': %s" % (name.decode("latin-1"), text))
    elif lname == b"redis-ver":
        log("notice", "Loading RDB produced by version %s" % text)
    elif lname == b"ctime":
        try:
            age = max(int(time.time()) - int(value), 0)
        except ValueError:
            age = int(time.time())
        log("notice", "RDB age %d seconds" % age)
    elif lname == b"used-mem":
        try:
            log("notice", "RDB memory usage when created %.2f Mb" % (int(value) / (1024 * 1024)))
        except ValueError:
            pass
    elif lname == b"aof-preamble" and value not in (b"0", b""):
        log("notice", "RDB has an AOF tail")
    elif lname == b"aof-base" and value not in (b"0", b""):
        log("notice", "RDB is base AOF")


# -- DUMP / RESTORE --------------------------------------------------------------------------------


def dump_payload(value, opts: SaveOptions) -> bytes:
    """createDumpPayload: type + value + RDB version (2 bytes LE) + CRC-64 (8 bytes LE)."""
    out = bytearray()
    write_value(out, None, value, opts)
    out += RDB_VERSION.to_bytes(2, "little")
    out += crc64(out).to_bytes(8, "little")
    return bytes(out)


def verify_payload(payload: bytes, check_crc: bool = True) -> bool:
    """verifyDumpPayload: a footer with a version up to 10 and a matching CRC. (Files of
    later versions load; DUMP payloads of later versions are refused, as Redis 7.0 does.)"""
    if len(payload) < 10:
        return False
    version = int.from_bytes(payload[-10:-8], "little")
    if version > RDB_VERSION:
        return False
    if not check_crc:
        return True
    return crc64(memoryview(payload)[:-8]) == int.from_bytes(payload[-8:], "little")


def load_payload(payload: bytes, limits: LoadLimits):
    """The value inside a verified DUMP payload, None if it is empty; RdbError if not
    readable ("Bad data format" in RESTORE)."""
    r = Reader(payload, limits)  # as in Redis, a value may run into the footer's bytes
    try:
        t = r.byte()
        if t >= OP_SLOT_INFO:
            raise RdbError("not an object type")
        return r.value(t)
    except (IndexError, struct.error):
        raise RdbShortRead() from None
