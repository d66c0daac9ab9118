"""Capture Redis 7.0's command metadata and config defaults from a running redis-server.

Vermilion's command table (server/commands/table.py) takes each command's arity, flags, ACL
categories, key specifications and documentation from ``server/commands/redis-7.0.json``,
so that COMMAND, COMMAND INFO and COMMAND DOCS answer exactly as Redis 7.0 does. This script
regenerates that file (and ``server/redis-7.0-config.json``, the CONFIG GET * defaults used
to check our parameter table) from Debian's redis-server:

    redis-server --port 7777 --save "" &   # no config file: compiled-in defaults
    python tools/dump_redis_metadata.py 7777

Values are kept with their RESP3 types, because the reply shapes differ between RESP2
and RESP3: a bulk string is a JSON string, a simple string ``{"+": text}``, an integer a JSON
number, an array a JSON list, a set ``{"~": [...]}``, a map ``{"%": [[key, value], ...]}``.
"""

import json
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 20)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 20)
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"$":
            return self._exact(int(rest)).decode("latin-1")
        if t == b"=":
            return self._exact(int(rest))[4:].decode("latin-1")
        if t == b"+":
            return {"+": rest.decode()}
        if t == b":":
            return int(rest)
        if t == b"_":
            return None
        if t == b"*":
            return [self.read() for _ in range(int(rest))]
        if t == b"~":
            return {"~": [self.read() for _ in range(int(rest))]}
        if t == b"%":
            return {"%": [[self.read(), self.read()] for _ in range(int(rest))]}
        if t == b"-":
            raise RuntimeError(rest.decode())
        raise ValueError(line)

    def call(self, *args: str):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        return self.read()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    c = Conn(port)
    c.call("HELLO", "3")
    info = c.call("INFO", "server")
    version = [l for l in info.split("\r\n") if l.startswith("redis_version:")][0]
    commands = {}
    for entry in c.call("COMMAND"):
        commands[entry[0]] = {"info": entry}
    docs = c.call("COMMAND", "DOCS")
    for name, doc in docs["%"]:
        commands.setdefault(name, {})["docs"] = doc
    out = {"version": version.split(":")[1], "commands": dict(sorted(commands.items()))}
    path = ROOT / "server" / "commands" / "redis-7.0.json"
    path.write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
    config = c.call("CONFIG", "GET", "*")
    pairs = dict(sorted(config["%"]))
    (ROOT / "server" / "redis-7.0-config.json").write_text(json.dumps(pairs, indent=1) + "\n")
    print(f"{len(commands)} commands, {len(pairs)} config parameters from {out['version']}")


if __name__ == "__main__":
    main()
