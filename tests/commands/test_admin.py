"""Server commands end to end: TIME, MONITOR, SLOWLOG, LATENCY, MEMORY, DEBUG, SHUTDOWN."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import redis

from tests.support.resp import ConnectionClosed, RawClient

MONITOR_LINE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)\r$')


def test_time_is_now_in_seconds_and_microseconds(r):
    before = time.time()
    seconds, micros = r.time()
    assert 0 <= micros < 1_000_000
    assert abs(seconds + micros / 1e6 - before) < 2


# -- MONITOR -----------------------------------------------------------------------------------


def _monitor_lines(m: RawClient, wait: float = 0.3) -> list[bytes]:
    data = m.read_all(wait)
    return [line for line in data.split(b"\n") if line]


def test_monitor_streams_commands_with_db_address_and_quoting(node):
    with RawClient(node.port) as m, RawClient(node.port) as c:
        assert m.call("MONITOR") == b"+OK\r\n"
        c.call("SET", "k", b'a "q" \\ \n\x01\xc3\xa9')
        c.call("SELECT", "5")
        c.call("GET", "k")
        lines = _monitor_lines(m)
        addr = c.sock.getsockname()
        parsed = [MONITOR_LINE.match(line) for line in lines]
        assert all(parsed), lines
        assert [p.group(3) for p in parsed] == [b"0", b"5", b"5"]
        assert {p.group(4) for p in parsed} == {b"%s:%d" % (addr[0].encode(), addr[1])}
        assert [p.group(5) for p in parsed] == [
            b'"SET" "k" "a \\"q\\" \\\\ \\n\\x01\\xc3\\xa9"',
            b'"SELECT" "5"',
            b'"GET" "k"',
        ]
        stamp = float(parsed[0].group(1) + b"." + parsed[0].group(2))
        assert abs(stamp - time.time()) < 5


def test_monitor_hides_admin_commands_and_redacts_passwords(node):
    with RawClient(node.port) as m, RawClient(node.port) as c:
        m.call("MONITOR")
        c.call("CONFIG", "GET", "maxmemory")
        c.call("CLIENT", "LIST")
        c.call("SLOWLOG", "LEN")
        c.call("DEBUG", "SLEEP", "0")
        c.call("AUTH", "default", "secret")
        c.call("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "n")
        c.call("CLIENT", "ID")
        c.call("NOSUCHCOMMAND")
        c.call("GET")
        lines = [MONITOR_LINE.match(line).group(5) for line in _monitor_lines(m)]
        assert lines == [
            b'"AUTH" "(redacted)" "(redacted)"',
            b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"',
            b'"CLIENT" "ID"',
        ]


def test_monitor_twice_gets_no_second_reply(node):
    with RawClient(node.port) as m:
        assert m.call("MONITOR") == b"+OK\r\n"
        m.send_command("MONITOR")
        m.send_command("PING")
        data = m.read_all(0.5)
        assert b"+OK" not in data
        lines = data.split(b"\r\n")
        assert b"+PONG" in lines and any(line.endswith(b'"PING"') for line in lines)


def test_monitor_connection_closing_stops_feeding(node):
    m = RawClient(node.port)
    m.call("MONITOR")
    assert len(node.monitors) == 1
    m.close()
    deadline = time.monotonic() + 5
    while node.monitors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert node.monitors == []
    with RawClient(node.port) as c:
        assert c.call("SET", "a", "b") == b"+OK\r\n"


def test_redis_py_monitor_sees_commands(node):
    r = redis.Redis(port=node.port)
    with r.monitor() as mon:
        other = redis.Redis(port=node.port)
        other.set("foo", "bar")
        for event in mon.listen():
            if event["command"] == "SET foo bar":
                assert event["db"] == 0
                break
        other.close()
    r.close()


# -- SLOWLOG -----------------------------------------------------------------------------------


def test_slowlog_records_every_command_at_threshold_zero(node):
    r = redis.Redis(port=node.port)
    r.ping()  # connect (redis-py's CLIENT SETINFO calls) before logging starts
    with RawClient(node.port) as c:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("SLOWLOG", "RESET")
        c.call("CLIENT", "SETNAME", "slowpoke")
        c.call("SET", "foo", "bar")
        entries = r.slowlog_get(2)
        assert [e["command"] for e in entries] == [b"SET foo bar", b"CLIENT SETNAME slowpoke"]
        first = entries[0]
        assert first["client_name"] == b"slowpoke" and first["duration"] >= 0
        assert first["client_address"].startswith(b"127.0.0.1:")
        assert entries[1]["id"] == first["id"] - 1
        assert abs(first["start_time"] - time.time()) < 5
        assert r.slowlog_len() >= 3
        assert c.call("SLOWLOG", "RESET") == b"+OK\r\n"
        assert c.call("SLOWLOG", "LEN") == b":1\r\n"  # the RESET itself was slow enough
    r.close()


def test_pipelined_runs_of_one_command_are_counted_and_logged_call_by_call(node):
    """The hot loop times runs of one command together (server/dispatch.py): counts stay
    exact, and at threshold 0 every call of the run gets its own slowlog entry, in order."""
    r = redis.Redis(port=node.port)
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.config_resetstat()
    pipe = r.pipeline(transaction=False)
    for i in range(16):
        pipe.set(f"k{i}", i)
    for i in range(16):
        if i == 8:  # an arity error in the middle of a run goes the long way
            pipe.execute_command("GET", "k1", "extra")
        pipe.get(f"k{i}")
    pipe.execute_command("INCR", "k0")
    pipe.execute(raise_on_error=False)
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 16
    assert stats["cmdstat_get"]["calls"] == 16
    assert stats["cmdstat_get"]["failed_calls"] == 0 and stats["cmdstat_get"]["rejected_calls"] == 1
    assert stats["cmdstat_incr"]["calls"] == 1
    assert stats["cmdstat_set"]["usec"] >= 0
    logged = [e["command"] for e in reversed(r.slowlog_get(64))]
    start = logged.index(b"SET k0 0")
    expected = [b"SET k%d %d" % (i, i) for i in range(16)] + [b"GET k%d" % i for i in range(16)]
    assert logged[start : start + 33] == expected + [b"INCR k0"]
    r.close()


def test_slowlog_get_counts_and_errors(node):
    with RawClient(node.port) as c:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        for i in range(12):
            c.call("ECHO", str(i))
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        assert c.call("SLOWLOG", "GET").startswith(b"*10\r\n")
        assert c.call("SLOWLOG", "GET", "2").startswith(b"*2\r\n")
        assert c.call("SLOWLOG", "GET", "-1").startswith(b"*13\r\n")  # CONFIG SET + 12 ECHO
        assert c.call("SLOWLOG", "GET", "0") == b"*0\r\n"
        assert c.call("SLOWLOG", "GET", "-2") == b"-ERR count should be greater than or equal to -1\r\n"
        assert c.call("SLOWLOG", "GET", "1", "2") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"
        )


def test_slowlog_redacts_auth(node):
    with RawClient(node.port) as c:
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("AUTH", "default", "hunter2")
        entry = c.call("SLOWLOG", "GET", "1")
        assert b"hunter2" not in entry and b"(redacted)" in entry


# -- LATENCY -----------------------------------------------------------------------------------


def test_latency_monitor_records_a_slow_command(node):
    with RawClient(node.port) as c:
        assert c.call("LATENCY", "LATEST") == b"*0\r\n"
        assert c.call("LATENCY", "DOCTOR").startswith(b"$288\r\nI'm sorry, Dave")
        c.call("CONFIG", "SET", "latency-monitor-threshold", "10")
        c.call("DEBUG", "SLEEP", "0.05")
        latest = c.call("LATENCY", "LATEST")
        assert latest.startswith(b"*1\r\n*4\r\n$7\r\ncommand\r\n:")
        history = c.call("LATENCY", "HISTORY", "command")
        assert history.startswith(b"*1\r\n*2\r\n:")
        assert c.call("LATENCY", "GRAPH", "command").startswith(b"$")
        assert b"command: 1 latency spikes" in c.call("LATENCY", "DOCTOR")
        assert c.call("LATENCY", "RESET", "command", "nosuch") == b":1\r\n"
        assert c.call("LATENCY", "GRAPH", "command") == b"-ERR No samples available for event 'command'\r\n"
        assert c.call("LATENCY", "RESET") == b":0\r\n"


def test_latency_histogram_reports_called_commands(node):
    r = redis.Redis(port=node.port, protocol=3)
    r.set("a", "1")
    r.set("b", "2")
    hist = r.execute_command("LATENCY", "HISTOGRAM", "set", "nosuch")
    assert list(hist) == [b"set"]
    assert hist[b"set"][b"calls"] == 2
    assert sum(1 for _ in hist[b"set"][b"histogram_usec"]) >= 1
    everything = r.execute_command("LATENCY", "HISTOGRAM")
    assert b"set" in everything and b"hello" in everything
    r.close()


# -- MEMORY ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, expected",
    [
        (b"k1", b"a", 64),  # embstr
        (b"k1", b"12345", 48),  # int encoding
        (b"k1", b"x" * 44, 96),  # largest embstr
        (b"k1", b"x" * 45, 112),  # raw
        (b"k1", b"x" * 1000, 1072),  # sdshdr16
        (b"k" * 32, b"a", 104),  # a key too long for sdshdr5
    ],
)
def test_memory_usage_of_strings_matches_redis_allocation(r, key, value, expected):
    r.set(key, value)
    assert r.memory_usage(key) == expected
    assert r.memory_usage(key, samples=0) == expected


def test_memory_usage_of_missing_key_and_errors(node):
    with RawClient(node.port) as c:
        assert c.call("MEMORY", "USAGE", "nope") == b"$-1\r\n"
        c.call("SET", "k", "v")
        assert c.call("MEMORY", "USAGE", "k", "SAMPLES") == b"-ERR syntax error\r\n"
        assert c.call("MEMORY", "USAGE", "k", "SAMPLES", "-1") == b"-ERR syntax error\r\n"
        assert c.call("MEMORY", "USAGE", "k", "SAMPLES", "x") == b"-ERR value is not an integer or out of range\r\n"
        c.call("HELLO", "3")
        assert c.call("MEMORY", "USAGE", "nope") == b"_\r\n"


def test_memory_stats_and_doctor_are_well_formed(r):
    r.set("a", "b")
    stats = r.memory_stats()
    assert stats["keys.count"] == 1
    assert stats["total.allocated"] >= stats["startup.allocated"] > 0
    assert "db.0" in stats and "fragmentation" in stats
    assert r.execute_command("MEMORY", "DOCTOR").startswith(b"Hi Sam")
    assert r.execute_command("MEMORY", "PURGE") in (b"OK", True)


# -- DEBUG -------------------------------------------------------------------------------------


def test_debug_sleep_blocks_the_server(node):
    with RawClient(node.port) as a, RawClient(node.port) as b:
        a.send_command("DEBUG", "SLEEP", "0.3")
        time.sleep(0.05)
        start = time.monotonic()
        assert b.call("PING") == b"+PONG\r\n"
        assert time.monotonic() - start > 0.15
        assert a.read_reply() == b"+OK\r\n"


def _expire_soon(node, key: bytes, ms: int) -> None:
    """Give ``key`` a TTL from the node's own thread (no dependency on EXPIRE here)."""
    done = threading.Event()

    def run():
        node.dbs[0].set_expire(key, node.clock.update() + ms)
        done.set()

    node.loop.call_soon_threadsafe(run)
    assert done.wait(5)


def test_debug_set_active_expire_stops_the_background_cycle(node):
    with RawClient(node.port) as c:
        assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
        assert node.active_expire_enabled is False
        c.call("SET", "k", "v")
        _expire_soon(node, b"k", 20)
        time.sleep(0.4)
        assert b"k" in node.dbs[0].data  # still there: only a lookup would expire it now
        assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"+OK\r\n"
        deadline = time.monotonic() + 5
        while b"k" in node.dbs[0].data and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"k" not in node.dbs[0].data


def test_debug_object_describes_a_string(node):
    with RawClient(node.port) as c:
        c.call("SET", "n", "123")
        c.call("SET", "s", "hello")
        n = c.call("DEBUG", "OBJECT", "n")
        assert re.match(rb"^\+Value at:0x[0-9a-f]+ refcount:2147483647 encoding:int serializedlength:2 lru:\d+ lru_seconds_idle:\d+\r\n$", n)
        s = c.call("DEBUG", "OBJECT", "s")
        assert re.match(rb"^\+Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 lru:\d+ lru_seconds_idle:\d+\r\n$", s)
        assert c.call("DEBUG", "OBJECT", "nope") == b"-ERR no such key\r\n"


def test_debug_populate_error_protocol_and_refusals(node):
    with RawClient(node.port) as c:
        assert c.call("DEBUG", "POPULATE", "3") == b"+OK\r\n"
        assert c.call("GET", "key:2") == b"$7\r\nvalue:2\r\n"
        assert c.call("DEBUG", "POPULATE", "1", "p", "10") == b"+OK\r\n"
        assert c.call("GET", "p:0") == b"$10\r\nvalue:0\x00\x00\x00\r\n"
        assert c.call("DEBUG", "ERROR", "BOOM it broke") == b"-BOOM it broke\r\n"
        assert c.call("DEBUG", "PROTOCOL", "bignum") == b"$37\r\n1234567999999999999999999999999999999\r\n"
        assert c.call("DEBUG", "STRUCTSIZE").startswith(b"-ERR DEBUG STRUCTSIZE is not supported")
        assert c.call("DEBUG", "NOSUCH") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP.\r\n"
        )
        assert c.call("DEBUG", "HELP").startswith(b"*106\r\n")


def test_debug_is_refused_when_not_enabled(make_node):
    n = make_node(enable_debug_command="no")
    with RawClient(n.port) as c:
        assert c.call("DEBUG", "SLEEP", "0").startswith(b"-ERR DEBUG command not allowed.")


# -- SHUTDOWN ----------------------------------------------------------------------------------


def _port_closed(port: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_shutdown_closes_every_connection_without_a_reply(make_node):
    n = make_node()
    with RawClient(n.port) as c, RawClient(n.port) as other:
        c.send_command("SHUTDOWN", "NOSAVE")
        with pytest.raises(ConnectionClosed):
            c.read_reply()
        assert other.is_closed(5)
    assert _port_closed(n.port)


def test_shutdown_argument_errors_leave_the_server_running(make_node):
    n = make_node()
    with RawClient(n.port) as c:
        assert c.call("SHUTDOWN", "SAVE", "NOSAVE") == b"-ERR syntax error\r\n"
        assert c.call("SHUTDOWN", "ABORT", "NOW") == b"-ERR syntax error\r\n"
        assert c.call("SHUTDOWN", "LATER") == b"-ERR syntax error\r\n"
        assert c.call("SHUTDOWN", "ABORT") == b"-ERR No shutdown in progress.\r\n"
        assert c.call("PING") == b"+PONG\r\n"


def test_redis_py_shutdown(make_node):
    n = make_node()
    r = redis.Redis(port=n.port)
    r.shutdown(nosave=True)
    assert _port_closed(n.port)
