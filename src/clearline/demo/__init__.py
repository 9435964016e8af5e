"""The demo: the whole site on simulators, the quick decision table, and their helpers."""
