"""HyperLogLog commands (Redis 7.0 hyperloglog.c): PFADD, PFCOUNT, PFMERGE and PFDEBUG.

Design note
-----------
An HLL is a string value in Redis's own bytes (``server/datatypes/hyperloglog.py`` holds
the representation and its algorithms); these handlers do what pfaddCommand & co. do
around them, in the same order, because the order decides which error a request gets and
what stays in the value:

* Lookups: PFADD and PFMERGE's destination use write lookups; PFCOUNT and PFMERGE's
  sources read lookups (keyspace hits and misses). A missing key is an empty HLL.
* Another type is WRONGTYPE; a string that is not an HLL gets Redis's own WRONGTYPE text;
  runs that do not add up get ``INVALIDOBJ``.
* Values are changed in place (a ``bytearray``, Redis's ``raw`` string, which is also what
  OBJECT ENCODING reports): a PFADD that meets a corrupted opcode after updating registers
  keeps those updates, unsignalled, as Redis does.
* PFCOUNT of one key stores the cardinality it computed in the value's header: that is a
  change (dirty, WATCH) and Redis 7.0 propagates the PFCOUNT, so it asks for propagation
  although it is a read-only command.
* PFMERGE includes its destination among the sources; its result is dense if any source
  was dense, else the merged registers are set one by one into the sparse destination
  (which may turn dense on the way), exactly as Redis writes them.
* PFADD and PFMERGE fire the ``pfadd`` keyspace event (class ``$``); dirty counts one per
  changed register for PFADD, one for PFMERGE and PFCOUNT.

PFSELFTEST (ten million additions, a C-speed self check) is not provided.
"""

from __future__ import annotations

import re

from protocol import encoder as enc
from protocol.encoder import ONE, OK, ZERO

from .. import errors as E
from ..datatypes import hyperloglog as hll
from ..errors import CommandError
from .spec import command
from .strings import copt, unshare

_NONZERO = re.compile(rb"[^\x00]")


def _check(v) -> None:
    """isHLLObjectOrReply for an existing value."""
    if v.__class__ is not bytes and v.__class__ is not bytearray:
        raise CommandError(E.WRONGTYPE)
    if not hll.is_hll(v):
        raise CommandError(hll.INVALID_HLL)


def _notify(c, key: bytes) -> None:
    node = c.node
    if node.notify_flags:
        node.notify(c.db, key, "pfadd", "$")


def _write_back(buf: bytearray, sp: hll.Sparse) -> None:
    """Store a sparse HLL's opcodes into its value (and keep them cached)."""
    buf[:] = sp.to_bytes()
    hll.remember(buf, sp)


def _invalidate(buf: bytearray) -> None:
    """HLL_INVALIDATE_CACHE on a value (through its cached opcodes when sparse)."""
    if buf[4] == hll.DENSE:
        hll.invalidate(buf)
    else:
        sp = hll.sparse_of(buf)
        if not sp.header[15] & 0x80:
            hll.invalidate(sp.header)
            _write_back(buf, sp)


def _promote(buf: bytearray, sp: hll.Sparse) -> bool:
    """Turn the sparse ``sp`` (the value ``buf``) dense in place; False if corrupted."""
    dense = sp.to_dense()
    if dense is None:
        return False
    buf[:] = dense
    return True


# -- PFADD -----------------------------------------------------------------------------------


def _add_dense(buf: bytearray, elements) -> int:
    updated = 0
    for element in elements:
        index, count = hll.pat_len(element)
        if hll.dense_set(buf, index, count):
            updated += 1
    return updated


def _add_sparse(buf: bytearray, elements, max_bytes: int) -> int:
    """hllSparseAdd for each element, promoting to dense when Redis would. Returns the
    updated registers, or raises INVALIDOBJ with the updates made so far kept."""
    sp = hll.sparse_of(buf)
    updated = 0
    for i, element in enumerate(elements):
        index, count = hll.pat_len(element)
        result = sp.set(index, count, max_bytes)
        if result == 1:
            updated += 1
        elif result == 2:
            if not _promote(buf, sp):
                _write_back(buf, sp)
                raise CommandError(hll.CORRUPTED)
            hll.dense_set(buf, index, count)
            return updated + 1 + _add_dense(buf, elements[i + 1 :])
        elif result < 0:
            _write_back(buf, sp)
            raise CommandError(hll.CORRUPTED)
    if updated:
        _write_back(buf, sp)
    return updated


@command("pfadd")
def pfadd(c, argv):
    db = c.db
    node = c.node
    key = argv[1]
    v = db.get_for_write(key)
    created = v is None
    if created:
        v = bytearray(hll.EMPTY)
        db.set(key, v)  # dbAdd: the change is counted with the updates below
    else:
        _check(v)
        v = unshare(db, key, v)
    elements = argv[2:]
    if v[4] == hll.DENSE:
        updated = _add_dense(v, elements)
    else:
        updated = _add_sparse(v, elements, node.config["hll-sparse-max-bytes"])
    if created:
        updated += 1
    elif updated:
        node.key_modified(db, key)
    if not updated:
        return ZERO
    node.dirty += updated - 1
    _notify(c, key)
    _invalidate(v)
    return ONE


# -- PFCOUNT ---------------------------------------------------------------------------------


def _union(c, keys) -> tuple[bytes | None, bool]:
    """The register-wise maximum of the HLLs at ``keys`` (read lookups; missing keys are
    empty), and whether any of them is dense. None when all are missing or empty."""
    db = c.db
    merged = None
    dense = False
    for key in keys:
        v = db.get(key)
        if v is None:
            continue
        _check(v)
        if v[4] == hll.DENSE:
            dense = True
        raw = hll.raw_registers(v)
        if raw is None:
            raise CommandError(hll.CORRUPTED)
        merged = raw if merged is None else hll.raw_max(merged, raw)
    return merged, dense


@command("pfcount")
def pfcount(c, argv):
    if len(argv) > 2:
        merged, _ = _union(c, argv[1:])
        if merged is None:
            return ZERO
        return enc.integer(hll.estimate(hll.raw_histogram(merged)))
    db = c.db
    key = argv[1]
    v = db.get(key)
    if v is None:
        return ZERO
    _check(v)
    v = unshare(db, key, v)
    card = hll.cached_count(v)
    if card is not None:
        return enc.integer(card)
    if v[4] == hll.DENSE:
        card = hll.estimate(hll.dense_histogram(v))
        hll.store_count(v, card)
    else:
        sp = hll.sparse_of(v)
        hist = sp.histogram()
        if hist is None:
            raise CommandError(hll.CORRUPTED)
        card = hll.estimate(hist)
        hll.store_count(sp.header, card)
        _write_back(v, sp)
    # Storing the cache is a change that Redis 7.0 propagates.
    c.node.key_modified(db, key)
    c.force_propagate = True
    return enc.integer(card)


# -- PFMERGE ---------------------------------------------------------------------------------


def _set_registers_sparse(buf: bytearray, merged: bytes, max_bytes: int) -> None:
    """Set each nonzero merged register into the sparse ``buf`` in increasing order
    (hllSparseSet, whose result PFMERGE ignores); once it turns dense, the rest is the
    merged registers themselves."""
    sp = hll.sparse_of(buf)
    for m in _NONZERO.finditer(merged):
        j = m.start()
        if sp.set(j, merged[j], max_bytes) == 2:
            if _promote(buf, sp):
                buf[hll.HDR_SIZE :] = hll.pack(merged)
                return
    _write_back(buf, sp)


@command("pfmerge")
def pfmerge(c, argv):
    db = c.db
    node = c.node
    key = argv[1]
    merged, use_dense = _union(c, argv[1:])
    v = db.get_for_write(key)
    created = v is None
    if created:
        v = bytearray(hll.EMPTY)
        db.set(key, v)
    else:
        v = unshare(db, key, v)
    if use_dense and v[4] == hll.SPARSE and not _promote(v, hll.sparse_of(v)):
        raise CommandError(hll.CORRUPTED)
    if merged is not None:
        if v[4] == hll.DENSE:
            # Every register of the destination is in ``merged`` already: setting each
            # merged register (hllDenseSet keeps the larger) gives ``merged`` itself.
            v[hll.HDR_SIZE :] = hll.pack(merged)
        else:
            _set_registers_sparse(v, merged, node.config["hll-sparse-max-bytes"])
    _invalidate(v)
    if not created:
        node.key_modified(db, key)
    _notify(c, key)
    return OK


# -- PFDEBUG ---------------------------------------------------------------------------------


@command("pfdebug")
def pfdebug(c, argv):
    """PFDEBUG GETREG|DECODE|ENCODING|TODENSE key."""
    db = c.db
    key = argv[2]
    v = db.get_for_write(key)
    if v is None:
        raise CommandError("The specified key does not exist")
    _check(v)
    v = unshare(db, key, v)
    sub = copt(argv[1])
    if sub == b"GETREG":
        if v[4] == hll.SPARSE:
            if not _promote(v, hll.sparse_of(v)):
                raise CommandError(hll.CORRUPTED)
            c.node.dirty += 1  # forces propagation of the encoding change
        return b"".join([enc.array_header(hll.REGISTERS)] + [enc.integer(r) for r in hll.raw_from_dense(v)])
    if sub == b"DECODE":
        if v[4] != hll.SPARSE:
            raise CommandError("HLL encoding is not sparse")
        return enc.bulk(_decode(v))
    if sub == b"ENCODING":
        return b"+dense\r\n" if v[4] == hll.DENSE else b"+sparse\r\n"
    if sub == b"TODENSE":
        if v[4] == hll.DENSE:
            return ZERO
        if not _promote(v, hll.sparse_of(v)):
            raise CommandError(hll.CORRUPTED)
        c.node.dirty += 1
        return ONE
    name = argv[1].split(b"\0", 1)[0]
    raise CommandError(b"Unknown PFDEBUG subcommand '%b'" % name)


def _decode(v) -> bytes:
    """PFDEBUG DECODE: the opcodes as ``z:len``, ``Z:len`` and ``v:value,len``."""
    out = []
    for op in hll.sparse_of(v).opcodes():
        b = op[0]
        if b < 0x40:
            out.append(b"z:%d" % ((b & 63) + 1))
        elif b & 0x80:
            out.append(b"v:%d,%d" % (((b >> 2) & 31) + 1, (b & 3) + 1))
        else:
            out.append(b"Z:%d" % ((((b & 63) << 8) | op[1]) + 1))
    return b" ".join(out)
