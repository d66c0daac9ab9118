"""Test support: real servers (Vermilion in-process, redis-server as a subprocess), a raw
RESP client that returns reply bytes, and the differential harness."""
