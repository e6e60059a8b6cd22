"""Thin wrapper: same as `python -m rrwkv_rt info ...`."""
import sys

from rrwkv_rt.cli import main

if __name__ == "__main__":
    sys.exit(main(["info", *sys.argv[1:]]))
