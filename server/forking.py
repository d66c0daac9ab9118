"""Forked children: BGSAVE, BGREWRITEAOF and replication's snapshot all fork the node.

Two halves every fork needs, in one place:

* ``before_fork()`` in the parent: flush Python's stdio buffers, or the child would write
  the parent's unflushed output a second time when it exits;
* ``detach_child(node)`` first thing in the child: forget the parent's signal plumbing (the
  event loop's wakeup fd, the shutdown handlers) and close the listening sockets, so that
  only the parent accepts clients and handles signals, and log as a child (role ``C``).
"""

from __future__ import annotations

import os
import signal
import sys

from .log import Logger


def before_fork() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def detach_child(node) -> None:
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    for server in getattr(node, "_servers", ()):
        for sock in server.sockets or ():
            try:
                os.close(sock.fileno())
            except OSError:
                pass
    level = node.log.level
    node.log = Logger(node.log.logfile, "notice", role="C")
    node.log.level = level
