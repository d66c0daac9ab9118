"""Interoperability with real tools: redis-py (sync and asyncio, RESP2 and RESP3),
redis-cli (one-shot, --pipe, interactive through a pseudo-terminal) and redis-benchmark."""
