"""Command implementations, one module per Redis command group.

- ``spec``          CommandSpec and the @command registry (the only source of truth)
- ``table``         joins handlers with Redis 7.0's metadata (redis-7.0.json); COMMAND encoding
- ``args``          argument conversion with Redis's exact errors
- ``strings``, ``bitmaps``, ``keys``, ``connection``, ``admin``, ``configcmd``,
  ``introspection``  the handlers

A handler is ``handler(client, argv) -> bytes`` (see spec.py).
"""
