"""How the commands that run a model open its file (one help text for generate, chat and serve)."""
import argparse


def add_read_into_memory_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--read-into-memory", action="store_true",
                   help="read the model file into private memory on 2 MiB pages instead of mapping it: its size in "
                        "RAM and a read at start, for a faster CPU decode "
                        "(0.8-0.9x the time on the machine measured, docs/CPU_DECODE.md) and a model that changes to the file on disk cannot "
                        "affect")
