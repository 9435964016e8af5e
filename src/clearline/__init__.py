"""Clearline: the command line, shared settings and the benchmark suite."""

__version__ = "0.1.0"
