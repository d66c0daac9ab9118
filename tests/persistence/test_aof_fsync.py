"""``appendfsync always | everysec | no`` seen from the system calls, Vermilion beside real Redis.

A SIGKILL keeps the page cache, so the crash tests cannot tell a write(2) from an fsync. Here
each server runs under ``strace -f`` during a write load from several clients, and the order
of its calls is checked against each policy's promise:

* ``always``: no reply leaves after a SET was read until that SET is written to the incr file
  *and* ``fdatasync``-ed, by the thread that serves the clients (group commit: one sync may
  cover several clients' commands);
* ``everysec``: the incr file is ``fdatasync``-ed by a background thread only (the event loop
  never waits for the disk), about once a second;
* ``no``: commands reach the file (write) before their replies; the file is never synced.

Real Redis 7.0 runs the same load under the same checks, so a check that Redis fails would be
a wrong reading of Redis, not a Vermilion property.
"""

from __future__ import annotations

import math
import time

import pytest

from tests.persistence.aof_support import (
    WriteLoad,
    kill_traced,
    read_trace,
    spawn_traced,
    wait_ready,
)

LOAD_SECONDS = 1.5
READS = ("read", "recvfrom")
WRITES = ("write", "writev", "sendto", "sendmsg")
SYNCS = ("fsync", "fdatasync")
#: A SET command as strace prints the data read (escaped), not CLIENT SETINFO.
SET = "$3\\r\\nSET\\r\\n"


def traced_load(tmp_path, kind: str, policy: str) -> tuple[list, float, int]:
    """Run ``kind`` with ``appendfsync <policy>`` under strace, load it, SIGKILL it: (the
    calls, the load's duration, acknowledged writes)."""
    data = tmp_path / kind
    data.mkdir()
    trace = tmp_path / ("%s.trace" % kind)
    sp = spawn_traced(kind, data, trace, "--appendonly", "yes", "--appendfsync", policy)
    try:
        wait_ready(sp, timeout=40)
        load = WriteLoad(sp.port, clients=3).start()
        started = time.monotonic()
        time.sleep(LOAD_SECONDS)
        load.stop()
        duration = time.monotonic() - started
    finally:
        kill_traced(sp)
    return read_trace(trace), duration, len(load.acked)


def serving_thread(calls) -> int:
    """The thread that writes to the clients' sockets most (the event loop)."""
    counts: dict = {}
    for c in calls:
        if c.on_socket and c.name in WRITES:
            counts[c.tid] = counts.get(c.tid, 0) + 1
    return max(counts, key=counts.get)


def early_replies(calls, need_sync: bool) -> tuple[int, int]:
    """(replies sent while a SET already read was not yet written -- or, with
    ``need_sync``, not yet synced -- to the incr file, replies checked)."""
    loop = serving_thread(calls)
    unwritten = unsynced = False
    early = replies = 0
    for c in calls:
        if c.tid != loop:
            continue
        if c.on_socket and c.name in READS and (c.result or 0) > 0 and SET in c.args:
            unwritten = True
        elif c.on_incr_file and c.name in WRITES:
            unwritten, unsynced = False, True
        elif c.on_incr_file and c.name in SYNCS:
            unsynced = False
        elif c.on_socket and c.name in WRITES:
            replies += 1
            if unwritten or (need_sync and unsynced):
                early += 1
    return early, replies


def incr_syncs(calls) -> list:
    return [c for c in calls if c.on_incr_file and c.name in SYNCS]


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_always_syncs_the_commands_before_any_reply_leaves(tmp_path, kind):
    calls, _, acked = traced_load(tmp_path, kind, "always")
    early, replies = early_replies(calls, need_sync=True)
    assert acked >= 100 and replies >= acked
    assert early == 0, "%d of %d replies left before their SET was on disk" % (early, replies)
    loop = serving_thread(calls)
    syncs = incr_syncs(calls)
    assert syncs and all(c.tid == loop for c in syncs)  # the loop itself waits for the disk
    assert len(syncs) <= acked  # ... once per iteration, not necessarily once per write


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_everysec_syncs_about_once_a_second_off_the_event_loop(tmp_path, kind):
    calls, duration, acked = traced_load(tmp_path, kind, "everysec")
    assert acked >= 100
    loop = serving_thread(calls)
    syncs = incr_syncs(calls)
    assert syncs, "no fdatasync at all"
    assert all(c.tid != loop for c in syncs), "the event loop synced the AOF itself"
    assert len(syncs) <= math.ceil(duration) + 2, "%d syncs in %.1f s" % (len(syncs), duration)


@pytest.mark.parametrize("kind", ["redis", "vermilion"])
def test_no_writes_before_replying_and_never_syncs(tmp_path, kind):
    calls, _, acked = traced_load(tmp_path, kind, "no")
    early, replies = early_replies(calls, need_sync=False)
    assert acked >= 100 and replies >= acked
    assert early == 0, "%d of %d replies left before their SET was written" % (early, replies)
    assert not incr_syncs(calls)
