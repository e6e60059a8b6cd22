"""Benchmark measuring, shared by ``rrwkv bench MODEL`` (cli/bench.py) and tools/bench.py:
``measure`` (workers, rounds, floors), ``worker`` and ``memory`` (child processes run by file)
and ``progress`` (stderr status)."""
