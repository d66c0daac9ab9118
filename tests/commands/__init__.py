"""Command tests against an in-process Vermilion node."""
