"""Shared parts of the benchmark programs in tools/ (not installed with the package): the random
models of the benchmark shapes and wall-clock medians. The measuring of the runtime itself is the
package's (rrwkv_rt/bench/)."""
