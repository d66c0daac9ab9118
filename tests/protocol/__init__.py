"""Protocol layer: the request readers (the hiredis fast path judged by the pure-Python
reference), their agreement with real Redis, and the reply encoder."""
