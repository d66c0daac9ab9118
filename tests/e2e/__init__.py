"""End-to-end tests: ``python -m server`` run as a subprocess, driven by its command line,
config files, signals and real tools (redis-cli), and compared with redis-server where the
two can run side by side."""
