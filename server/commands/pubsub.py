"""Pub/sub: SUBSCRIBE ... PUBSUB."""
