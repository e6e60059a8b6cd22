"""The ``--device`` option of ``generate``, ``chat``, ``serve`` and ``bench``: where the model runs.

The name goes to ``Session`` / ``Batch`` unchanged, so the runtime resolves it (``auto`` included,
csrc/core/device.cpp) and its errors for a bad name or a missing device are the CLI's one-line errors.
"""
from __future__ import annotations

import argparse

HELP = ("where the model runs: cpu, cuda (= cuda:0), cuda:N, or auto: cuda:0 when a usable CUDA device exists, else "
        "the CPU, saying which on stderr (a GPU runs exact=True only, so --fast stays on the CPU)")


def add_device_argument(p: argparse.ArgumentParser, default: str = "cpu") -> None:
    p.add_argument("--device", default=default, metavar="DEVICE", help=HELP + f" (default {default})")
