"""HyperLogLog: PFADD, PFCOUNT, PFMERGE (Redis's sparse/dense representation)."""
