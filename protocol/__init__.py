"""Wire format only: the RESP request readers and the reply encoder.

This package imports nothing else of Vermilion's, so replication, the cluster bus and the
test harness can all use it.

- ``reader``   RequestReader (hiredis fast path) and PyRequestReader (the reference), limits
- ``encoder``  reply bytes for RESP2/RESP3 and prebuilt constants
- ``errors``   ProtocolError and Redis's protocol error texts
"""

from .errors import ProtocolError
from .reader import PyRequestReader, RequestReader

__all__ = ["ProtocolError", "PyRequestReader", "RequestReader"]
