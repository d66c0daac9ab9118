"""redis-cli against Vermilion, side by side with real Redis: one-shot commands (output in
every format, exit code, stderr), ``--pipe`` mass insertion, and an interactive session
driven through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

import pytest

from tests.support.resp import RawClient, encode_command
from tests.support.servers import REDIS_CLI, real_redis, vermilion


@pytest.fixture(scope="module")
def both():
    """A fresh real Redis and a fresh Vermilion node, for this module only."""
    with real_redis() as rp, vermilion() as node:
        for port in (rp.port, node.port):
            with RawClient(port) as c:
                assert c.call("FLUSHALL") == b"+OK\r\n"
        yield rp.port, node.port


def cli(port: int, *args: str, stdin: bytes | None = None, timeout: float = 60) -> tuple[int, bytes, bytes]:
    p = subprocess.run([REDIS_CLI, "-p", str(port), *args], input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# -- one-shot commands ----------------------------------------------------------------------------

# Run in order on both servers: each line's exit code, stdout and stderr must be identical.
ONE_SHOT = [
    ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["INCR", "n"], ["INCR", "k"],
    ["MGET", "k", "missing", "n"], ["NOPE", "a"], ["GET"], ["SET", "multi", "a\nb c"], ["GET", "multi"],
    ["EXISTS", "k", "k", "missing"], ["PING"], ["ECHO", "hello world"], ["DEL", "missing"],
    # The human format redis-cli uses on a terminal.
    ["--no-raw", "GET", "k"], ["--no-raw", "GET", "missing"], ["--no-raw", "INCR", "n"],
    ["--no-raw", "INCR", "k"], ["--no-raw", "MGET", "k", "missing", "n"], ["--no-raw", "GET", "multi"],
    ["--no-raw", "CLIENT", "GETNAME"], ["--no-raw", "SET", "k", "v", "NX"], ["--no-raw", "NOPE"],
    ["--no-raw", "MGET"], ["--no-raw", "TTL", "k"], ["--no-raw", "PING"], ["--no-raw", "KEYS", "nomatch*"],
    # Other formats and protocol 3.
    ["--csv", "MGET", "k", "missing", "n"], ["--csv", "INCR", "n"], ["--csv", "GET", "missing"],
    ["-3", "GET", "missing"], ["-3", "--no-raw", "GET", "missing"], ["-3", "--no-raw", "MGET", "k", "missing"],
    ["-3", "--no-raw", "INCRBYFLOAT", "f", "1.5"], ["--raw", "MGET", "k", "n"],
    # Connection options.
    ["-n", "3", "SET", "k3", "v"], ["-n", "3", "DBSIZE"], ["-n", "3", "GET", "k"], ["-n", "99", "PING"],
    ["-r", "3", "INCR", "n"], ["-e", "INCR", "k"], ["-e", "GET", "k"],
]


def test_one_shot_commands_match_redis(both):
    redis_port, our_port = both
    for args in ONE_SHOT:
        assert cli(our_port, *args) == cli(redis_port, *args), args


def test_exit_code_with_e_flag_on_error(both):
    # -e makes redis-cli exit 1 when the server replies with an error.
    redis_port, our_port = both
    for port in both:
        cli(port, "SET", "str", "abc")
    assert cli(our_port, "-e", "INCR", "str")[0] == cli(redis_port, "-e", "INCR", "str")[0] == 1
    assert cli(our_port, "-e", "GET", "str")[0] == 0


def test_binary_value_through_stdin(both):
    value = bytes(range(256)) * 4
    outs = []
    for port in both:
        assert cli(port, "-x", "SET", "bin", stdin=value)[1] == b"OK\n"
        outs.append((cli(port, "--raw", "GET", "bin"), cli(port, "--no-raw", "GET", "bin"), cli(port, "STRLEN", "bin")))
    assert outs[0] == outs[1]
    assert outs[1][0][1] == value + b"\n"
    assert outs[1][2][1] == b"1024\n"


def test_password_options_match_redis():
    with real_redis("--requirepass", "pw") as rp, vermilion(requirepass="pw") as node:
        for args in (["PING"], ["-a", "pw", "--no-auth-warning", "PING"], ["-a", "bad", "--no-auth-warning", "PING"],
                     ["--user", "default", "--pass", "pw", "--no-auth-warning", "SET", "a", "1"],
                     ["-a", "pw", "--no-auth-warning", "--no-raw", "GET", "a"], ["--no-raw", "AUTH", "pw"]):
            assert cli(node.port, *args) == cli(rp.port, *args), args


# -- --pipe -----------------------------------------------------------------------------------------


def test_pipe_mass_insert_of_100k_keys(both):
    _redis_port, our_port = both
    n = 100_000
    data = b"".join(encode_command("SET", b"mass:%d" % i, b"value:%d" % i) for i in range(n))
    with RawClient(our_port) as c:
        before = _dbsize(c)
    code, out, err = cli(our_port, "--pipe", stdin=data, timeout=300)
    assert code == 0, err
    summary = out.decode().strip().splitlines()
    assert summary[-1] == f"errors: 0, replies: {n}"
    assert "All data transferred" in out.decode()
    with RawClient(our_port) as c:
        assert _dbsize(c) == before + n
        for i in (0, 1, 4242, n - 1):
            assert c.call("GET", b"mass:%d" % i) == b"$%d\r\nvalue:%d\r\n" % (len(b"value:%d" % i), i)


def _dbsize(c: RawClient) -> int:
    return int(c.call("DBSIZE")[1:-2])


def test_pipe_reports_errors_like_redis(both):
    data = (encode_command("SET", "p", "1") + encode_command("INCR", "p") + encode_command("GET")
            + encode_command("NOPE") + encode_command("SET", "s", "abc") + encode_command("INCR", "s"))
    summaries = []
    for port in both:
        code, out, _err = cli(port, "--pipe", stdin=data)
        # Drop the random ECHO marker lines; keep the error lines and the summary.
        summaries.append((code, [line for line in out.decode().splitlines() if not line.startswith("All data")]))
    assert summaries[0] == summaries[1]
    assert summaries[1][1][-1] == "errors: 3, replies: 6"


# -- an interactive session through a pseudo-terminal ---------------------------------------------


class Terminal:
    """redis-cli on a pty: type a line, read until the next prompt."""

    def __init__(self, port: int):
        self.port = port
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become redis-cli with a plain terminal
            os.environ["TERM"] = "dumb"
            os.execv(REDIS_CLI, [REDIS_CLI, "-p", str(port), "--no-auth-warning"])
        self.transcript = b""
        self.read_until_prompt()

    def read_until_prompt(self, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        start = len(self.transcript)
        while not re.search(rb"127\.0\.0\.1:\d+(\[\d+\])?> $", self.transcript[start:]):
            left = deadline - time.monotonic()
            assert left > 0, f"no prompt; got {self.transcript[start:]!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.transcript += chunk
        return self.transcript[start:]

    def type(self, line: str) -> str:
        os.write(self.fd, line.encode() + b"\r")
        out = self.read_until_prompt()
        # What the terminal shows: our echoed line, the reply, the next prompt.
        text = out.decode("utf-8", "replace").replace("\r\n", "\n")
        return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)

    def close(self) -> None:
        try:
            os.write(self.fd, b"quit\r")
            time.sleep(0.1)
        finally:
            os.close(self.fd)
            os.waitpid(self.pid, 0)


SESSION = ["SET greeting hello", "GET greeting", "GET nothing", "INCR counter", "INCR greeting",
           "MGET greeting nothing counter", "SELECT 2", "GET greeting", "SELECT 0", "DEL greeting",
           'SET "with space" "a b"', "GET \"with space\"", "NOPE x", "EXISTS counter", "PING"]


def test_interactive_session_matches_redis(both):
    transcripts = []
    for port in both:
        term = Terminal(port)
        try:
            screen = [term.type(line).replace(str(port), "PORT") for line in SESSION]
        finally:
            term.close()
        transcripts.append(screen)
    assert transcripts[1] == transcripts[0]
    ours = transcripts[1]
    assert ours[0] == "SET greeting hello\nOK\n127.0.0.1:PORT> "
    assert ours[1] == 'GET greeting\n"hello"\n127.0.0.1:PORT> '
    assert "(nil)" in ours[2] and "(integer) 1" in ours[3]
    assert "(error) ERR value is not an integer or out of range" in ours[4]
    assert ours[6].endswith("127.0.0.1:PORT[2]> ") and "(nil)" in ours[7]
