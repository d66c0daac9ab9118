"""Vermilion's benchmarks: side by side against real Redis, and microbenchmarks.

What lives where
----------------
``python -m bench``      the side-by-side run (``sidebyside.py``): Debian's redis-server and a
                         ``python -m server`` node, each pinned to a core and loaded in turn,
                         test by test, with ``redis-benchmark`` over the same tests.
``machine.py``           what the machine is (cores, CPU model, versions), the core pinning plan,
                         and a process's CPU time from ``/proc/<pid>/stat``.
``servers.py``           starting and stopping the two servers as pinned subprocesses.
``loadgen.py``           the ``redis-benchmark`` test catalogue, one run, its CSV, the probe.
``report.py``            medians, the per-test table, the goals, the JSON document.
``profile.py``           ``python -m bench.profile``: py-spy on a node under redis-benchmark.
``micro/``               pytest-benchmark microbenchmarks of the hot path (reader, encoder,
                         dispatch, one connection batch); ``python -m pytest bench/micro
                         --benchmark-only``. Not part of the test suite (testpaths is ``tests``).

``README.md`` says how to reproduce every number and records one full run.
"""
