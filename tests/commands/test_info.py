"""INFO: Redis 7.0.15's sections, field names and order, read by redis-py and redis-cli."""

from __future__ import annotations

import re
import subprocess

import pytest
import redis

from tests.support.resp import RawClient
from tests.support.servers import REDIS_CLI

#: Sections whose fields do not depend on what was run (the others list commands, errors, dbs).
STATIC_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster")


def info_text(port: int, *args: str) -> str:
    with RawClient(port) as c:
        reply = c.call("INFO", *args)
    assert reply.startswith(b"$")
    return reply.split(b"\r\n", 1)[1][:-2].decode()


def headers(text: str) -> list[str]:
    return [line for line in text.split("\r\n") if line.startswith("#")]


def field_names(text: str) -> list[str]:
    return [line.split(":", 1)[0] for line in text.split("\r\n") if line and not line.startswith("#")]


@pytest.mark.parametrize(
    "args",
    [(), ("default",), ("all",), ("everything",), ("keyspace", "server", "CPU"), ("commandstats", "modules"), ("module_list",)],
)
def test_sections_and_their_order_match_redis(node, redis_ref, args):
    assert headers(info_text(node.port, *args)) == headers(info_text(redis_ref.port, *args))


@pytest.mark.parametrize("section", STATIC_SECTIONS)
def test_field_names_and_order_match_redis(node, redis_ref, section):
    ours = field_names(info_text(node.port, section))
    theirs = field_names(info_text(redis_ref.port, section))
    if section == "server":
        assert ours[-1] == "vermilion_version"
        ours = ours[:-1]
    assert ours == theirs


def test_unknown_section_is_an_empty_string(node):
    with RawClient(node.port) as c:
        assert c.call("INFO", "nosuchsection") == b"$0\r\n\r\n"


def test_text_layout_blank_line_between_sections_crlf_at_end(node):
    text = info_text(node.port, "server", "clients")
    assert text.startswith("# Server\r\nredis_version:7.0.15\r\n")
    assert "\r\n\r\n# Clients\r\n" in text
    assert text.endswith("\r\n") and not text.endswith("\r\n\r\n")


def test_resp3_info_is_a_verbatim_string(node):
    with RawClient(node.port) as c:
        c.call("HELLO", "3")
        reply = c.call("INFO", "server")
        assert reply.startswith(b"=") and reply.split(b"\r\n", 1)[1].startswith(b"txt:# Server\r\n")


def test_server_fields_are_real(node):
    info = redis.Redis(port=node.port).info("server")
    assert info["redis_version"] == "7.0.15"
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["tcp_port"] == node.port
    assert info["process_id"] > 0 and info["arch_bits"] == 64
    assert info["redis_mode"] == "standalone"
    assert isinstance(info["vermilion_version"], str)
    # Sentinel reads run_id only from a line of at least 47 characters.
    assert len("run_id:" + info["run_id"]) >= 47


def test_redis_py_parses_default_and_all(r):
    r.set("k", "v")
    r.set("n", "1")
    r.execute_command("INCR", "n")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    info = r.info()
    assert info["connected_clients"] >= 1
    assert info["role"] == "master"
    assert isinstance(info["used_memory"], int) and info["used_memory_human"]
    assert isinstance(info["mem_fragmentation_ratio"], float)
    assert info["db0"] == {"keys": 2, "expires": 0, "avg_ttl": 0}
    assert info["errorstat_ERR"]["count"] >= 1
    everything = r.info("all")
    assert everything["cmdstat_incr"]["calls"] == 1
    assert set(everything["cmdstat_incr"]) == {"calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"}
    latency = everything["latency_percentiles_usec_incr"]
    assert set(latency) == {"p50", "p99", "p99.9"}


def test_commandstats_count_calls_failures_and_rejections(node):
    with RawClient(node.port) as c:
        c.call("SET", "s", "x")
        c.call("GET", "s")
        c.call("GET")  # arity: rejected
        c.call("CLIENT", "LIST", "TYPE", "bogus")  # failed inside the command
        stats = info_text(node.port, "commandstats")
    lines = dict(line.split(":", 1) for line in stats.split("\r\n")[1:] if line)
    assert lines["cmdstat_get"].startswith("calls=1,") and lines["cmdstat_get"].endswith(",rejected_calls=1,failed_calls=0")
    assert lines["cmdstat_client|list"].endswith("rejected_calls=0,failed_calls=1")


def test_keyspace_lists_only_non_empty_databases(node):
    with RawClient(node.port) as c:
        c.call("SELECT", "3")
        c.call("SET", "a", "1")
        assert info_text(node.port, "keyspace") == "# Keyspace\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"


def _stats(port: int) -> dict[str, str]:
    text = info_text(port, "stats")
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if line)


def test_stats_count_connections_commands_and_errors(node):
    before = _stats(node.port)
    with RawClient(node.port) as c:
        c.call("NOSUCH")
        c.call("PING")
    after = _stats(node.port)
    assert int(after["total_connections_received"]) == int(before["total_connections_received"]) + 2
    assert int(after["total_error_replies"]) == int(before["total_error_replies"]) + 1
    assert int(after["total_commands_processed"]) >= int(before["total_commands_processed"]) + 2


def test_redis_cli_reads_info(node):
    out = subprocess.run(
        [REDIS_CLI, "-p", str(node.port), "info", "server"], capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0
    assert "redis_version:7.0.15" in out.stdout and out.stdout.startswith("# Server")
    out3 = subprocess.run(
        [REDIS_CLI, "-3", "-p", str(node.port), "info", "keyspace"], capture_output=True, text=True, timeout=20
    )
    assert out3.returncode == 0 and out3.stdout.startswith("# Keyspace")
