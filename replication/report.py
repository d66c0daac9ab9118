"""What replication shows: INFO's ``# Replication`` section and ROLE.

Design note
-----------
Both follow Redis 7.0.15 to the byte (genRedisInfoString, roleCommand); Sentinel and
clients parse them. The replication section replaces the default one of ``server/info.py``
through its ``section`` hook. The role is printed ``slave``, replicas' lines are
``slaveN:ip=...,port=...,state=...,offset=...,lag=...``, and a replica's lines about its
master come before ``connected_slaves``.
"""

from __future__ import annotations

import time

from protocol import encoder as enc
from server.info import section

from .master import ONLINE, STATE_NAMES


@section("replication")
def replication_section(node) -> list:
    repl = node.replication
    fields: list = [("role", "master" if repl.master_host is None else "slave")]
    if repl.master_host is not None:
        fields += _replica_fields(node, repl)
    replicas = repl.replicas
    fields.append(("connected_slaves", len(replicas.attached)))
    config = node.config
    if config["min-replicas-to-write"] and config["min-replicas-max-lag"]:
        fields.append(("min_slaves_good_slaves", replicas.good))
    now = int(time.time())
    for i, r in enumerate(replicas.attached):
        lag = now - r.ack_time if r.state == ONLINE else 0
        fields.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d"
                       % (r.address, r.port, STATE_NAMES[r.state], r.ack_off, lag)))
    backlog = repl.backlog
    fields += [
        ("master_failover_state", repl.failover.state),
        ("master_replid", repl.replid),
        ("master_replid2", repl.replid2),
        ("master_repl_offset", repl.master_repl_offset),
        ("second_repl_offset", repl.second_replid_offset),
        ("repl_backlog_active", int(backlog is not None)),
        ("repl_backlog_size", config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", backlog.first_byte_offset if backlog is not None else 0),
        ("repl_backlog_histlen", backlog.histlen if backlog is not None else 0),
    ]
    return fields


def _replica_fields(node, repl) -> list:
    up = repl.upstream
    now = time.time()
    master = up.master
    read_off, applied_off = up.offsets()
    fields = [
        ("master_host", repl.master_host),
        ("master_port", repl.master_port),
        ("master_link_status", "up" if up.connected else "down"),
        ("master_last_io_seconds_ago", (node.clock.ms - master.last_interaction) // 1000 if master is not None else -1),
        ("master_sync_in_progress", int(up.state == "sync")),
        ("slave_read_repl_offset", read_off),
        ("slave_repl_offset", applied_off),
    ]
    if up.state == "sync":
        link = up.link
        shake = link.handshake if link is not None else None
        total = max(shake.transfer_size, 0) if shake is not None else 0
        read = shake.transfer_read if shake is not None else 0
        fields += [
            ("master_sync_total_bytes", total),
            ("master_sync_read_bytes", read),
            ("master_sync_left_bytes", total - read),
            ("master_sync_perc", "%.2f" % (read * 100.0 / total if total else 0.0)),
            ("master_sync_last_io_seconds_ago", int(now - up.last_io)),
        ]
    if not up.connected:
        fields.append(("master_link_down_since_seconds", int(now - up.down_since) if up.down_since else -1))
    config = node.config
    fields += [
        ("slave_priority", config["replica-priority"]),
        ("slave_read_only", int(bool(config["replica-read-only"]))),
        ("replica_announced", int(bool(config["replica-announced"]))),
    ]
    return fields


def role_reply(node) -> bytes:
    """ROLE (roleCommand)."""
    repl = node.replication
    if repl.master_host is None:
        items = [
            enc.bulk_array([r.address.encode(), b"%d" % r.port, b"%d" % r.ack_off])
            for r in repl.replicas.attached
            if r.state == ONLINE
        ]
        return b"*3\r\n$6\r\nmaster\r\n" + enc.integer(repl.master_repl_offset) + enc.array(items)
    up = repl.upstream
    master = up.master
    return b"".join((
        b"*5\r\n$5\r\nslave\r\n",
        enc.bulk(repl.master_host.encode()),
        enc.integer(repl.master_port),
        enc.bulk(up.role_state.encode()),
        enc.integer(master.reploff if master is not None else -1),
    ))
