"""Blocking commands with several real clients: order of service, timeouts, BLMOVE chains,
CLIENT UNBLOCK, disconnection, pipelines, INFO and CLIENT LIST, and the EXEC/script rule.

Each test waits on what the server shows (CLIENT LIST flags, INFO) rather than sleeping, and
bounds every wait."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
import redis.asyncio

from tests.support.resp import ConnectionClosed, RawClient
from tests.support.waiting import wait_for


def client_id(conn: RawClient) -> int:
    return int(conn.call("CLIENT", "ID")[1:-2])


def blocked_ids(admin: RawClient) -> set[int]:
    ids = set()
    for line in admin.call("CLIENT", "LIST").decode().split("\n"):
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "b" in fields.get("flags", ""):
            ids.add(int(fields["id"]))
    return ids


def info_field(admin: RawClient, section: str, name: str) -> str:
    text = admin.call("INFO", section).decode()
    return text.split(name + ":", 1)[1].split("\r\n", 1)[0]


def block(admin: RawClient, conn: RawClient, *command) -> None:
    """Send a command that must block and wait until the server shows it blocked."""
    cid = client_id(conn)
    conn.send_command(*command)
    wait_for(lambda: cid in blocked_ids(admin))


@pytest.fixture
def admin(node):
    with RawClient(node.port) as conn:
        yield conn


@pytest.fixture
def clients(node):
    opened: list[RawClient] = []

    def make() -> RawClient:
        conn = RawClient(node.port)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()


# -- order of service ------------------------------------------------------------------------


def test_clients_blocked_on_a_key_are_served_first_come_first_served(admin, clients):
    waiters = [clients() for _ in range(5)]
    for conn in waiters:
        block(admin, conn, "BLPOP", "k", "0")
    admin.call("RPUSH", "k", "1", "2", "3", "4", "5")
    assert [conn.read_reply() for conn in waiters] == [b"*2\r\n$1\r\nk\r\n$1\r\n%d\r\n" % i for i in range(1, 6)]
    assert admin.call("EXISTS", "k") == b":0\r\n"


def test_many_asyncio_clients_each_get_one_element_in_order(node):
    async def main():
        clients = [redis.asyncio.Redis(port=node.port) for _ in range(30)]
        admin = redis.asyncio.Redis(port=node.port)
        try:
            tasks = []
            for i, client in enumerate(clients):
                tasks.append(asyncio.ensure_future(client.blpop(["q"], timeout=10)))
                while int((await admin.info("clients"))["blocked_clients"]) < i + 1:
                    await asyncio.sleep(0.002)
            await admin.rpush("q", *range(30))
            results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            assert [int(v) for _, v in results] == list(range(30))
            assert (await admin.info("clients"))["blocked_clients"] == 0
        finally:
            for client in clients + [admin]:
                await client.aclose()

    asyncio.run(main())


def test_a_push_of_fewer_elements_leaves_the_later_clients_waiting(admin, clients):
    a, b = clients(), clients()
    block(admin, a, "BRPOP", "k", "0")
    block(admin, b, "BRPOP", "k", "0")
    admin.call("LPUSH", "k", "only")
    assert a.read_reply() == b"*2\r\n$1\r\nk\r\n$4\r\nonly\r\n"
    assert client_id_blocked(admin, b)
    admin.call("LPUSH", "k", "next")
    assert b.read_reply() == b"*2\r\n$1\r\nk\r\n$4\r\nnext\r\n"


def client_id_blocked(admin: RawClient, conn: RawClient) -> bool:
    # ``conn`` is blocked, so its id must be looked up from CLIENT LIST by its address.
    port = conn.sock.getsockname()[1]
    for line in admin.call("CLIENT", "LIST").decode().split("\n"):
        if f":{port} " in line:
            return "flags=b" in line
    return False


def test_other_clients_keep_working_while_one_is_blocked(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "0")
    other = clients()
    assert other.call("SET", "x", "1") == b"+OK\r\n"
    assert other.call("GET", "x") == b"$1\r\n1\r\n"
    admin.call("RPUSH", "k", "v")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_blmove_chains_pass_an_element_through_every_waiting_client(admin, clients):
    chain = [clients() for _ in range(4)]
    for i, conn in enumerate(chain):
        block(admin, conn, "BLMOVE", f"k{i}", f"k{i + 1}", "LEFT", "RIGHT", "0")
    final = clients()
    block(admin, final, "BLPOP", "k4", "0")
    admin.call("RPUSH", "k0", "baton")
    assert [conn.read_reply() for conn in chain] == [b"$5\r\nbaton\r\n"] * 4
    assert final.read_reply() == b"*2\r\n$2\r\nk4\r\n$5\r\nbaton\r\n"
    assert admin.call("EXISTS", "k0", "k1", "k2", "k3", "k4") == b":0\r\n"


def test_a_flush_does_not_unblock_and_a_later_push_still_serves(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "0")
    admin.call("FLUSHALL")
    assert client_id_blocked(admin, waiter)
    admin.call("RPUSH", "k", "v")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_a_waiter_is_served_from_its_own_database_only(admin, clients):
    waiter = clients()
    waiter.call("SELECT", "3")
    block(admin, waiter, "BLPOP", "k", "0")
    admin.call("RPUSH", "k", "db0")
    assert client_id_blocked(admin, waiter)
    admin.call("SELECT", "3")
    admin.call("RPUSH", "k", "db3")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$3\r\ndb3\r\n"
    admin.call("SELECT", "0")
    assert admin.call("LRANGE", "k", "0", "-1") == b"*1\r\n$3\r\ndb0\r\n"


# -- timeouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ("BLPOP", "k", "0.2"),
    ("BRPOP", "k", "j", "0.2"),
    ("BLMPOP", "0.2", "1", "k", "LEFT"),
    ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.2"),
    ("BRPOPLPUSH", "k", "d", "0.2"),
])
def test_a_float_timeout_answers_null_after_about_that_long(clients, command):
    conn = clients()
    started = time.monotonic()
    assert conn.call(*command) == b"*-1\r\n"
    elapsed = time.monotonic() - started
    assert 0.18 <= elapsed < 2.0


def test_timeout_in_resp3_is_the_null_type(clients):
    conn = clients()
    conn.call("HELLO", "3")
    assert conn.call("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.01") == b"_\r\n"
    assert conn.call("BLPOP", "k", "0.01") == b"_\r\n"


def test_a_push_before_the_timeout_wins(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "5")
    assert info_field(admin, "clients", "clients_in_timeout_table") == "1"
    admin.call("RPUSH", "k", "v")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert info_field(admin, "clients", "clients_in_timeout_table") == "0"


def test_timeout_zero_waits_until_served(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "0")
    assert info_field(admin, "clients", "clients_in_timeout_table") == "0"
    time.sleep(0.3)
    assert client_id_blocked(admin, waiter)
    admin.call("RPUSH", "k", "late")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$4\r\nlate\r\n"


def test_timeout_errors(clients):
    conn = clients()
    assert conn.call("BLPOP", "k", "-1") == b"-ERR timeout is negative\r\n"
    assert conn.call("BLPOP", "k", "soon") == b"-ERR timeout is not a float or out of range\r\n"
    assert conn.call("BLPOP", "k", "inf") == b"-ERR timeout is negative\r\n"


# -- CLIENT UNBLOCK, disconnection -----------------------------------------------------------


def test_client_unblock_timeout_answers_null_and_error_answers_unblocked(admin, clients):
    waiter = clients()
    wid = client_id(waiter)
    block(admin, waiter, "BLPOP", "k", "0")
    assert admin.call("CLIENT", "UNBLOCK", wid) == b":1\r\n"
    assert waiter.read_reply() == b"*-1\r\n"
    block(admin, waiter, "BLMOVE", "k", "d", "LEFT", "LEFT", "0")
    assert admin.call("CLIENT", "UNBLOCK", wid, "ERROR") == b":1\r\n"
    assert waiter.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert admin.call("CLIENT", "UNBLOCK", wid) == b":0\r\n"
    admin.call("RPUSH", "k", "v")
    assert admin.call("LLEN", "k") == b":1\r\n"  # nobody is left waiting for it


def test_redis_py_sees_client_unblock_error_as_a_response_error(node):
    waiter = redis.Redis(port=node.port)
    admin = redis.Redis(port=node.port)
    wid = waiter.client_id()
    errors = []

    def wait():
        try:
            waiter.blpop(["k"], timeout=0)
        except redis.ResponseError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=wait)
    thread.start()
    wait_for(lambda: admin.info("clients")["blocked_clients"] == 1)
    assert admin.client_unblock(wid, error=True) == 1
    thread.join(5)
    assert errors == ["UNBLOCKED client unblocked via CLIENT UNBLOCK"]
    waiter.close()
    admin.close()


def test_a_client_that_disconnects_while_blocked_leaves_no_trace(node, admin, clients):
    gone = clients()
    block(admin, gone, "BLPOP", "k", "j", "0")
    stays = clients()
    block(admin, stays, "BLPOP", "k", "0")
    assert info_field(admin, "clients", "blocked_clients") == "2"
    gone.close()
    wait_for(lambda: info_field(admin, "clients", "blocked_clients") == "1")
    admin.call("RPUSH", "j", "kept")
    admin.call("RPUSH", "k", "served")
    assert stays.read_reply() == b"*2\r\n$1\r\nk\r\n$6\r\nserved\r\n"
    assert admin.call("LRANGE", "j", "0", "-1") == b"*1\r\n$4\r\nkept\r\n"
    assert all(not db.blocking_keys for db in node.dbs)
    assert info_field(admin, "clients", "blocked_clients") == "0"


def test_client_kill_of_a_blocked_client(admin, clients):
    waiter = clients()
    wid = client_id(waiter)
    block(admin, waiter, "BLPOP", "k", "0")
    assert admin.call("CLIENT", "KILL", "ID", wid) == b":1\r\n"
    wait_for(lambda: info_field(admin, "clients", "blocked_clients") == "0")
    admin.call("RPUSH", "k", "v")
    assert admin.call("LLEN", "k") == b":1\r\n"


# -- pipelines -------------------------------------------------------------------------------


def test_a_served_client_runs_the_rest_of_its_pipeline(admin, clients):
    waiter = clients()
    waiter.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nk\r\n")
    client_id_of_blocked(admin)
    admin.call("RPUSH", "k", "a", "b")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\na\r\n"
    assert waiter.read_reply() == b"$5\r\nafter\r\n"
    assert waiter.read_reply() == b":1\r\n"


def client_id_of_blocked(admin: RawClient, timeout: float = 5.0):
    found: list[int] = []
    wait_for(lambda: found.extend(blocked_ids(admin)) or found, timeout)
    return found[0]


def test_commands_sent_while_blocked_wait_their_turn(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "0")
    waiter.send_command("RPUSH", "log", "second")
    waiter.send_command("LRANGE", "log", "0", "-1")
    admin.call("RPUSH", "log", "first")
    admin.call("RPUSH", "k", "go")
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$2\r\ngo\r\n"
    assert waiter.read_reply() == b":2\r\n"
    assert waiter.read_reply() == b"*2\r\n$5\r\nfirst\r\n$6\r\nsecond\r\n"


def test_the_pushing_pipeline_sees_the_list_after_serving(admin, clients):
    waiter = clients()
    block(admin, waiter, "BLPOP", "k", "0")
    pusher = clients()
    assert pusher.pipeline([("RPUSH", "k", "1", "2"), ("LRANGE", "k", "0", "-1")]) == [
        b":2\r\n",
        b"*1\r\n$1\r\n2\r\n",
    ]
    assert waiter.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\n1\r\n"


def test_redis_py_pipeline_with_a_blocking_command(node):
    waiter = redis.Redis(port=node.port)
    admin = redis.Redis(port=node.port)
    results = []

    def run():
        pipe = waiter.pipeline(transaction=False)
        pipe.blpop(["k"], timeout=5).incr("n").get("n")
        results.extend(pipe.execute())

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: admin.info("clients")["blocked_clients"] == 1)
    admin.rpush("k", "v")
    thread.join(5)
    assert results == [(b"k", b"v"), 1, b"1"]
    waiter.close()
    admin.close()


# -- introspection ---------------------------------------------------------------------------


def test_blocked_clients_in_info_and_flags_in_client_list(admin, clients):
    a, b = clients(), clients()
    block(admin, a, "BLPOP", "k", "0")
    block(admin, b, "BLMOVE", "k", "d", "LEFT", "LEFT", "10")
    assert info_field(admin, "clients", "blocked_clients") == "2"
    assert info_field(admin, "clients", "clients_in_timeout_table") == "1"
    listing = admin.call("CLIENT", "LIST").decode()
    lines = [line for line in listing.split("\n") if "flags=b" in line]
    assert sorted(line.split(" cmd=")[1].split(" ")[0] for line in lines) == ["blmove", "blpop"]
    admin.call("RPUSH", "k", "1", "2")
    a.read_reply()
    b.read_reply()
    assert info_field(admin, "clients", "blocked_clients") == "0"
    assert "flags=b" not in admin.call("CLIENT", "LIST").decode()


def test_a_paused_client_counts_as_blocked(admin, clients):
    writer = clients()
    admin.call("CLIENT", "PAUSE", "5000", "WRITE")
    block(admin, writer, "SET", "x", "1")
    assert info_field(admin, "clients", "blocked_clients") == "1"
    assert admin.call("CLIENT", "UNBLOCK", client_id_of_blocked(admin)) == b":0\r\n"
    admin.call("CLIENT", "UNPAUSE")
    assert writer.read_reply() == b"+OK\r\n"
    assert info_field(admin, "clients", "blocked_clients") == "0"


# -- EXEC and scripts ------------------------------------------------------------------------


def test_a_client_that_may_not_block_gets_the_null_reply_at_once(node, admin, clients):
    """EXEC and the script runner set ``deny_blocking`` on the client running the commands
    (Redis's CLIENT_DENY_BLOCKING): blocking commands then answer their null reply."""
    conn = clients()
    server_side = node.clients[client_id(conn)]
    server_side.deny_blocking = True
    try:
        assert conn.call("BLPOP", "k", "0") == b"*-1\r\n"
        assert conn.call("BRPOP", "k", "j", "0") == b"*-1\r\n"
        assert conn.call("BLMPOP", "0", "1", "k", "LEFT") == b"*-1\r\n"
        assert conn.call("BLMOVE", "k", "d", "LEFT", "LEFT", "0") == b"$-1\r\n"
        assert conn.call("BRPOPLPUSH", "k", "d", "0") == b"$-1\r\n"
        admin.call("RPUSH", "k", "v")
        assert conn.call("BLPOP", "k", "0") == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        assert info_field(admin, "clients", "blocked_clients") == "0"
    finally:
        server_side.deny_blocking = False


def test_unblock_all_answers_every_blocked_client_and_closes_it(node, admin, clients):
    """What a master turning into a replica does (disconnectAllBlockedClients)."""
    a, b = clients(), clients()
    block(admin, a, "BLPOP", "k", "0")
    block(admin, b, "BLMOVE", "k", "d", "LEFT", "LEFT", "5")
    node.loop.call_soon_threadsafe(node.blocking.unblock_all)
    for conn in (a, b):
        assert conn.read_reply() == (
            b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
        )
        with pytest.raises((ConnectionClosed, OSError)):
            conn.call("PING")
    wait_for(lambda: info_field(admin, "clients", "blocked_clients") == "0")
    assert admin.call("PING") == b"+PONG\r\n"


def test_rename_and_copy_replace_onto_a_waited_key_of_another_type_wake_the_waiter(node):
    """RENAME/COPY REPLACE delete the old key and add the new one: a client blocked on a
    key that held a string is served when a list replaces it (as in Redis)."""
    r = redis.Redis(port=node.port)
    for verb in ("RENAME", "COPY"):
        r.flushall()
        r.rpush("src", "x")
        got = []
        waiter = redis.Redis(port=node.port)
        t = threading.Thread(target=lambda: got.append(waiter.blpop("dst", timeout=5)))
        t.start()
        deadline = time.time() + 5
        while r.info("clients")["blocked_clients"] < 1 and time.time() < deadline:
            time.sleep(0.01)
        r.set("dst", "a string")  # the waiter stays blocked on a key of another type
        if verb == "RENAME":
            r.rename("src", "dst")
        else:
            r.copy("src", "dst", replace=True)
        t.join(6)
        assert got == [(b"dst", b"x")], verb
        waiter.close()
    r.close()
