"""Sets: SADD ... SSCAN."""
