"""Blocked clients on both servers: the machinery of the list and sorted-set differential
tests (BLPOP & co., BZPOPMIN & co.).

- ``run_scenario``/``check_scenario``: a script of steps by named clients (block, send, call,
  read, blocked?, close) run on each server, what every step observed compared.
- ``check_served_blockers``: clients blocked on each server, then writes through a ``Mirror``;
  the writes' replies, the served clients' replies, the propagated commands and the keyspace
  events compared.
- ``dirty_deltas``: how far rdb_changes_since_last_save moves when a write serves a client.

A client counts as blocked once CLIENT LIST shows the ``b`` flag (``wait_blocked``), so no step
races the server.
"""

from __future__ import annotations

import time

from tests.differential import same_stream
from tests.support.resp import RawClient


def blocked_ids(admin: RawClient) -> set[int]:
    listing = admin.call("CLIENT", "LIST").decode()
    ids = set()
    for line in listing.split("\n"):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "b" in fields.get("flags", ""):
            ids.add(int(fields["id"]))
    return ids


def client_id(conn: RawClient) -> int:
    return int(conn.call("CLIENT", "ID")[1:-2])


def wait_blocked(admin: RawClient, client_id: int, blocked: bool = True, timeout: float = 5.0) -> None:
    """Wait until the client is (or is no longer) blocked, as CLIENT LIST shows it."""
    deadline = time.monotonic() + timeout
    while (client_id in blocked_ids(admin)) != blocked:
        if time.monotonic() > deadline:
            raise TimeoutError(f"client {client_id} blocked={not blocked} after {timeout}s")
        time.sleep(0.005)


def wait_gone(admin: RawClient, client_id: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while b"id=%d " % client_id in admin.call("CLIENT", "LIST"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"client {client_id} still listed")
        time.sleep(0.005)


def block_clients(admin: RawClient, port: int, commands) -> list[RawClient]:
    """One new connection per command, each sent its (blocking) command and waited for until
    it blocks; the connections, in order."""
    conns = []
    for cmd in commands:
        conn = RawClient(port)
        cid = client_id(conn)
        conn.send_command(*cmd)
        wait_blocked(admin, cid)
        conns.append(conn)
    return conns


# -- scenarios -------------------------------------------------------------------------------


def run_scenario(port: int, steps) -> list:
    """Run ``steps`` against one server and return what each step observed.

    A step is ``(kind, client, *command)``: ``block`` sends a command that must block and
    waits until it has; ``send`` sends without waiting; ``call`` sends and reads the reply;
    ``read`` reads the next reply of that client; ``blocked`` records whether the client is
    still blocked; ``close`` drops the connection. ``{id:x}`` in an argument is client x's id.
    """
    admin = RawClient(port)
    admin.call("FLUSHALL")
    admin.call("CONFIG", "RESETSTAT")
    conns: dict[str, RawClient] = {}
    ids: dict[str, int] = {}
    seen = []

    def conn_for(name: str) -> RawClient:
        if name not in conns:
            conns[name] = RawClient(port)
            ids[name] = client_id(conns[name])
        return conns[name]

    def arg(a):
        if isinstance(a, str) and a.startswith("{id:"):
            return str(ids[a[4:-1]])
        return a

    try:
        for kind, name, *cmd in steps:
            conn = conn_for(name)
            cmd = [arg(a) for a in cmd]
            if kind == "block":
                conn.send_command(*cmd)
                wait_blocked(admin, ids[name])
            elif kind == "send":
                conn.send_command(*cmd)
            elif kind == "call":
                seen.append((name, conn.call(*cmd)))
            elif kind == "read":
                seen.append((name, conn.read_reply()))
            elif kind == "blocked":
                seen.append((name, ids[name] in blocked_ids(admin)))
            elif kind == "close":
                conn.close()
                del conns[name]
                wait_gone(admin, ids[name])
            else:
                raise ValueError(kind)
    finally:
        for conn in conns.values():
            conn.close()
        admin.close()
    return seen


#: Commands the scenario runner itself sends a varying number of times.
_RUNNER_COMMANDS = (b"cmdstat_client|list:", b"cmdstat_client|id:", b"cmdstat_info:", b"cmdstat_config|resetstat:")


def _counters(reply: bytes) -> bytes:
    """INFO commandstats without the timings (usec) that cannot match."""
    lines = []
    for line in sorted(reply.split(b"\r\n")):  # Redis lists them in hash order
        if line.startswith(_RUNNER_COMMANDS):
            continue
        if line.startswith(b"cmdstat_"):
            name, _, fields = line.partition(b":")
            kept = [f for f in fields.split(b",") if not f.startswith(b"usec")]
            line = name + b":" + b",".join(kept)
        if line.startswith(b"$"):
            continue
        lines.append(line)
    return b"\r\n".join(lines)


def normalize_observed(observed: list) -> list:
    """What a scenario observed, without what cannot match: timings and the runner's own
    calls in INFO commandstats, all but the blocked-client lines of INFO clients, HELLO's ids."""
    out = []
    for name, value in observed:
        if isinstance(value, bytes) and b"# Commandstats" in value:
            value = _counters(value)
        elif isinstance(value, bytes) and b"# Clients" in value:
            value = b"\r\n".join(line for line in value.split(b"\r\n") if line.startswith((b"blocked", b"clients_in")))
        elif isinstance(value, bytes) and value.startswith(b"%7"):
            value = b"HELLO 3"
        out.append((name, value))
    return out


def check_scenario(redis_port: int, our_port: int, steps) -> None:
    """Run the scenario on real Redis, then on ours; assert both observed the same."""
    theirs = normalize_observed(run_scenario(redis_port, steps))
    ours = normalize_observed(run_scenario(our_port, steps))
    assert ours == theirs


# -- served clients: propagation and the dirty counter -----------------------------------------


def check_served_blockers(mirrored, blockers, writes) -> None:
    """Block one client per command of ``blockers`` on each side of the ``Mirror``, then run
    ``writes``: the writes' replies, the served clients' replies, the propagated commands and
    the keyspace events must be Redis's."""
    sides = []
    for port in (mirrored.real.port, mirrored.node.port):
        admin = RawClient(port)
        admin.call("FLUSHALL")
        sides.append((admin, block_clients(admin, port, blockers)))
    (r_replies, r_stream, r_events), (o_replies, o_stream, o_events) = mirrored.run(writes)
    replies = [[conn.read_reply() for conn in conns] for _, conns in sides]
    for admin, conns in sides:
        for conn in conns:
            conn.close()
        admin.close()
    assert o_replies == r_replies
    assert replies[1] == replies[0]
    assert same_stream(r_stream, o_stream), (r_stream, o_stream)
    assert o_events == r_events


def dirty_changes(conn: RawClient) -> int:
    info = conn.call("INFO", "persistence")
    return int(info.split(b"rdb_changes_since_last_save:")[1].split(b"\r\n")[0])


def dirty_deltas(port: int, blockers, write, then=()) -> list[int]:
    """For each of ``blockers`` in turn (from an empty database): how far the dirty counter
    moves when ``write`` serves a client blocked by it; then how far each command of ``then``
    moves it."""
    admin = RawClient(port)
    deltas = []
    for blocker in blockers:
        admin.call("FLUSHALL")
        (waiter,) = block_clients(admin, port, [blocker])
        before = dirty_changes(admin)
        admin.call(*write)
        waiter.read_reply()
        deltas.append(dirty_changes(admin) - before)
        waiter.close()
    for cmd in then:
        before = dirty_changes(admin)
        admin.call(*cmd)
        deltas.append(dirty_changes(admin) - before)
    admin.close()
    return deltas
