"""Shared parts of the benchmark programs in tools/ (not installed with the package): the random
models of the benchmark shapes. The measuring itself is the package's (rrwkv_rt/bench/)."""
