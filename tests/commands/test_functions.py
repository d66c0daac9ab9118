"""FUNCTION and FCALL through redis-py: libraries, flags, DUMP/RESTORE policies, stats.

Exact bytes (errors, FUNCTION LIST shapes, DUMP payloads) are compared with real Redis in
tests/differential/test_scripting_diff.py.
"""

from __future__ import annotations

import threading
import time

import hiredis
import pytest
import redis

from tests.support.resp import RawClient

COUNTER = """#!lua name=counter
local function incr(keys, args)
  return redis.call('INCRBY', keys[1], args[1] or 1)
end
local function peek(keys)
  return redis.call('GET', keys[1])
end
redis.register_function('incr', incr)
redis.register_function{function_name = 'peek', callback = peek, flags = {'no-writes'},
                        description = 'read the counter'}
"""


def raw(port: int, *command):
    """One reply, parsed by hiredis without redis-py's response callbacks."""
    with RawClient(port) as c:
        reader = hiredis.Reader()
        reader.feed(c.call(*command))
        return reader.gets()


def port_of(client) -> int:
    return client.connection_pool.connection_kwargs["port"]


@pytest.fixture
def f(r):
    r.function_flush()
    yield r
    r.function_flush()


def test_load_and_call_functions(f):
    assert f.function_load(COUNTER) == b"counter"
    assert f.fcall("incr", 1, "n", 5) == 5
    assert f.fcall("INCR", 1, "n") == 6  # function names are case-insensitive
    assert f.fcall_ro("peek", 1, "n") == b"6"
    with pytest.raises(redis.ResponseError, match="Can not execute a script with write flag using \\*_ro command."):
        f.fcall_ro("incr", 1, "n")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        f.fcall("nope", 0)


def test_list_shows_functions_flags_descriptions_and_code(f):
    f.function_load(COUNTER)
    (flat,) = raw(port_of(f), "FUNCTION", "LIST", "LIBRARYNAME", "count*", "WITHCODE")
    assert flat[:4] == [b"library_name", b"counter", b"engine", b"LUA"]
    assert flat[flat.index(b"library_code") + 1] == COUNTER.encode()
    functions = {fn[1]: fn for fn in flat[flat.index(b"functions") + 1]}
    assert functions[b"peek"][3] == b"read the counter"
    assert functions[b"peek"][5] == [b"no-writes"]
    assert functions[b"incr"][3] is None
    assert raw(port_of(f), "FUNCTION", "LIST", "LIBRARYNAME", "other*") == []


def test_replace_and_delete_libraries(f):
    f.function_load(COUNTER)
    with pytest.raises(redis.ResponseError, match="Library 'counter' already exists"):
        f.function_load(COUNTER)
    f.function_load(COUNTER.replace("INCRBY", "DECRBY"), replace=True)
    assert f.fcall("incr", 1, "n", 2) == -2
    assert f.function_delete("counter")
    with pytest.raises(redis.ResponseError, match="Library not found"):
        f.function_delete("counter")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        f.fcall("incr", 1, "n")


def test_a_failed_replace_keeps_the_old_library(f):
    f.function_load(COUNTER)
    with pytest.raises(redis.ResponseError, match="Error compiling function"):
        f.function_load("#!lua name=counter\nthis is not lua", replace=True)
    assert f.fcall("incr", 1, "n") == 1


def test_dump_and_restore_with_each_policy(f):
    f.function_load(COUNTER)
    payload = f.function_dump()
    f.function_flush()
    assert f.function_restore(payload)
    assert f.fcall("incr", 1, "n") == 1
    with pytest.raises(redis.ResponseError, match="Library counter already exists"):
        f.function_restore(payload)  # APPEND is the default
    assert f.function_restore(payload, "REPLACE")
    f.function_load("#!lua name=other\nredis.register_function('o', function() return 'o' end)")
    assert f.function_restore(payload, "FLUSH")
    assert [lib[1] for lib in raw(port_of(f), "FUNCTION", "LIST")] == [b"counter"]
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        f.function_restore(payload[:-1] + b"\x00")
    with pytest.raises(redis.ResponseError, match="Wrong restore policy given"):
        f.function_restore(payload, "MERGE")


def test_restore_refuses_a_function_name_taken_by_another_library(f):
    f.function_load("#!lua name=first\nredis.register_function('incr', function() return 0 end)")
    f.function_delete("first")
    f.function_load(COUNTER)
    payload = f.function_dump()
    f.function_flush()
    f.function_load("#!lua name=first\nredis.register_function('incr', function() return 0 end)")
    with pytest.raises(redis.ResponseError, match="Function incr already exists"):
        f.function_restore(payload, "REPLACE")
    assert f.fcall("incr", 0) == 0


def test_load_errors_name_the_problem(f):
    with pytest.raises(redis.ResponseError, match="Missing library metadata"):
        f.function_load("return 1")
    with pytest.raises(redis.ResponseError, match="No functions registered"):
        f.function_load("#!lua name=empty\nlocal x = 1")
    with pytest.raises(redis.ResponseError, match="FUNCTION LOAD timeout"):
        f.function_load("#!lua name=slow\nwhile true do end")
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'call'"):
        f.function_load("#!lua name=early\nredis.call('PING')")
    assert raw(port_of(f), "FUNCTION", "LIST") == []


def test_function_stats_while_a_function_runs_and_function_kill(node):
    admin = redis.Redis(port=node.port)
    admin.config_set("busy-reply-threshold", 50)
    admin.function_load("#!lua name=spin\nredis.register_function('spin', function() while true do end end)")
    runner = RawClient(node.port)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", runner.call("FCALL", "spin", "0")))
    thread.start()
    time.sleep(0.3)
    stats = raw(node.port, "FUNCTION", "STATS")
    running = stats[1]
    assert running[0:2] == [b"name", b"spin"]
    assert running[3] == [b"FCALL", b"spin", b"0"]
    assert running[5] >= 50
    assert stats[3] == [b"LUA", [b"libraries_count", 1, b"functions_count", 1]]
    assert raw(node.port, "FUNCTION", "KILL") == b"OK"
    thread.join(5)
    assert result["r"] == b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    assert raw(node.port, "FUNCTION", "STATS")[1] is None
    runner.close()
    admin.close()


def test_function_writes_are_counted_as_changes(f, shared_node):
    before = shared_node.dirty
    f.function_load(COUNTER)
    f.function_delete("counter")
    assert shared_node.dirty - before == 2
