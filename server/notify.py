"""Keyspace notifications (notify.c): ``__keyspace@<db>__:<key>`` and ``__keyevent@<db>__:<event>``.

``notify-keyspace-events`` is kept as a bit mask on the node, so a write only pays for a
notification when some class is enabled. Commands call ``node.notify(db, key, event, cls)``
with Redis's event name and class letter (``$`` string, ``g`` generic, ``x`` expired...).
"""

from __future__ import annotations

CLASS_BITS = {
    "K": 1 << 0,  # keyspace channel
    "E": 1 << 1,  # keyevent channel
    "g": 1 << 2,
    "$": 1 << 3,
    "l": 1 << 4,
    "s": 1 << 5,
    "h": 1 << 6,
    "z": 1 << 7,
    "x": 1 << 8,
    "e": 1 << 9,
    "t": 1 << 10,
    "m": 1 << 11,
    "d": 1 << 12,
    "n": 1 << 13,
}


def flags_to_mask(flags: str) -> int:
    """The mask for a canonical flag string; 0 unless K or E and some class are set."""
    mask = 0
    for ch in flags:
        if ch == "A":
            for c in "g$lshzxetd":
                mask |= CLASS_BITS[c]
        else:
            mask |= CLASS_BITS.get(ch, 0)
    if not mask & (CLASS_BITS["K"] | CLASS_BITS["E"]):
        return 0
    if not mask & ~(CLASS_BITS["K"] | CLASS_BITS["E"]):
        return 0
    return mask


def notify(node, db, key: bytes, event: str, cls: str) -> None:
    mask = node.notify_flags
    if not mask & CLASS_BITS[cls]:
        return
    ev = event.encode()
    if mask & CLASS_BITS["K"]:
        node.publish(b"__keyspace@%d__:%b" % (db.id, key), ev)
    if mask & CLASS_BITS["E"]:
        node.publish(b"__keyevent@%d__:%b" % (db.id, ev), key)
