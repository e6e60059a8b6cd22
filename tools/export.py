"""Thin wrapper: same as `python -m rrwkv_rt export ...`."""
import sys

from rrwkv_rt.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
