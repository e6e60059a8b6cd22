"""Thin wrapper: same as `python -m rrwkv_rt bench ...` (the code lives in rrwkv_rt/bench.py)."""
import sys

from rrwkv_rt.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
