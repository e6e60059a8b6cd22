"""Shared parts of the benchmark programs in tools/ (not installed with the package)."""
