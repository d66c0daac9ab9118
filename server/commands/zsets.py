"""Sorted sets: every Z command of Redis 7.0."""
