"""``rrwkv quantize IN OUT --dtype q8_0|q4_1``: re-encode a model file's matrices."""
from __future__ import annotations

import argparse
import os

from .. import _core
from .formatting import DefaultsHelpFormatter


def add_dtype_for_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype-for", action="append", default=None, metavar="CLASS=DTYPE",
                   help="storage type of one tensor class, overriding --dtype (repeatable); classes: att "
                        "(time-mix projections), ffn (channel-mix), emb, head, lora (RWKV-6/7 low-rank). "
                        "With a quantized --dtype, emb and lora keep f16 unless set here, and the head f16 "
                        "(q8_0 with q4_1)")


def _cmd_quantize(args) -> None:
    from ..io import precision
    from ..io.requantize import quantize
    notes: list[str] = []
    dtypes = quantize(args.src, args.dst, args.dtype, dtype_for=args.dtype_for, force=args.force, notes=notes)
    for n in notes:
        print(f"note: {n}")
    f = _core.ModelFile(args.dst)
    layout = _core.runtime_layout(f.config)
    src_size = os.path.getsize(args.src)
    print(f"wrote {args.dst}: {precision.describe(dtypes, layout)}; {f.file_size / 2**20:.1f} MiB "
          f"({f.file_size / src_size:.0%} of {src_size / 2**20:.1f} MiB)")


def add_parser(sub) -> None:
    q = sub.add_parser("quantize", help="re-encode a .rrwkv file's weight matrices (int8 q8_0, 4-bit q4_1, f16, ...)",
                       formatter_class=DefaultsHelpFormatter)
    q.add_argument("src", help="input .rrwkv file (f32/f16/bf16 preferably)")
    q.add_argument("dst", help="output .rrwkv path (written atomically)")
    q.add_argument("--dtype", required=True,
                   choices=["q8_0", "q4_1", "int8", "int4", "q8", "q4", "f16", "bf16", "f32"],
                   help="storage type of the projections (docs/QUANTIZATION.md)")
    add_dtype_for_argument(q)
    q.add_argument("--force", action="store_true", help="overwrite DST if it exists")
    q.set_defaults(func=_cmd_quantize)
