"""The replica's side of a master link, from TCP connect to the first byte of the command
stream, as a sans-IO state machine (Redis's syncWithMaster + readSyncBulkPayload).

Design note
-----------
``Handshake`` takes the bytes the master sends (``receive(data)``) and returns events; it
never touches a socket or a clock. The shell (``replica.py``) writes ``Send`` events to the
connection, logs ``Log`` events, and acts on the outcome. The steps, with the bytes a Redis
7.0 replica sends:

1. ``start()`` -> ``PING``. Any ``+`` reply is fine, and so are the errors that only mean
   "authenticate first" (``-NOAUTH``, ``-NOPERM``, ``-ERR operation not permitted``).
2. One write: ``AUTH [masteruser] masterauth`` (when set), ``REPLCONF listening-port <port>``,
   ``REPLCONF ip-address <ip>`` (when announced), ``REPLCONF capa eof capa psync2``; then one
   reply is read for each, in order. An AUTH error is fatal; REPLCONF errors are only logged.
3. ``PSYNC <replid> <offset>`` (``? -1`` without history; ``... FAILOVER`` from a master
   handing its role over, replication/failover.py). Empty lines before the reply are
   the master's keepalives. ``+FULLRESYNC <replid> <offset>`` -> ``FullResync`` and the
   payload; ``+CONTINUE [<replid>]`` -> ``Continue`` and the stream starts at once;
   ``-NOMASTERLINK``/``-LOADING`` -> ``Failed`` (try later); any other error -> the legacy
   ``SYNC`` (an inline ``SYNC\\r\\n``), answered by a bare payload.
4. The payload: keepalive newlines are skipped, ``-error`` aborts, then either
   ``$<len>\\r\\n`` and exactly that many bytes (no CRLF after them), or
   ``$EOF:<40-byte mark>\\r\\n`` and bytes up to the same mark. ``Payload`` carries the RDB.
5. Whatever follows is command stream: ``Stream(bytes)``, and the machine is ``done``.

``Failed`` ends the attempt (the shell closes the link and retries as Redis does).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Length of a replication ID and of the diskless EOF mark (CONFIG_RUN_ID_SIZE, RDB_EOF_MARK_SIZE).
ID_SIZE = 40
#: A reply line longer than this without a newline means a confused peer.
_MAX_LINE = 64 * 1024


# -- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Log:
    level: str  # "notice" | "warning" | "verbose"
    text: str


@dataclass(frozen=True)
class Failed:
    reason: str


@dataclass(frozen=True)
class FullResync:
    """``replid`` is "" when the master's reply was malformed (later PSYNCs will fail);
    ``offset`` is -1 after a legacy SYNC."""

    replid: str
    offset: int


@dataclass(frozen=True)
class Continue:
    """``replid`` is the master's (possibly new) ID, None if it did not send one."""

    replid: str | None


@dataclass(frozen=True)
class TransferStarted:
    """The payload header: ``size`` in bytes, or None for an EOF-marked transfer."""

    size: int | None


@dataclass(frozen=True)
class Keepalive:
    pass


@dataclass(frozen=True)
class Payload:
    rdb: bytes
    eof_marked: bool


@dataclass(frozen=True)
class Stream:
    data: bytes


def command(*args: bytes | str) -> bytes:
    """A command as the RESP multibulk a replica sends."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(out)


# -- the machine -------------------------------------------------------------------------------
RECEIVE_PONG = "receive_pong"
RECEIVE_AUTH = "receive_auth"
RECEIVE_PORT = "receive_port"
RECEIVE_IP = "receive_ip"
RECEIVE_CAPA = "receive_capa"
RECEIVE_PSYNC = "receive_psync"
TRANSFER = "transfer"
DONE = "done"
FAILED = "failed"

#: ``Failed.reason`` when the target of a FAILOVER did not accept our PSYNC ... FAILOVER.
FAILOVER_REJECTED = "failover-rejected"

_AUTH_PENDING_ERRORS = (b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")


class Handshake:
    """See the module docstring."""

    def __init__(
        self,
        *,
        listening_port: int,
        announce_ip: str | None = None,
        masteruser: str | None = None,
        masterauth: bytes | None = None,
        psync_replid: str = "?",
        psync_offset: int = -1,
        failover: bool = False,
    ):
        self.listening_port = listening_port
        self.announce_ip = announce_ip or None
        self.masteruser = masteruser or None
        self.masterauth = masterauth
        self.psync_replid = psync_replid
        self.psync_offset = psync_offset
        #: A master failing over (FAILOVER): PSYNC carries FAILOVER, and any answer but
        #: +FULLRESYNC / +CONTINUE fails the attempt with FAILOVER_REJECTED.
        self.failover = failover
        self.state = RECEIVE_PONG
        self._buf = b""
        # Transfer progress (INFO master_sync_*).
        self.transfer_size = -1  # bytes announced by $<len>; 0 for an EOF-marked payload
        self.transfer_read = 0
        self._mark: bytes | None = None
        self._chunks: list[bytes] = []
        self._tail = b""
        self._legacy = False

    # -- input -------------------------------------------------------------------------------
    def start(self) -> list:
        return [Send(command("PING"))]

    def receive(self, data: bytes) -> list:
        """Feed bytes from the master; returns the events they cause."""
        events: list = []
        if self.state == DONE:
            if data:
                events.append(Stream(data))  # the stream goes on
            return events
        if self.state == FAILED:
            return events
        self._buf += data
        while self.state not in (DONE, FAILED):
            if self.state == TRANSFER and self.transfer_size >= 0:
                self._payload_bytes(events)
                break
            line = self._line()
            if line is None:
                if len(self._buf) > _MAX_LINE:
                    self._fail(events, "Master sent a line too long")
                break
            self._on_line(line, events)
        return events

    def _line(self) -> bytes | None:
        nl = self._buf.find(b"\n")
        if nl < 0:
            return None
        line = self._buf[:nl]
        self._buf = self._buf[nl + 1 :]
        return line[:-1] if line.endswith(b"\r") else line

    def _fail(self, events: list, reason: str) -> None:
        self.state = FAILED
        events.append(Failed(reason))

    # -- replies -------------------------------------------------------------------------------
    def _on_line(self, line: bytes, events: list) -> None:
        state = self.state
        text = line.decode("latin-1")
        if state == RECEIVE_PONG:
            if line[:1] != b"+" and not line.startswith(_AUTH_PENDING_ERRORS):
                events.append(Log("warning", "Error reply to PING from master: '%s'" % text))
                self._fail(events, "ping")
                return
            events.append(Log("notice", "Master replied to PING, replication can continue..."))
            events.append(Send(self._handshake_bytes()))
            self.state = RECEIVE_AUTH if self.masterauth is not None else RECEIVE_PORT
        elif state == RECEIVE_AUTH:
            if line[:1] == b"-":
                events.append(Log("warning", "Unable to AUTH to MASTER: %s" % text))
                self._fail(events, "auth")
                return
            self.state = RECEIVE_PORT
        elif state == RECEIVE_PORT:
            if line[:1] == b"-":
                events.append(Log("notice", "(Non critical) Master does not understand REPLCONF listening-port: %s" % text))
            self.state = RECEIVE_IP if self.announce_ip else RECEIVE_CAPA
        elif state == RECEIVE_IP:
            if line[:1] == b"-":
                events.append(Log("notice", "(Non critical) Master does not understand REPLCONF ip-address: %s" % text))
            self.state = RECEIVE_CAPA
        elif state == RECEIVE_CAPA:
            if line[:1] == b"-":
                events.append(Log("notice", "(Non critical) Master does not understand REPLCONF capa: %s" % text))
            self._send_psync(events)
        elif state == RECEIVE_PSYNC:
            self._on_psync_reply(line, text, events)
        elif state == TRANSFER:
            self._on_payload_header(line, text, events)

    def _handshake_bytes(self) -> bytes:
        out = []
        if self.masterauth is not None:
            if self.masteruser:
                out.append(command("AUTH", self.masteruser, self.masterauth))
            else:
                out.append(command("AUTH", self.masterauth))
        out.append(command("REPLCONF", "listening-port", str(self.listening_port)))
        if self.announce_ip:
            out.append(command("REPLCONF", "ip-address", self.announce_ip))
        out.append(command("REPLCONF", "capa", "eof", "capa", "psync2"))
        return b"".join(out)

    def _send_psync(self, events: list) -> None:
        if self.psync_replid != "?":
            events.append(Log("notice", "Trying a partial resynchronization (request %s:%d)."
                              % (self.psync_replid, self.psync_offset)))
        else:
            events.append(Log("notice", "Partial resynchronization not possible (no cached master)"))
        args = ["PSYNC", self.psync_replid, str(self.psync_offset)]
        if self.failover:
            args.append("FAILOVER")
        events.append(Send(command(*args)))
        self.state = RECEIVE_PSYNC

    def _on_psync_reply(self, line: bytes, text: str, events: list) -> None:
        if not line:
            events.append(Keepalive())  # the master is preparing the payload
            return
        if line.startswith(b"+FULLRESYNC"):
            parts = text.split(" ")
            if len(parts) >= 3 and len(parts[1]) == ID_SIZE:
                replid = parts[1]
                offset = _to_int(parts[2])
                events.append(Log("notice", "Full resync from master: %s:%d" % (replid, offset)))
            else:
                events.append(Log("warning", "Master replied with wrong +FULLRESYNC syntax."))
                replid, offset = "", -1
            events.append(FullResync(replid, offset))
            self.state = TRANSFER
            return
        if line.startswith(b"+CONTINUE"):
            events.append(Log("notice", "Successful partial resynchronization with master."))
            rest = text[10:] if len(text) > 9 else ""
            events.append(Continue(rest if len(rest) == ID_SIZE else None))
            self._finish(events)
            return
        if line.startswith((b"-NOMASTERLINK", b"-LOADING")):
            events.append(Log("notice", "Master is currently unable to PSYNC but should be in the future: %s" % text))
            self._fail(events, FAILOVER_REJECTED if self.failover else "try-later")
            return
        if line.startswith(b"-ERR"):
            events.append(Log("notice", "Master does not support PSYNC or is in error state (reply: %s)" % text))
        else:
            events.append(Log("warning", "Unexpected reply to PSYNC from master: %s" % text))
        if self.failover:
            self._fail(events, FAILOVER_REJECTED)
            return
        # PSYNC not supported: the old way, a full copy without IDs or offsets.
        events.append(Log("notice", "Retrying with SYNC..."))
        events.append(Send(b"SYNC\r\n"))
        events.append(FullResync("", -1))
        self._legacy = True
        self.state = TRANSFER

    # -- the payload -----------------------------------------------------------------------------
    def _on_payload_header(self, line: bytes, text: str, events: list) -> None:
        if not line:
            events.append(Keepalive())
            return
        if line[:1] == b"-":
            events.append(Log("warning", "MASTER aborted replication with an error: %s" % text[1:]))
            self._fail(events, "aborted")
            return
        if line[:1] != b"$":
            events.append(Log("warning", "Bad protocol from MASTER, the first byte is not '$' (we received '%s'), "
                              "are you sure the host and port are right?" % text))
            self._fail(events, "protocol")
            return
        if line.startswith(b"$EOF:") and len(line) - 5 >= ID_SIZE:
            self._mark = line[5 : 5 + ID_SIZE]
            self.transfer_size = 0
            events.append(Log("notice", "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"))
        else:
            size = _to_int(text[1:])
            if size < 0:
                events.append(Log("warning", "Bad protocol from MASTER, invalid payload length '%s'" % text))
                self._fail(events, "protocol")
                return
            self.transfer_size = size
            events.append(Log("notice", "MASTER <-> REPLICA sync: receiving %d bytes from master to disk" % size))
        events.append(TransferStarted(None if self._mark is not None else self.transfer_size))

    def _payload_bytes(self, events: list) -> None:
        data, self._buf = self._buf, b""
        if not data:
            return
        if self._mark is None:
            need = self.transfer_size - self.transfer_read
            if len(data) < need:
                self._chunks.append(data)
                self.transfer_read += len(data)
                return
            self._chunks.append(data[:need])
            self.transfer_read += need
            rest = data[need:]
            events.append(Payload(b"".join(self._chunks), False))
        else:
            # The mark ends the payload; a master holds the stream back until our first
            # ACK, but look for the mark within the new bytes anyway.
            window = self._tail + data
            at = window.find(self._mark)
            if at < 0:
                self._chunks.append(data)
                self.transfer_read += len(data)
                self._tail = window[-ID_SIZE:]
                return
            # Bytes of the window that belong to the RDB and are not stored yet.
            tail_len = len(self._tail)
            if at >= tail_len:
                self._chunks.append(data[: at - tail_len])
            else:  # the mark began in bytes already stored: drop them again
                self._drop_stored(tail_len - at)
            self.transfer_read += len(data)
            rest = window[at + ID_SIZE :]
            events.append(Payload(b"".join(self._chunks), True))
        self._chunks = []
        self._finish(events, rest)

    def _drop_stored(self, n: int) -> None:
        while n > 0 and self._chunks:
            last = self._chunks[-1]
            if len(last) <= n:
                n -= len(last)
                self._chunks.pop()
            else:
                self._chunks[-1] = last[:-n]
                n = 0

    def _finish(self, events: list, rest: bytes = b"") -> None:
        self.state = DONE
        rest += self._buf
        self._buf = b""
        if rest:
            events.append(Stream(rest))

    @property
    def in_handshake(self) -> bool:
        """ROLE's "handshake": between the PING and the PSYNC reply."""
        return self.state in (RECEIVE_PONG, RECEIVE_AUTH, RECEIVE_PORT, RECEIVE_IP, RECEIVE_CAPA, RECEIVE_PSYNC)

    @property
    def legacy(self) -> bool:
        """True after a fallback to SYNC (no offsets: no ACKs are sent)."""
        return self._legacy


def _to_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return -1
