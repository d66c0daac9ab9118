"""Lists: LPUSH ... LMPOP and the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.

Design note
-----------
Values are ``RList`` (``server/datatypes/list.py``): a deque, ``items``, of elements kept in
their encoded reply form, so replies are joins of stored bytes. Handlers follow
Redis 7.0's t_list.c step by step, because the order of its checks decides which error a
bad request gets (LRANGE parses its indexes before looking the key up, LINDEX after; LPOS
parses every option first...).

Bookkeeping is done as Redis does it, in a few helpers: a write signals the key
(``node.key_modified``: WATCH, dirty counter) and fires its keyspace event; a list that
becomes empty is deleted at once, with a ``del`` event (``_elements_removed``). The dirty
counter moves by what Redis adds (one per pushed or removed element, nothing for a trim that
trims nothing), because it decides propagation and INFO's rdb_changes_since_last_save.

Blocking commands pop at once when they can (and propagate as the plain pop: BLPOP ->
LPOP, BLMOVE -> LMOVE, BLMPOP -> LPOP key count). Otherwise they block through
``server/blocking.py``, with a serve callback per command that does the pop when a key is
ready and leaves the same propagation form. Inside EXEC or a script they answer their
null reply at once. CLIENT UNBLOCK is here too: it belongs with the blocking machinery.
"""

from __future__ import annotations

from itertools import islice

from protocol import encoder as enc
from protocol.encoder import EMPTY_ARRAY, MINUS_ONE, OK, ONE, ZERO

from .. import errors as E
from ..blocking import may_block, parse_timeout
from ..datatypes.list import RList, encode
from ..errors import CommandError
from .args import LLONG_MIN, parse_int, to_int
from .connection import subcommand_syntax_error
from .spec import command
from .typed import typed_lookups

#: getPositiveLongFromObjectOrReply's message: for non-integers too.
_NOT_POSITIVE = E.OUT_OF_RANGE_POSITIVE
_LPOP, _RPOP = b"LPOP", b"RPOP"
#: How LMOVE and RPOPLPUSH name the ends when a served BLMOVE is propagated (shared.left/right).
_SIDE = {True: b"left", False: b"right"}


# -- helpers ---------------------------------------------------------------------------------


def _word(arg: bytes) -> bytes:
    """An option as strcasecmp sees it: a C string (cut at NUL), lower-cased."""
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    return arg.lower()


def _side(arg: bytes) -> bool:
    """getListPositionFromObjectOrReply: True for LEFT (the head), False for RIGHT."""
    w = _word(arg)
    if w == b"left":
        return True
    if w == b"right":
        return False
    raise CommandError(E.SYNTAX)


def _positive(arg: bytes, message: str = _NOT_POSITIVE) -> int:
    """getPositiveLongFromObjectOrReply: 0..LONG_MAX, ``message`` for anything else."""
    v = parse_int(arg)
    if v is None or v < 0:
        raise CommandError(message)
    return v


def _at_least_one(arg: bytes, message: str) -> int:
    """getRangeLongFromObjectOrReply(1, LONG_MAX, message)."""
    v = parse_int(arg)
    if v is None or v < 1:
        raise CommandError(message)
    return v


#: lookupKeyRead / lookupKeyWrite + checkType: the list or None.
_read, _write = typed_lookups(RList)


def _notify(node, db, key: bytes, event: str, cls: str = "l") -> None:
    if node.notify_flags:
        node.notify(db, key, event, cls)


def _elements_removed(c, db, key: bytes, lst: RList, count: int, left: bool) -> None:
    """listElementsRemoved: the pop event, the key deleted if empty, dirty += count."""
    node = c.node
    _notify(node, db, key, "lpop" if left else "rpop")
    dirty = node.dirty
    if lst:
        node.key_modified(db, key)
    else:
        db.delete(key)
        _notify(node, db, key, "del", "g")
    node.dirty = dirty + count


def _range_bounds(n: int, start: int, end: int):
    """Redis's range clamping: (start, end) inclusive, or None for an empty range."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end


def _pop_range(lst: RList, count: int, left: bool) -> list[bytes]:
    return lst.pop_left(count) if left else lst.pop_right(count)


def _array(items: list[bytes]) -> bytes:
    """An array reply of stored (encoded) elements."""
    return b"*%d\r\n%b" % (len(items), b"".join(items))


def _pop_range_with_key(c, db, key: bytes, lst: RList, count: int, left: bool) -> bytes:
    """listPopRangeAndReplyWithKey: ``[key, [elements]]``; propagated as LPOP/RPOP key n."""
    items = _pop_range(lst, count, left)
    c.rewrite = [[_LPOP if left else _RPOP, key, b"%d" % len(items)]]
    _elements_removed(c, db, key, lst, len(items), left)
    return b"*2\r\n" + enc.bulk(key) + _array(items)


def _pop_one_with_key(c, db, key: bytes, lst: RList, left: bool) -> bytes:
    """BLPOP/BRPOP's immediate answer: ``[key, element]``; propagated as LPOP/RPOP key."""
    item = lst.items.popleft() if left else lst.items.pop()
    c.rewrite = [[_LPOP if left else _RPOP, key]]
    _elements_removed(c, db, key, lst, 1, left)
    return b"*2\r\n" + enc.bulk(key) + item


# -- pushes ----------------------------------------------------------------------------------


def _push(c, argv, left: bool, existing_only: bool) -> bytes:
    db = c.db
    key = argv[1]
    node = c.node
    lst = db.get_for_write(key)
    if lst is None:
        if existing_only:
            return ZERO
        lst = RList()
        db.set(key, lst)  # dbAdd: wakes clients blocked on the key
    elif lst.__class__ is not RList:
        raise CommandError(E.WRONGTYPE)
    else:
        node.key_modified(db, key)
    items = lst.items
    n = len(argv)
    if n == 3:  # one element: the common case, without the generic machinery
        v = argv[2]
        if left:
            items.appendleft(b"$%d\r\n%b\r\n" % (len(v), v))
        else:
            items.append(b"$%d\r\n%b\r\n" % (len(v), v))
    else:
        if left:
            items.extendleft(map(encode, islice(argv, 2, None)))
        else:
            items.extend(map(encode, islice(argv, 2, None)))
        node.dirty += n - 3  # one change per element, as Redis counts them
    if node.notify_flags:
        node.notify(db, key, "lpush" if left else "rpush", "l")
    return enc.integer(len(items))


def _push_run(left: bool):
    """The run handler of LPUSH (``left``) or RPUSH, see ``CommandSpec.run``: serves
    ``reqs[i:]`` while they push one element onto an existing list without a TTL, in the
    state ``Database.write_run_state`` describes; ``_push`` inlined. A missing key (the list
    is created), another type or a TTL is left to the command."""
    integer = enc.integer

    def run(c, reqs: list, i: int, out: list) -> int:
        db = c.db
        state = db.write_run_state()
        if state is None:
            return i
        data, expires, lru, now_lru = state
        name = reqs[i][0]
        append = out.append
        j = i
        for argv in islice(reqs, i, None):
            if len(argv) != 3 or argv[0] != name:
                break
            key = argv[1]
            lst = data.get(key)
            if lst.__class__ is not RList or (expires and key in expires):
                break
            items = lst.items
            v = argv[2]
            if left:
                items.appendleft(b"$%d\r\n%b\r\n" % (len(v), v))
            else:
                items.append(b"$%d\r\n%b\r\n" % (len(v), v))
            lru[key] = now_lru
            append(integer(len(items)))
            j += 1
        db.node.dirty += j - i
        return j

    return run


@command("lpush", run=_push_run(True))
def lpush(c, argv):
    return _push(c, argv, True, False)


@command("rpush", run=_push_run(False))
def rpush(c, argv):
    return _push(c, argv, False, False)


@command("lpushx")
def lpushx(c, argv):
    return _push(c, argv, True, True)


@command("rpushx")
def rpushx(c, argv):
    return _push(c, argv, False, True)


# -- pops ------------------------------------------------------------------------------------


def _pop(c, argv, left: bool) -> bytes:
    n = len(argv)
    if n > 3:
        raise CommandError(E.wrong_arity("lpop" if left else "rpop"))
    count = _positive(argv[2]) if n == 3 else 0
    db = c.db
    key = argv[1]
    lst = _write(db, key)
    if lst is None:
        return c.proto.null_array if n == 3 else c.proto.null
    if n == 2:
        item = lst.items.popleft() if left else lst.items.pop()
        _elements_removed(c, db, key, lst, 1, left)
        return item
    if not count:
        return EMPTY_ARRAY
    items = _pop_range(lst, count, left)
    _elements_removed(c, db, key, lst, len(items), left)
    return _array(items)


def _pop_run(left: bool):
    """The run handler of LPOP (``left``) or RPOP, see ``CommandSpec.run``: serves ``reqs[i:]``
    while they pop one element from a list without a TTL that keeps at least one more, or
    meet a missing key, in the state ``Database.write_run_state`` describes; ``_pop``
    inlined. A count, the last element (the key goes), another type or a TTL is left to the
    command."""

    def run(c, reqs: list, i: int, out: list) -> int:
        db = c.db
        state = db.write_run_state()
        if state is None:
            return i
        data, expires, lru, now_lru = state
        name = reqs[i][0]
        null = c.proto.null
        append = out.append
        j = i
        popped = 0
        for argv in islice(reqs, i, None):
            if len(argv) != 2 or argv[0] != name:
                break
            key = argv[1]
            lst = data.get(key)
            if lst is None:  # no key (one with a TTL is in data too): lookupKeyWrite counts no miss
                append(null)
            elif lst.__class__ is not RList or len(lst.items) < 2 or (expires and key in expires):
                break
            else:
                append(lst.items.popleft() if left else lst.items.pop())
                lru[key] = now_lru
                popped += 1
            j += 1
        db.node.dirty += popped
        return j

    return run


@command("lpop", run=_pop_run(True))
def lpop(c, argv):
    return _pop(c, argv, True)


@command("rpop", run=_pop_run(False))
def rpop(c, argv):
    return _pop(c, argv, False)


def _mpop_args(argv, numkeys_idx: int):
    """lmpopGenericCommand's parsing: (keys, left, count)."""
    numkeys = _at_least_one(argv[numkeys_idx], "numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(E.SYNTAX)
    left = _side(argv[where_idx])
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and _word(argv[j]) == b"count" and j + 1 < n:
            count = _at_least_one(argv[j + 1], "count should be greater than 0")
            j += 2
        else:
            raise CommandError(E.SYNTAX)
    return argv[numkeys_idx + 1 : where_idx], left, (1 if count == -1 else count)


@command("lmpop")
def lmpop(c, argv):
    keys, left, count = _mpop_args(argv, 1)
    db = c.db
    for key in keys:
        lst = _write(db, key)
        if lst:
            return _pop_range_with_key(c, db, key, lst, count, left)
    return c.proto.null_array


# -- reads -----------------------------------------------------------------------------------


@command("llen")
def llen(c, argv):
    lst = _read(c, argv[1])
    return ZERO if lst is None else enc.integer(len(lst))


@command("lindex")
def lindex(c, argv):
    lst = _read(c, argv[1])
    if lst is None:
        return c.proto.null
    index = to_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if 0 <= index < n:
        return lst.items[index]
    return c.proto.null


@command("lrange")
def lrange(c, argv):
    start = to_int(argv[2])
    end = to_int(argv[3])
    lst = _read(c, argv[1])
    if lst is None:
        return EMPTY_ARRAY
    bounds = _range_bounds(len(lst), start, end)
    if bounds is None:
        return EMPTY_ARRAY
    return _array(lst.range(*bounds))


@command("lpos")
def lpos(c, argv):
    element = argv[2]
    rank, count, maxlen = 1, -1, 0
    j, n = 3, len(argv)
    while j < n:
        opt = _word(argv[j])
        more = j + 1 < n
        if opt == b"rank" and more:
            rank = to_int(argv[j + 1])
            if rank == 0:
                raise CommandError(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second "
                    "... or use negative to start from the end of the list"
                )
        elif opt == b"count" and more:
            count = _positive(argv[j + 1], "COUNT can't be negative")
        elif opt == b"maxlen" and more:
            maxlen = _positive(argv[j + 1], "MAXLEN can't be negative")
        else:
            raise CommandError(E.SYNTAX)
        j += 2
    lst = _read(c, argv[1])
    if lst is None:
        return c.proto.null if count == -1 else EMPTY_ARRAY
    found = _lpos(lst, encode(element), rank, count, maxlen)
    if count == -1:
        return enc.integer(found[0]) if found else c.proto.null
    return b"*%d\r\n" % len(found) + b"".join(enc.integer(i) for i in found)


def _lpos(lst: RList, item: bytes, rank: int, count: int, maxlen: int) -> list[int]:
    """The matching indexes LPOS reports: from the ``rank``-th match on (negative: from the
    tail), at most ``count`` of them (0: all; -1: just one), looking at ``maxlen`` elements.

    RANK -9223372036854775808 cannot be negated in C: Redis then takes every match from the
    tail, and its COUNT test overflows so that COUNT never stops the scan."""
    n = len(lst)
    from_tail = rank < 0
    unlimited_rank = rank == LLONG_MIN
    if from_tail:
        rank = -rank
        items = reversed(lst.items)
    else:
        items = iter(lst.items)
    if maxlen:
        items = islice(items, maxlen)
    wanted = 1 if count == -1 else count
    found: list[int] = []
    matches = 0
    for index, x in enumerate(items):
        if x != item:
            continue
        matches += 1
        if unlimited_rank or matches >= rank:
            found.append(n - index - 1 if from_tail else index)
            if wanted and len(found) >= wanted and not (unlimited_rank and count > 0):
                break
    return found


# -- in-place edits --------------------------------------------------------------------------


@command("lset")
def lset(c, argv):
    db = c.db
    key = argv[1]
    lst = db.get_for_write(key)
    if lst is None:
        raise CommandError(E.NO_SUCH_KEY)
    if lst.__class__ is not RList:
        raise CommandError(E.WRONGTYPE)
    index = to_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError(E.INDEX_OUT_OF_RANGE)
    lst.items[index] = encode(argv[3])
    node = c.node
    node.key_modified(db, key)
    _notify(node, db, key, "lset")
    return OK


@command("linsert")
def linsert(c, argv):
    where = _word(argv[2])
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise CommandError(E.SYNTAX)
    db = c.db
    key = argv[1]
    lst = _write(db, key)
    if lst is None:
        return ZERO
    items = lst.items
    try:
        index = items.index(encode(argv[3]))
    except ValueError:
        return MINUS_ONE
    items.insert(index + 1 if after else index, encode(argv[4]))
    node = c.node
    node.key_modified(db, key)
    _notify(node, db, key, "linsert")
    return enc.integer(len(lst))


@command("lrem")
def lrem(c, argv):
    count = to_int(argv[2])
    db = c.db
    key = argv[1]
    lst = _write(db, key)
    if lst is None:
        return ZERO
    removed = lst.remove_matches(encode(argv[3]), count)
    if removed:
        node = c.node
        dirty = node.dirty
        node.key_modified(db, key)
        _notify(node, db, key, "lrem")
        if not lst:
            db.delete(key)
            _notify(node, db, key, "del", "g")
        node.dirty = dirty + removed
    return enc.integer(removed)


@command("ltrim")
def ltrim(c, argv):
    start = to_int(argv[2])
    end = to_int(argv[3])
    db = c.db
    key = argv[1]
    lst = _write(db, key)
    if lst is None:
        return OK
    removed = lst.trim(start, end)
    node = c.node
    dirty = node.dirty
    _notify(node, db, key, "ltrim")
    if lst:
        node.key_modified(db, key)
    else:
        db.delete(key)
        _notify(node, db, key, "del", "g")
    node.dirty = dirty + removed  # a trim that trims nothing is not propagated
    return OK


# -- moves -----------------------------------------------------------------------------------


def _move(c, db, src_key: bytes, dst_key: bytes, src: RList, dst, from_left: bool, to_left: bool) -> bytes:
    """The pop and push of LMOVE (lmoveGenericCommand + lmoveHandlePush): events for the
    push, then the pop, then the deletion of an emptied source. ``dst`` is the destination
    list or None (checked already). Does not count the change in ``dirty``."""
    node = c.node
    item = src.items.popleft() if from_left else src.items.pop()
    if dst is None:
        dst = RList()
        db.set(dst_key, dst)  # dbAdd: may wake the next client of a BLMOVE chain
    else:
        node.key_modified(db, dst_key)
    if to_left:
        dst.items.appendleft(item)
    else:
        dst.items.append(item)
    _notify(node, db, dst_key, "lpush" if to_left else "rpush")
    _notify(node, db, src_key, "lpop" if from_left else "rpop")
    if src:
        node.key_modified(db, src_key)
    else:
        db.delete(src_key)
        _notify(node, db, src_key, "del", "g")
    return item


def _lmove(c, argv, from_left: bool, to_left: bool) -> bytes:
    db = c.db
    src = _write(db, argv[1])
    if src is None:
        return c.proto.null
    dst = _write(db, argv[2])
    node = c.node
    dirty = node.dirty
    reply = _move(c, db, argv[1], argv[2], src, dst, from_left, to_left)
    node.dirty = dirty + 1
    return reply


@command("lmove")
def lmove(c, argv):
    from_left = _side(argv[3])
    to_left = _side(argv[4])
    return _lmove(c, argv, from_left, to_left)


@command("rpoplpush")
def rpoplpush(c, argv):
    return _lmove(c, argv, False, True)


# -- blocking --------------------------------------------------------------------------------


def _serve_pop(left: bool):
    """BLPOP/BRPOP served: ``[key, element]``, propagated as LPOP/RPOP key. Redis counts no
    change for it (serveClientBlockedOnList adds nothing to dirty)."""

    def serve(c, db, key, lst):
        node = c.node
        dirty = node.dirty
        item = lst.items.popleft() if left else lst.items.pop()
        c.rewrite = [[_LPOP if left else _RPOP, key]]
        _notify(node, db, key, "lpop" if left else "rpop")
        if not lst:
            db.delete(key)
            _notify(node, db, key, "del", "g")
        node.dirty = dirty
        return b"*2\r\n" + enc.bulk(key) + item

    return serve


def _serve_mpop(left: bool, count: int):
    """BLMPOP served: like LMPOP (listPopRangeAndReplyWithKey, dirty += n)."""

    def serve(c, db, key, lst):
        return _pop_range_with_key(c, db, key, lst, count, left)

    return serve


def _serve_move(dst_key: bytes, from_left: bool, to_left: bool, as_rpoplpush: bool):
    """BLMOVE/BRPOPLPUSH served: the move, propagated as LMOVE (ends spelt ``left``/``right``)
    or RPOPLPUSH. A destination of another type answers WRONGTYPE and ends the block."""

    def serve(c, db, key, lst):
        dst = _write(db, dst_key)
        node = c.node
        dirty = node.dirty
        if as_rpoplpush:
            c.rewrite = [[b"RPOPLPUSH", key, dst_key]]
        else:
            c.rewrite = [[b"LMOVE", key, dst_key, _SIDE[from_left], _SIDE[to_left]]]
        reply = _move(c, db, key, dst_key, lst, dst, from_left, to_left)
        node.dirty = dirty
        return reply

    return serve


def _blocking_pop(c, argv, keys, left: bool, timeout_arg: bytes, count: int) -> bytes:
    """blockingPopGenericCommand: pop from the first non-empty key, or block on them all.
    ``count`` is -1 for BLPOP/BRPOP (one element), n for BLMPOP."""
    deadline = parse_timeout(c, timeout_arg)
    db = c.db
    for key in keys:
        lst = _write(db, key)
        if lst:
            if count != -1:
                return _pop_range_with_key(c, db, key, lst, count, left)
            return _pop_one_with_key(c, db, key, lst, left)
    if not may_block(c):
        return c.proto.null_array
    serve = _serve_pop(left) if count == -1 else _serve_mpop(left, count)
    return c.node.blocking.block(c, argv, keys, deadline, RList.redis_type, serve)


@command("blpop")
def blpop(c, argv):
    return _blocking_pop(c, argv, argv[1:-1], True, argv[-1], -1)


@command("brpop")
def brpop(c, argv):
    return _blocking_pop(c, argv, argv[1:-1], False, argv[-1], -1)


@command("blmpop")
def blmpop(c, argv):
    keys, left, count = _mpop_args(argv, 2)
    return _blocking_pop(c, argv, keys, left, argv[1], count)


def _blmove(c, argv, from_left: bool, to_left: bool, deadline: int, as_rpoplpush: bool) -> bytes:
    db = c.db
    src = _write(db, argv[1])
    if src is not None:
        reply = _lmove(c, argv, from_left, to_left)
        if as_rpoplpush:
            c.rewrite = [[b"RPOPLPUSH", argv[1], argv[2]]]
        else:
            c.rewrite = [[b"LMOVE", argv[1], argv[2], argv[3], argv[4]]]
        return reply
    if not may_block(c):
        return c.proto.null
    serve = _serve_move(argv[2], from_left, to_left, as_rpoplpush)
    return c.node.blocking.block(c, argv, (argv[1],), deadline, RList.redis_type, serve)


@command("blmove")
def blmove(c, argv):
    from_left = _side(argv[3])
    to_left = _side(argv[4])
    deadline = parse_timeout(c, argv[5])
    return _blmove(c, argv, from_left, to_left, deadline, False)


@command("brpoplpush")
def brpoplpush(c, argv):
    deadline = parse_timeout(c, argv[3])
    return _blmove(c, argv, False, True, deadline, True)


# -- CLIENT UNBLOCK --------------------------------------------------------------------------


@command("client|unblock")
def client_unblock(c, argv):
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked (and is no longer)."""
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    error = False
    if len(argv) == 4:
        reason = _word(argv[3])
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            raise CommandError("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    client_id = to_int(argv[2])
    node = c.node
    target = node.clients.get(client_id)
    if target is None or not node.blocking.unblock(target, error):
        return ZERO
    if error:
        # Redis marks a command failed when any error reply was produced while it ran,
        # even one sent to another client.
        node.commands.get(b"client").subcommands[b"unblock"].failed_calls += 1
    return ONE
