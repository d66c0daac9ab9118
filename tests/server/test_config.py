"""The parameter table and CONFIG GET/SET/RESETSTAT/HELP: value parsing and formatting (units),
then live over redis-py against in-process nodes, including that values take effect."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from server.config import (
    BY_NAME,
    PARAMS,
    Config,
    ConfigError,
    SetError,
    format_memory,
    memtoull,
    quote,
    strtoll,
)
from tests.support.resp import RawClient

REFERENCE = json.loads((Path(__file__).parents[2] / "server" / "redis-7.0-config.json").read_text())


def set_error(config: Config, *pairs) -> str:
    with pytest.raises(SetError) as info:
        config.set_many(list(zip(pairs[::2], pairs[1::2])))
    return info.value.message.decode()


# -- the table -----------------------------------------------------------------------------


def test_table_lists_exactly_what_redis_7_0_15_reports_for_config_get_star():
    got = {name.decode() for name, _ in Config().get_matching([b"*"])}
    assert got == set(REFERENCE)


def test_defaults_print_as_redis_prints_them():
    # The reference was captured from a server started with these options.
    started_with = {"port", "save", "daemonize", "logfile", "pidfile", "dir"}
    values = dict(Config().get_matching([b"*"]))
    for name, expected in REFERENCE.items():
        if name == "bind":
            # Deliberate: loopback only by default, like Redis's shipped redis.conf.
            assert values[b"bind"] == b"127.0.0.1 -::1"
        elif name not in started_with:
            assert values[name.encode()].decode() == expected, name


def test_hidden_parameters_answer_only_to_their_exact_name():
    c = Config()
    assert c.get_matching([b"use-exit-on-panic"]) == [(b"use-exit-on-panic", b"no")]
    assert c.get_matching([b"use-exit*"]) == []
    assert {p.name for p in PARAMS if p.hidden} == {
        "use-exit-on-panic", "rdb-key-save-delay", "key-load-delay", "watchdog-period",
        "loading-process-events-interval-bytes",
    }


def test_every_alias_reaches_its_primary_parameter():
    c = Config()
    c.set_many([("slave-priority", "7")])
    assert c["replica-priority"] == 7
    assert c.format("slave-priority") == "7"
    for p in PARAMS:
        if p.alias:
            assert BY_NAME[p.alias] is p


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [("0", 0), ("1k", 1000), ("1kb", 1024), ("1KB", 1024), ("1Kb", 1024), ("2m", 2_000_000), ("2mb", 2 << 20),
     ("3g", 3 * 10**9), ("3GB", 3 << 30), ("7b", 7), ("0010", 10), ("", 0), ("kb", 0),
     ("99999999999999999999999", 2**64 - 1)],
)
def test_memtoull_accepts_units_like_redis(text, value):
    assert memtoull(text) == value


@pytest.mark.parametrize("text", ["-1", "1x", "1.5", " 1", "+1", "1 kb", "1kbb", "99999999999999999999k"])
def test_memtoull_refuses_what_redis_refuses(text):
    assert memtoull(text) is None


def test_strtoll_mirrors_c():
    assert strtoll("") == (0, True, False)  # no digits at all: 0, nothing left over
    assert strtoll(" 12") == (12, True, False)
    assert strtoll("+12") == (12, True, False)
    assert strtoll("12x") == (12, False, False)
    assert strtoll("-") == (0, False, False)
    assert strtoll("777", 8) == (511, True, False)
    assert strtoll("99999999999999999999")[2] is True


def test_memory_values_are_written_with_the_largest_exact_unit():
    assert [format_memory(v) for v in (0, 1000, 1024, 3 << 20, 2 << 30, 1025)] == ["0", "1000", "1kb", "3mb", "2gb", "1025"]


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("hz", "abc", "argument couldn't be parsed into an integer"),
        ("hz", "05", "argument couldn't be parsed into an integer"),
        ("hz", " 5", "argument couldn't be parsed into an integer"),
        ("hz", "-1", "argument must be between 0 and 2147483647 inclusive"),
        ("maxmemory", "1x", "argument must be a memory value"),
        ("maxmemory", "-1", "argument must be a memory value"),
        ("proto-max-bulk-len", "1k", "argument must be between 1048576 and 9223372036854775807 inclusive"),
        ("proto-max-bulk-len", "18446744073709551615", "argument must be between 1048576 and 9223372036854775807 inclusive"),
        ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
        ("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive"),
        ("hash-max-listpack-entries", "-1", "argument must be between 0 and 9223372036854775807 inclusive"),
        ("maxmemory-clients", "101%", "percentage argument must be less or equal to 100"),
        ("maxmemory-clients", "x", "argument must be a memory or percent value"),
        ("appendonly", "maybe", "argument must be 'yes' or 'no'"),
        ("loglevel", "nothing", "argument(s) must be one of the following: debug, verbose, notice, warning"),
        ("shutdown-on-sigterm", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously"),
        ("dbfilename", "a/b", "dbfilename can't be a path, just a filename"),
        ("daemonize", "no", "can't set immutable config"),
        ("save", "10", "Invalid save parameters"),
        ("save", "0 1", "Invalid save parameters"),
        ("save", "10  1", "Invalid save parameters"),
        ("oom-score-adj-values", "1 2", "wrong number of arguments"),
        ("oom-score-adj-values", "1 2 2001", "Invalid oom-score-adj-values, elements must be between -2000 and 2000."),
        ("notify-keyspace-events", "KEx!", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("latency-tracking-info-percentiles", "50 abc", "Invalid latency-tracking-info-percentiles parameters"),
        ("latency-tracking-info-percentiles", "101", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
        ("proc-title-template", "{title}", "template format is invalid or contains unknown variables"),
        ("proc-title-template", "{nope} x", "template format is invalid or contains unknown variables"),
        ("cluster-announce-hostname", "a_b", "Hostnames may only contain alphanumeric characters, hyphens or dots"),
        ("bind", " ".join(["1.2.3.4"] * 17), "Too many bind addresses specified."),
        ("tls-port", "6380", "Unable to update TLS configuration. Check server logs."),
    ],
)
def test_config_set_refusals_carry_redis_reasons(name, value, reason):
    config = Config()
    before = config.format(name)
    message = set_error(config, name, value)
    assert message == f"CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    assert config.format(name) == before


def test_config_set_values_print_back_in_canonical_form():
    c = Config()
    cases = [
        ("maxmemory", "1gb", "1073741824"), ("maxmemory", "99999999999999999999", "18446744073709551615"),
        ("maxmemory-clients", "5%", "5%"), ("hz", "1000", "500"), ("hz", "0", "1"),
        ("notify-keyspace-events", "KEA", "AKE"), ("notify-keyspace-events", "An", "A"),
        ("notify-keyspace-events", "nmKd", "dnKm"), ("notify-keyspace-events", "g$lshzxetdKE", "AKE"),
        ("oom-score-adj", "relative", "yes"), ("appendfsync", "ALWAYS", "always"),
        ("shutdown-on-sigterm", "NOW nosave", "nosave now"), ("shutdown-on-sigterm", "default now", "now"),
        ("save", "+10 1 099 0", "10 1 99 0"), ("save", "", ""),
        ("client-output-buffer-limit", "NORMAL 1mb 2MB 3 replica 1 2 3",
         "normal 1048576 2097152 3 slave 1 2 3 pubsub 33554432 8388608 60"),
        ("client-output-buffer-limit", "pubsub 1 2 ", "normal 1048576 2097152 3 slave 1 2 3 pubsub 1 2 0"),
        ("latency-tracking-info-percentiles", "0 100 50.5000 1e1", "0 100 50.5 10"),
        ("latency-tracking-info-percentiles", "", ""),
        ("bind", "127.0.0.1 -::1", "127.0.0.1 -::1"),
        ("list-max-ziplist-size", "-5", "-5"),
    ]
    for name, value, shown in cases:
        c.set_many([(name, value)])
        assert c.format(name) == shown, (name, value)


def test_client_output_buffer_limit_refuses_a_master_class_or_bad_numbers():
    c = Config()
    for value, reason in [
        ("master 1 2 3", "Invalid client class specified in buffer limit configuration."),
        ("pubsub 1 2 x", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
        ("pubsub -1 2 3", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
        ("pubsub 1 2", "Wrong number of arguments in buffer limit configuration."),
    ]:
        assert set_error(c, "client-output-buffer-limit", value).endswith(reason)


# -- CONFIG SET as a whole ---------------------------------------------------------------------


def test_unknown_names_are_reported_before_other_problems_only_when_first():
    c = Config()
    assert set_error(c, "foo", "bar", "daemonize", "no") == "Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert set_error(c, "daemonize", "no", "foo", "bar") == (
        "CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")


def test_names_in_errors_keep_the_case_sent_only_for_lookup_failures():
    c = Config()
    assert "'DAEMONIZE'" in set_error(c, "DAEMONIZE", "no")
    assert "'maxmemory') - argument must be" in set_error(c, "MAXMEMORY", "abc")
    assert "'slave-priority') - argument couldn't" in set_error(c, "Slave-Priority", "abc")


def test_a_parameter_twice_is_a_duplicate_but_an_alias_and_its_primary_are_not():
    c = Config()
    assert set_error(c, "maxmemory", "1", "MAXMEMORY", "2").endswith("'MAXMEMORY') - duplicate parameter")
    c.set_many([("slave-priority", "1"), ("replica-priority", "2")])
    assert c["replica-priority"] == 2


def test_multi_pair_set_is_all_or_nothing():
    c = Config()
    assert "'maxmemory'" in set_error(c, "hz", "20", "maxmemory", "abc")
    assert c["hz"] == 10
    c.set_many([("hz", "20"), ("maxmemory", "1mb")])
    assert (c["hz"], c["maxmemory"]) == (20, 1 << 20)


def test_a_watcher_refusing_a_value_rolls_every_pair_back():
    c = Config()
    seen = []

    def refuse_big(value):
        seen.append(value)
        if value > 100:
            raise ConfigError("Unable to listen on this port. Check server logs.")

    c.watch("timeout", refuse_big)
    with pytest.raises(SetError) as info:
        c.set_many([("hz", "30"), ("timeout", "500")])
    assert info.value.message == (b"CONFIG SET failed (possibly related to argument 'timeout') - "
                                  b"Unable to listen on this port. Check server logs.")
    assert (c["hz"], c["timeout"]) == (10, 0)
    assert seen == [500, 0]  # applied, then restored


def test_protected_and_loading_rules():
    c = Config()
    with pytest.raises(SetError) as info:
        c.set_many([("dir", "/")], allow_protected=False)
    assert info.value.message.endswith(b"can't set protected config")
    with pytest.raises(SetError) as info:
        c.set_many([("appendonly", "yes")], loading=True)
    assert info.value.message == b"-LOADING Redis is loading the dataset in memory"


def test_dir_is_checked_like_chdir(tmp_path):
    c = Config()
    assert set_error(c, "dir", str(tmp_path / "missing")).endswith("No such file or directory")
    (tmp_path / "f").write_text("x")
    assert set_error(c, "dir", str(tmp_path / "f")).endswith("Not a directory")
    (tmp_path / "sub").mkdir()
    c.set_many([("dir", str(tmp_path))])
    c.set_many([("dir", "sub")])  # relative to the current dir
    assert c["dir"] == str((tmp_path / "sub").resolve())


def test_quote_is_sdscatrepr():
    assert quote('a b"c\\\n\x01\xe9') == '"a b\\"c\\\\\\n\\x01\\xe9"'


# -- live, over redis-py ---------------------------------------------------------------------


def test_config_get_several_patterns_resp2_and_resp3(node):
    r2 = redis.Redis(port=node.port)
    reply = r2.execute_command("CONFIG", "GET", "maxmemory", "MAXMEMORY", "maxmemory-p*")
    assert reply == {b"maxmemory": b"0", b"maxmemory-policy": b"noeviction"}
    assert r2.config_get("nonexistent") == {}
    r3 = redis.Redis(port=node.port, protocol=3)
    assert r3.execute_command("CONFIG", "GET", "hz", "slave-read-only") == {b"hz": b"10", b"slave-read-only": b"yes"}


def test_config_set_over_redis_py(node):
    r = redis.Redis(port=node.port, decode_responses=True)
    assert r.config_set("maxmemory", "2mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": "2097152"}
    with pytest.raises(redis.ResponseError, match="argument must be a memory value"):
        r.config_set("maxmemory", "lots")
    assert r.execute_command("CONFIG", "SET", "hz", "15", "timeout", "7") == "OK"
    assert r.config_get("hz") == {"hz": "15"} and r.config_get("timeout") == {"timeout": "7"}


def test_loglevel_takes_effect(node):
    r = redis.Redis(port=node.port)
    r.config_set("loglevel", "warning")
    assert node.log.level == 3
    r.config_set("loglevel", "debug")
    assert node.log.level == 0


def test_logfile_cannot_change_at_runtime(node):
    r = redis.Redis(port=node.port)
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("logfile", "/tmp/x.log")


def test_timeout_disconnects_idle_clients(node):
    redis.Redis(port=node.port).config_set("timeout", "1")
    with RawClient(node.port) as idle:
        assert idle.call("PING") == b"+PONG\r\n"
        assert idle.is_closed(wait=4.0)


def test_maxclients_refuses_connections_beyond_it(node):
    admin = RawClient(node.port)
    assert admin.call("CONFIG", "SET", "maxclients", "1") == b"+OK\r\n"
    with RawClient(node.port) as extra:
        assert extra.read_all(1.0) == b"-ERR max number of clients reached\r\n"
    assert admin.call("CONFIG", "SET", "maxclients", "10000") == b"+OK\r\n"
    admin.close()


def test_hz_is_capped_like_redis(node):
    r = redis.Redis(port=node.port, decode_responses=True)
    r.config_set("hz", "100000")
    assert r.config_get("hz") == {"hz": "500"}


def test_notify_keyspace_events_reach_the_node(node):
    r = redis.Redis(port=node.port, decode_responses=True)
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    assert node.notify_flags != 0
    r.config_set("notify-keyspace-events", "")
    assert node.notify_flags == 0


def test_requirepass_applies_to_new_connections(node):
    r = redis.Redis(port=node.port)
    r.config_set("requirepass", "s3cret")
    with RawClient(node.port) as fresh:
        assert fresh.call("GET", "k").startswith(b"-NOAUTH")
        assert fresh.call("AUTH", "s3cret") == b"+OK\r\n"


def test_protected_dir_can_be_set_when_enabled(make_node, tmp_path):
    node = make_node(enable_protected_configs="yes")
    r = redis.Redis(port=node.port, decode_responses=True)
    r.config_set("dir", str(tmp_path))
    assert r.config_get("dir") == {"dir": str(tmp_path.resolve())}
    with pytest.raises(redis.ResponseError, match="No such file or directory"):
        r.config_set("dir", str(tmp_path / "nope"))


def test_config_set_refuses_dir_from_any_client_by_default(node):
    with RawClient(node.port) as c:
        assert c.call("CONFIG", "SET", "dir", "/") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n")


def test_resetstat_clears_command_and_error_stats(node):
    r = RawClient(node.port)
    r.call("SET", "k", "v")
    r.call("GET", "k")
    r.call("GET", "missing")
    assert r.call("CONFIG", "SET", "hz", "x").startswith(b"-ERR")
    assert node.commands.find("get").calls == 2 and node.stats.keyspace_hits == 1
    assert node.stats.total_error_replies == 1 and node.stats.errors == {b"ERR": 1}
    assert r.call("CONFIG", "RESETSTAT") == b"+OK\r\n"
    r.close()
    get, config_set = node.commands.find("get"), node.commands.find("config|set")
    assert (get.calls, get.nanos, config_set.failed_calls) == (0, 0, 0)
    assert (node.stats.keyspace_hits, node.stats.keyspace_misses, node.stats.total_error_replies) == (0, 0, 0)
    assert node.stats.errors == {}
    assert node.commands.find("config|resetstat").calls == 1  # counted after it ran, as in Redis


def test_rewrite_without_a_config_file(node):
    with RawClient(node.port) as c:
        assert c.call("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"


def test_hz_changes_while_the_cron_runs(node):
    # The cron reads hz and timeout while clients change them: no errors, values stick.
    r = redis.Redis(port=node.port, decode_responses=True)
    for hz in (1, 50, 500, 10):
        r.config_set("hz", str(hz))
        time.sleep(0.01)
    assert r.config_get("hz") == {"hz": "10"}
