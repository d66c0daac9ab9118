"""EVAL, EVALSHA, SCRIPT and the Lua sandbox, through redis-py and raw connections.

Exact reply bytes are checked against real Redis in tests/differential/test_scripting_diff.py;
these tests cover what a client sees over time: cached scripts, atomicity with respect to
blocked clients, the busy state, MONITOR, and the pieces only Vermilion can show (its
propagation point, its log).
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.support.resp import RawClient


def test_register_script_falls_back_to_eval_then_uses_the_cache(r):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5
    assert r.script_exists(incr_by.sha) == [True]
    assert incr_by(keys=["n"], args=[2]) == 7
    r.script_flush()
    assert r.script_exists(incr_by.sha) == [False]
    assert incr_by(keys=["n"], args=[1]) == 8  # NOSCRIPT, then EVAL again


def test_scripts_see_keys_argv_and_return_nested_tables(r):
    r.rpush("l", "a", "b", "c")
    script = """
    local items = redis.call('LRANGE', KEYS[1], 0, -1)
    return {#items, items, ARGV[1], {ok = 'fine'}, false, tonumber(ARGV[2]) * 2}
    """
    assert r.eval(script, 1, "l", "x", "21") == [3, [b"a", b"b", b"c"], b"x", b"fine", None, 42]


def test_strategies_style_compare_and_set(r):
    """The toolkit's shape: string.match on a header, tonumber, SET PX, a false in a table."""
    script = """
    local cur = redis.call('GET', KEYS[1])
    if cur then
      local ver = string.match(cur, '^v(%d+)|')
      if ver and tonumber(ver) >= tonumber(ARGV[2]) then return {0, false} end
    end
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
    return {1, redis.call('GET', KEYS[1])}
    """
    assert r.eval(script, 1, "e", "v2|data", "2", "60000") == [1, b"v2|data"]
    assert r.eval(script, 1, "e", "v1|old", "1", "60000") == [0, None]
    assert 0 < r.pttl("e") <= 60000


def test_errors_raised_by_commands_reach_the_client_with_the_script_position(r):
    r.set("s", "x")
    with pytest.raises(redis.ResponseError) as exc:
        r.eval("\n return redis.call('LPUSH', KEYS[1], 'v')", 1, "s")
    assert str(exc.value).startswith("WRONGTYPE Operation against a key holding the wrong kind of value script: ")
    assert str(exc.value).endswith(", on @user_script:2.")
    with pytest.raises(redis.ResponseError) as exc:  # pcall: the command's own error, as is
        r.eval("return redis.pcall('LPUSH', KEYS[1], 'v')", 1, "s")
    assert str(exc.value) == "WRONGTYPE Operation against a key holding the wrong kind of value"


def test_select_inside_a_script_does_not_change_the_callers_database(r):
    assert r.eval("redis.call('SELECT', 2) redis.call('SET', 'k', 'v') return 1", 0) == 1
    assert r.get("k") is None
    r.select(2)
    assert r.get("k") == b"v"
    r.select(0)


def test_math_random_is_redis_lrand48(r):
    seeded = "math.randomseed(1) return {tostring(math.random()), tostring(math.random()), math.random(100)}"
    first = r.eval(seeded, 0)
    assert first[:2] == [b"0.041630344484761", b"0.4544924448498"]
    assert r.eval(seeded, 0) == first  # the same seed, the same sequence


def test_globals_are_read_only_and_unknown_globals_are_errors(r):
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("counter = 1", 0)
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'os'"):
        r.eval("return os.time()", 0)
    assert r.eval("local counter = 1 return counter", 0) == 1


def test_many_arguments_reach_the_script(r):
    args = [str(i) for i in range(6000)]
    assert r.eval("return {#KEYS, #ARGV, ARGV[#ARGV]}", 3, *args) == [3, 5997, b"5999"]


def test_cjson_round_trips_nested_values(r):
    script = "return cjson.encode(cjson.decode(ARGV[1]))"
    assert r.eval(script, 0, '{"a":[1,2,{"b":null}]}') == b'{"a":[1,2,{"b":null}]}'


def test_clients_blocked_on_a_key_are_served_after_the_script(r, shared_node):
    r.delete("q")
    got = {}

    def blocked():
        with redis.Redis(port=shared_node.port) as other:
            got["pop"] = other.blpop("q", timeout=5)

    thread = threading.Thread(target=blocked)
    thread.start()
    deadline = time.time() + 5
    while int(r.info("clients")["blocked_clients"]) < 1 and time.time() < deadline:
        time.sleep(0.01)
    # Inside the script nobody was served: both pushes are still there at the end.
    assert r.eval("redis.call('RPUSH', 'q', 'a') redis.call('RPUSH', 'q', 'b') return redis.call('LLEN', 'q')", 0) == 2
    thread.join(5)
    assert got["pop"] == (b"q", b"a")
    assert r.lrange("q", 0, -1) == [b"b"]


def test_monitor_shows_the_script_then_its_commands_from_lua(shared_node):
    with RawClient(shared_node.port) as mon, RawClient(shared_node.port) as c:
        assert mon.call("MONITOR") == b"+OK\r\n"
        c.call("EVAL", "return redis.call('SET', 'mk', 'v')", "0")
        first, second = mon.read_reply(), mon.read_reply()
    assert b'"EVAL" "return redis.call(\'SET\', \'mk\', \'v\')" "0"' in first
    assert b" lua] \"SET\" \"mk\" \"v\"" in second


def test_a_busy_script_answers_busy_and_can_be_killed(node):
    runner = RawClient(node.port)
    other = redis.Redis(port=node.port)
    other.config_set("lua-time-limit", 50)
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("reply", runner.call("EVAL", "while true do end", "0"))
    )
    thread.start()
    time.sleep(0.3)
    with pytest.raises(redis.ResponseError, match="busy running a script. You can only call SCRIPT KILL"):
        other.get("k")
    assert other.script_kill()
    thread.join(5)
    assert result["reply"].startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    assert other.ping()
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        other.script_kill()
    runner.close()
    other.close()


def test_a_slow_script_is_logged(make_node, tmp_path):
    log = tmp_path / "v.log"
    n = make_node(logfile=str(log), busy_reply_threshold=20)
    with RawClient(n.port) as c:
        # Busy for ~200 ms of wall time (TIME is seconds, microseconds), past the 20 ms threshold.
        script = (
            "local function now() local t = redis.call('time') return t[1] * 1e6 + t[2] end "
            "local t0 = now() while now() < t0 + 200000 do end return 1"
        )
        assert c.call("EVAL", script, "0") == b":1\r\n"
    text = log.read_text()
    assert "Slow script detected: still in execution after" in text
    assert "You can try killing the script using the SCRIPT KILL command. Script name is: " in text


def test_redis_log_writes_to_the_server_log(make_node, tmp_path):
    log = tmp_path / "v.log"
    n = make_node(logfile=str(log))
    with RawClient(n.port) as c:
        c.call("EVAL", "redis.log(redis.LOG_WARNING, 'from', 'lua', 42)", "0")
        c.call("EVAL", "redis.log(redis.LOG_DEBUG, 'hidden')", "0")
    text = log.read_text()
    assert "from lua 42" in text
    assert "hidden" not in text


def test_script_flush_rebuilds_the_lua_state_and_empties_the_cache(r):
    r.script_flush()
    sha = r.script_load("return 'cached'")
    assert r.evalsha(sha, 0) == b"cached"
    assert r.info("memory")["number_of_cached_scripts"] == 1
    assert r.script_flush() is True
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(sha, 0)
    assert r.info("memory")["number_of_cached_scripts"] == 0


def test_info_memory_counts_loaded_libraries_and_functions(node):
    r = redis.Redis(port=node.port)
    assert r.info("memory")["number_of_libraries"] == 0
    r.function_load(
        "#!lua name=lib1\n"
        "redis.register_function('f1', function() return 1 end)\n"
        "redis.register_function('f2', function() return 2 end)"
    )
    r.function_load("#!lua name=lib2\nredis.register_function('g', function() return 3 end)")
    m = r.info("memory")
    assert (m["number_of_libraries"], m["number_of_functions"]) == (2, 3)
    r.function_delete("lib1")
    m = r.info("memory")
    assert (m["number_of_libraries"], m["number_of_functions"]) == (1, 1)
    r.close()


def _declared_flags_story(port: int) -> list[bytes]:
    """Out of memory under noeviction: which scripts the gate refuses, judged by the flags
    they declare (shebang, function flags), compared reply for reply with real Redis."""
    with RawClient(port) as c:
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        c.call("SET", "filler", "x" * 1000)
        c.call(
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\n"
            "redis.register_function{function_name='w', callback=function() return 1 end}\n"
            "redis.register_function{function_name='ro', callback=function() return 2 end, flags={'no-writes'}}",
        )
        sha = c.call("SCRIPT", "LOAD", "#!lua\nreturn 5")[5:-2]
        c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.call("CONFIG", "SET", "maxmemory", "1")
        try:
            replies = [
                c.call("EVAL", body, "0")
                for body in (
                    "#!lua flags=no-writes\nreturn 1",
                    "#!lua\nreturn 1",  # declares flags, not no-writes: refused at the gate
                    "return 1",  # no shebang: judged by what it calls
                    "return redis.call('set','a','b')",
                    "#!lua flags=allow-oom\nreturn redis.call('set','a','b')",
                    "#!lua flags=bogus\nreturn 1",
                )
            ]
            replies += [c.call("FCALL", name, "0") for name in ("w", "ro", "missing")]
            replies += [c.call("EVALSHA", sha, "0"), c.call("EVAL_RO", "#!lua\nreturn 1", "0")]
        finally:
            c.call("CONFIG", "SET", "maxmemory", "0")
        return replies


def test_scripts_are_gated_by_the_flags_they_declare_like_redis(node, redis_ref):
    expected = _declared_flags_story(redis_ref.port)
    assert expected[1].startswith(b"-OOM command not allowed")
    assert _declared_flags_story(node.port) == expected
