"""Device adapters: bytes from a bus in, domain events out (one adapter per device kind)."""
