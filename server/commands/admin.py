"""Server commands: INFO, DBSIZE, TIME, MONITOR, SLOWLOG, LATENCY, MEMORY, DEBUG, SHUTDOWN..."""

from __future__ import annotations


def feed_monitors(node, c, argv) -> None:
    """Send ``argv`` to every MONITOR client (replicationFeedMonitors)."""
