"""Hashes: HSET ... HSCAN."""
