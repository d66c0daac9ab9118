"""Keyspace notifications (notify.c): ``__keyspace@<db>__:<key>`` and ``__keyevent@<db>__:<event>``.

Design note
-----------
``notify-keyspace-events`` is kept as a bit mask on the node (``node.notify_flags``), so a
write only pays for a notification when some class is enabled. Commands call
``node.notify(db, key, event, cls)`` exactly where Redis calls notifyKeyspaceEvent, with
Redis's event name and class letter:

``g`` generic (del, expire, rename_from, ...)  ``$`` string  ``l`` list  ``s`` set  ``h`` hash
``z`` sorted set  ``t`` stream  ``d`` module  ``x`` expired  ``e`` evicted
``m`` key miss (``keymiss``, fired by read lookups)  ``n`` new key (``new``, fired by
``Database.set`` when the key was absent -- Redis's dbAdd)

``A`` stands for ``g$lshzxetd``: it does not include ``m`` or ``n``. Nothing is published
unless ``K`` (keyspace channel) or ``E`` (keyevent channel) is set too. For one event the
keyspace message goes out before the keyevent message; both go through ``node.publish``,
so they reach pattern subscribers (``PSUBSCRIBE __key*@*__:*``) like any message.
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
KEYSPACE = CLASS_BITS["K"]
KEYEVENT = CLASS_BITS["E"]
NOTIFY_NEW = CLASS_BITS["n"]
NOTIFY_KEYMISS = CLASS_BITS["m"]
#: The classes ``A`` stands for.
ALL_CLASSES = "g$lshzxetd"


def flags_to_mask(flags: str) -> int:
    """The mask for a flag string; 0 (nothing to do) unless K or E and some class are set."""
    mask = 0
    for ch in flags:
        if ch == "A":
            for c in ALL_CLASSES:
                mask |= CLASS_BITS[c]
        else:
            mask |= CLASS_BITS.get(ch, 0)
    if not mask & (KEYSPACE | KEYEVENT):
        return 0
    if not mask & ~(KEYSPACE | KEYEVENT):
        return 0
    return mask


#: Event names as bytes, encoded once.
_EVENT_BYTES: dict[str, bytes] = {}


def notify(node, db, key: bytes, event: str, cls: str) -> None:
    """notifyKeyspaceEvent: publish the keyspace and/or keyevent message for one event."""
    mask = node.notify_flags
    if not mask & CLASS_BITS[cls]:
        return
    ev = _EVENT_BYTES.get(event)
    if ev is None:
        ev = _EVENT_BYTES[event] = event.encode()
    if mask & KEYSPACE:
        node.publish(b"__keyspace@%d__:%b" % (db.id, key), ev)
    if mask & KEYEVENT:
        node.publish(b"__keyevent@%d__:%b" % (db.id, ev), key)
