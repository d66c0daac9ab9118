"""Redis-format log lines: ``pid:R DD Mon YYYY HH:MM:SS.mmm L message``.

Design note
-----------
R is the role (``M`` master, ``S`` replica, ``C`` a child process or the server before it is
initialised, ``X`` sentinel) and L the level mark (``.`` debug, ``-`` verbose, ``*`` notice,
``#`` warning), as in Redis's serverLogRaw. Lines below ``loglevel`` are dropped; messages are
cut at Redis's LOG_MAX_LEN. Without a ``logfile`` the log goes to stdout.

Two special forms: ``raw`` writes text as is (the ASCII logo), and ``from_signal_handler``
writes ``pid:signal-handler (unixtime) message``, the line Redis logs from its SIGTERM/SIGINT
handler.
"""

from __future__ import annotations

import os
import sys
import threading
import time

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
MARKS = ".-*#"
DEBUG, VERBOSE, NOTICE, WARNING = 0, 1, 2, 3
#: serverLog formats into a 1024-byte buffer.
LOG_MAX_LEN = 1024

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def timestamp(now: float) -> str:
    """``25 Nov 2026 23:07:05.058`` in local time (locale-independent month names)."""
    t = time.localtime(now)
    return "%02d %s %d %02d:%02d:%02d.%03d" % (
        t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec, int(now * 1000) % 1000,
    )


class Logger:
    """One server's log: level, destination and role mark."""

    def __init__(self, logfile: str = "", level: str = "notice", role: str = "M"):
        self.level = LEVELS.get(level, NOTICE)
        self.role = role
        self._lock = threading.Lock()
        self._file = None
        self.logfile = ""
        self.set_file(logfile)

    def set_file(self, logfile: str) -> None:
        self.close()
        self.logfile = logfile
        self._file = open(logfile, "a", buffering=1, encoding="latin-1", errors="replace") if logfile else None

    def set_level(self, level: str) -> None:
        self.level = LEVELS.get(level, NOTICE)

    def line(self, level: int, message: str) -> str:
        return "%d:%s %s %s %s" % (os.getpid(), self.role, timestamp(time.time()), MARKS[level], message[: LOG_MAX_LEN - 1])

    def _write(self, text: str) -> None:
        with self._lock:
            f = self._file if self._file is not None else sys.stdout
            try:
                f.write(text)
                f.flush()
            except (OSError, ValueError):
                pass

    def log(self, level: int, message: str) -> None:
        if level >= self.level:
            self._write(self.line(level, message) + "\n")

    def debug(self, message: str) -> None:
        self.log(DEBUG, message)

    def verbose(self, message: str) -> None:
        self.log(VERBOSE, message)

    def notice(self, message: str) -> None:
        self.log(NOTICE, message)

    def warning(self, message: str) -> None:
        self.log(WARNING, message)

    def raw(self, text: str, level: int = NOTICE) -> None:
        """Text without the line prefix (serverLogRaw with LL_RAW)."""
        if level >= self.level:
            self._write(text)

    def from_signal_handler(self, message: str, level: int = WARNING) -> None:
        """serverLogFromHandler: ``pid:signal-handler (unixtime) message``."""
        if level >= self.level:
            self._write("%d:signal-handler (%d) %s\n" % (os.getpid(), int(time.time()), message))

    def banner(self, mode: str, port: int, pid: int, show_logo: bool, version: str) -> None:
        """redisAsciiArt: one line, or Redis's ASCII logo when ``always-show-logo`` is set."""
        if show_logo:
            self.raw(ASCII_LOGO % (version, "00000000", 0, "64", mode, port, pid))
        else:
            self.notice("Running mode=%s, port=%d." % (mode, port))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


ASCII_LOGO = (
    "                _._                                                  \n"
    "           _.-``__ ''-._                                             \n"
    "      _.-``    `.  `_.  ''-._           Redis %s (%s/%d) %s bit\n"
    "  .-`` .-```.  ```\\/    _.,_ ''-._                                  \n"
    " (    '      ,       .-`  | `,    )     Running in %s mode\n"
    " |`-._`-...-` __...-.``-._|'` _.-'|     Port: %d\n"
    " |    `-._   `._    /     _.-'    |     PID: %d\n"
    "  `-._    `-._  `-./  _.-'    _.-'                                   \n"
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  \n"
    " |    `-._`-._        _.-'_.-'    |           https://redis.io       \n"
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   \n"
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  \n"
    " |    `-._`-._        _.-'_.-'    |                                  \n"
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   \n"
    "      `-._    `-.__.-'    _.-'                                       \n"
    "          `-._        _.-'                                           \n"
    "              `-.__.-'                                               \n\n"
)
