"""Redis-format log lines: ``pid:R DD Mon YYYY HH:MM:SS.mmm L message``.

R is the role (M master, S replica, C child process, X sentinel); L the level mark
(``.`` debug, ``-`` verbose, ``*`` notice, ``#`` warning), as in Redis's serverLogRaw.
"""

from __future__ import annotations

import os
import sys
import threading
import time

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
MARKS = ".-*#"
DEBUG, VERBOSE, NOTICE, WARNING = 0, 1, 2, 3


class Logger:
    def __init__(self, logfile: str = "", level: str = "notice", role: str = "M"):
        self.level = LEVELS.get(level, 2)
        self.role = role
        self._lock = threading.Lock()
        self._file = None
        self.set_file(logfile)

    def set_file(self, logfile: str) -> None:
        if self._file not in (None, sys.stdout):
            self._file.close()
        self.logfile = logfile
        self._file = open(logfile, "a", buffering=1) if logfile else None

    def set_level(self, level: str) -> None:
        self.level = LEVELS.get(level, 2)

    def line(self, level: int, message: str) -> str:
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        return "%d:%s %s.%03d %s %s" % (
            os.getpid(),
            self.role,
            stamp,
            int(now * 1000) % 1000,
            MARKS[level],
            message,
        )

    def log(self, level: int, message: str) -> None:
        if level < self.level:
            return
        text = self.line(level, message) + "\n"
        with self._lock:
            f = self._file if self._file is not None else sys.stdout
            try:
                f.write(text)
                f.flush()
            except (OSError, ValueError):
                pass

    def debug(self, message: str) -> None:
        self.log(DEBUG, message)

    def verbose(self, message: str) -> None:
        self.log(VERBOSE, message)

    def notice(self, message: str) -> None:
        self.log(NOTICE, message)

    def warning(self, message: str) -> None:
        self.log(WARNING, message)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
