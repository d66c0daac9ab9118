"""COMMAND and its subcommands, as redis-py's cluster parser and interactive redis-cli read them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import redis
from redis._parsers import CommandsParser

from tests.support.resp import RawClient
from tests.support.servers import REDIS_CLI


def test_count_matches_the_listing_and_the_table(node):
    with RawClient(node.port) as c:
        count = int(c.call("COMMAND", "COUNT")[1:-2])
        assert count == len(node.commands)
        assert c.call("COMMAND").startswith(b"*%d\r\n" % count)
        assert c.call("COMMAND", "INFO").startswith(b"*%d\r\n" % count)


def test_redis_py_parses_command_and_its_cluster_key_parser_works(node):
    r = redis.Redis(port=node.port)
    commands = r.command()
    assert commands["get"]["arity"] == 2 and commands["get"]["first_key_pos"] == 1
    assert "readonly" in commands["get"]["flags"]
    parser = CommandsParser(r)
    assert parser.get_keys(r, "GET", "k") == ["k"]
    assert parser.get_keys(r, "MSET", "a", "1", "b", "2") == ["a", "b"]
    assert parser.get_keys(r, "MEMORY USAGE", "k") == ["k"]
    assert parser.get_keys(r, "PING") is None
    policies = parser.get_command_policies()
    assert policies  # every tip parses as a known request/response policy
    r.close()


def test_resp3_uses_sets_and_maps(node):
    with RawClient(node.port) as c:
        c.call("HELLO", "3")
        info = c.call("COMMAND", "INFO", "get")
        assert info.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
        docs = c.call("COMMAND", "DOCS", "get")
        assert docs.startswith(b"%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n")
        assert c.call("COMMAND", "INFO", "nosuch") == b"*1\r\n_\r\n"


def test_info_and_docs_of_unknown_names(node):
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "INFO", "nosuch", "get|x", "a|b|c") == b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
        assert c.call("COMMAND", "DOCS", "nosuch") == b"*0\r\n"
        assert c.call("COMMAND", "DOCS", "GET", "GET").count(b"$3\r\nget\r\n") == 2


def test_subcommands_are_listed_under_their_container(node):
    with RawClient(node.port) as c:
        info = c.call("COMMAND", "INFO", "client|kill")
        assert info.startswith(b"*1\r\n*10\r\n$11\r\nclient|kill\r\n:-3\r\n")
        client = c.call("COMMAND", "INFO", "client")
        for sub in (b"client|list", b"client|setinfo", b"client|no-touch"):
            assert b"$%d\r\n%b\r\n" % (len(sub), sub) in client


def test_getkeys_and_its_errors(node):
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "GETKEYS", "GET", "k") == b"*1\r\n$1\r\nk\r\n"
        assert c.call("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        assert c.call("COMMAND", "GETKEYS", "MEMORY", "USAGE", "k") == b"*1\r\n$1\r\nk\r\n"
        assert c.call("COMMAND", "GETKEYS", "NOSUCH", "k") == b"-ERR Invalid command specified\r\n"
        assert c.call("COMMAND", "GETKEYS", "CLIENT", "NOSUCH") == b"-ERR Invalid command specified\r\n"
        assert c.call("COMMAND", "GETKEYS", "CLIENT", "LIST") == b"-ERR The command has no key arguments\r\n"
        assert c.call("COMMAND", "GETKEYS", "GET", "a", "b") == (
            b"-ERR Invalid number of arguments specified for command\r\n"
        )
        assert c.call("COMMAND", "GETKEYS", "GET") == (
            b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"
        )


def test_getkeysandflags_reports_access_flags(node):
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v") == (
            b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
        )
        assert c.call("COMMAND", "GETKEYSANDFLAGS", "GET", "k") == b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n"


def test_list_and_its_filters(node):
    r = redis.Redis(port=node.port, decode_responses=True)
    everything = r.command_list()
    assert "get" in everything and "client|list" in everything and "client" in everything
    assert len(everything) == len(list(node.commands.all_specs()))
    assert sorted(r.command_list(pattern="client|*i*")) == sorted(
        name for name in everything if name.startswith("client|") and "i" in name[7:]
    )
    connection = r.command_list(category="CONNECTION")
    assert "ping" in connection and "get" not in connection
    assert r.command_list(category="nosuch") == []
    assert r.command_list(module="x") == []
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "LIST", "FILTERBY", "COLOR", "x") == b"-ERR syntax error\r\n"
        assert c.call("COMMAND", "LIST", "FILTERBY", "PATTERN") == b"-ERR syntax error\r\n"
    r.close()


def test_getkeysandflags_variable_flags_follow_the_arguments(node):
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET") == (
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"
        )


def test_help_lists_the_subcommands(node):
    with RawClient(node.port) as c:
        assert c.call("COMMAND", "HELP").startswith(
            b"*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        )


def _interact(port: int, lines: list[str], timeout: float = 10) -> str:
    """Run redis-cli on a pseudo-terminal (interactive mode), type ``lines``, return the screen."""
    master, slave = pty.openpty()
    # TERM=dumb: linenoise reads plain lines instead of querying the cursor position.
    env = dict(os.environ, TERM="dumb")
    proc = subprocess.Popen(
        [REDIS_CLI, "-p", str(port)], stdin=slave, stdout=slave, stderr=slave, close_fds=True, env=env
    )
    os.close(slave)
    out = b""

    def read_for(seconds: float) -> None:
        nonlocal out
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                out += chunk

    try:
        read_for(1.0)
        for line in lines:
            os.write(master, line.encode() + b"\r")
            read_for(0.5)
        os.write(master, b"quit\r")
        read_for(1.0)
    finally:
        proc.kill()
        proc.wait(timeout)
        os.close(master)
    return out.decode("utf-8", "replace")


def test_interactive_redis_cli_works_against_us(node):
    screen = _interact(node.port, ["SET greeting hello", "GET greeting", "CLIENT ID", "COMMAND COUNT"])
    assert f"127.0.0.1:{node.port}>" in screen
    assert "OK" in screen and '"hello"' in screen
    assert "(integer)" in screen
    assert "ERR" not in screen
    # Interactive redis-cli asks for COMMAND DOCS at start (its hints come from it).
    assert node.commands.find("command|docs").calls >= 1
