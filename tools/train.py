"""Thin wrapper: same as `python -m rrwkv_rt train ...` (docs/TRAINING.md); works under torchrun too."""
import sys

from rrwkv_rt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
