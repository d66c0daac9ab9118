"""pytest-benchmark microbenchmarks of the hot path (run with ``--benchmark-only``)."""
