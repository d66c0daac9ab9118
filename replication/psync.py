"""The master's PSYNC decision: continue from the backlog, or start a full resynchronization.

Design note
-----------
``decide(history, replid, offset)`` is masterTryPartialResynchronization without the I/O:
given what the master knows (``History``: its replication ID, its previous ID with the
offset up to which that one is valid, and the backlog's window) and what the replica asked
for (``PSYNC <replid> <offset>``, ``offset`` being the first byte the replica lacks), it
returns a ``Decision``: ``partial`` or not, and why, with the log line Redis writes. The
master side (``master.py``) acts on it.

A partial resynchronization needs both:

* the right history: ``replid`` is the current ID, or the previous one (``replid2``) and
  the replica does not ask for bytes past the point where the IDs were switched
  (``offset <= second_replid_offset``);
* the bytes: a backlog exists and ``first_byte_offset <= offset <= master_repl_offset + 1``.

``?`` (a replica without history) always means a full resynchronization.
"""

from __future__ import annotations

from dataclasses import dataclass

#: replid2 when there is no previous history (40 zeros), and its offset.
NO_REPLID = "0" * 40


@dataclass(frozen=True)
class History:
    replid: str
    replid2: str
    second_replid_offset: int
    #: master_repl_offset: the offset of the last byte of the stream (the backlog's end).
    offset: int
    #: The backlog's first byte offset, None without a backlog.
    backlog_first: int | None


@dataclass(frozen=True)
class Decision:
    partial: bool
    #: "continue", "requested" (PSYNC ?), "replid", "replid2-offset", "backlog"
    reason: str
    #: The line Redis logs at NOTICE for a refusal ("" when accepted).
    log: str = ""
    #: An extra WARNING line (an offset beyond the master's end).
    warning: str = ""


def decide(history: History, replid: str, offset: int, replica_name: str = "") -> Decision:
    """See the module docstring. ``replid`` is compared case-insensitively, as strcasecmp does."""
    asked = replid.lower()
    current = history.replid.lower()
    previous = history.replid2.lower()
    if asked != current and (asked != previous or offset > history.second_replid_offset):
        if replid[:1] == "?":
            return Decision(False, "requested", "Full resync requested by replica %s" % replica_name)
        if asked != current and asked != previous:
            return Decision(
                False,
                "replid",
                "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for "
                "'%s', my replication IDs are '%s' and '%s')" % (replid, history.replid, history.replid2),
            )
        return Decision(
            False,
            "replid2-offset",
            "Partial resynchronization not accepted: Requested offset for second ID was %d, but I can "
            "reply up to %d" % (offset, history.second_replid_offset),
        )
    first = history.backlog_first
    if first is None or not first <= offset <= history.offset + 1:
        warning = ""
        if offset > history.offset:
            warning = (
                "Warning: replica %s tried to PSYNC with an offset that is greater than the master "
                "replication offset." % replica_name
            )
        return Decision(
            False,
            "backlog",
            "Unable to partial resync with replica %s for lack of backlog (Replica request was: %d)."
            % (replica_name, offset),
            warning,
        )
    return Decision(True, "continue")
