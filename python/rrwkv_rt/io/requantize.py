"""Re-encode an existing .rrwkv file's matrices in other storage types (``rrwkv quantize``).

The header (config, tokenizer, chat template, metadata) and tensors beside the layout (a baked
initial state) are kept; vectors stay f32. Weights are
read back as the floats the runtime computes with, so quantizing an f16 file gives exactly what
exporting the f16 values would. Quantizing an already quantized matrix compounds the rounding:
that is allowed (to move between types) but said.
"""
from __future__ import annotations

import os
import sys

from .. import _core
from ..config import ModelConfig
from . import precision
from .dtypes import canonical_dtype, decode, is_quantized
from .format import Encoded, write_model


def quantize(src: str | os.PathLike, dst: str | os.PathLike, dtype: str, *,
             dtype_for: dict[str, str] | list[str] | None = None, force: bool = False,
             progress: bool | None = None, notes: list[str] | None = None) -> dict[str, str]:
    """Write ``src`` re-encoded as ``dst`` (atomically); returns name -> storage dtype."""
    src, dst = os.fspath(src), os.fspath(dst)
    dtype = canonical_dtype(dtype)
    overrides = precision.parse_overrides(dtype_for)
    if os.path.exists(dst) and not force:
        raise FileExistsError(f"{dst!r} already exists; pass --force to overwrite it")
    if os.path.exists(dst) and os.path.samefile(src, dst):
        raise ValueError(f"{dst!r} is the input file; write the quantized model to a new path")
    f = _core.ModelFile(src)  # fully validated, checksums included
    cfg = ModelConfig(**f.config)
    layout = _core.runtime_layout(cfg.to_dict())
    dtypes, planned = precision.plan(layout, dtype, overrides)
    notes = notes if notes is not None else []
    notes.extend(planned)
    info = {t["name"]: t for t in f.tensors}
    requantized = [n for n, dt in dtypes.items() if is_quantized(info[n]["dtype"]) and dtypes[n] != info[n]["dtype"]]
    if requantized:
        notes.append(f"{len(requantized)} matrices were already quantized ({info[requantized[0]]['dtype']}); "
                     "re-encoding them adds their rounding to the new one: quantize from the f32/f16 file instead")
    tensors = {}
    for t in f.tensors:  # tensors beside the layout (a baked initial state): carried as they are
        if t["name"] not in dtypes:
            tensors[t["name"]] = (Encoded(f.tensor(t["name"]), t["shape"]), t["dtype"])
    for name, dt in dtypes.items():
        t = info[name]
        if t["dtype"] == dt:  # kept: its bytes as they are
            tensors[name] = (Encoded(f.tensor(name), t["shape"]), dt)
        else:  # through the floats the runtime computes with
            tensors[name] = (decode(f.tensor(name), t["dtype"], tuple(t["shape"])), dt)
    fields = f.fields
    tokenizer = None
    if "tokenizer.kind" in fields:
        tokenizer = (fields["tokenizer.kind"], fields["tokenizer.vocab"])
    metadata = {k[len("meta."):]: v for k, v in fields.items() if k.startswith("meta.")}
    metadata["quantized_from"] = os.path.basename(src)
    unknown = [k for k in fields if not (k.startswith(("meta.", "tokenizer.")) or k == "arch" or k in f.config)]
    if unknown:
        print(f"note: header fields not carried over: {', '.join(unknown)}", file=sys.stderr)
    write_model(dst, cfg, tensors, metadata=metadata, tokenizer=tokenizer, force=force, progress=progress,
                check_readable=True)
    return dtypes
