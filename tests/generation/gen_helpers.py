"""Helpers shared by the generation tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import os

from rrwkv_rt.config import ModelConfig


def write_random_model(path, cfg: ModelConfig, seed: int, tokenizer=("bytes", b""), metadata=None) -> str:
    """A .rrwkv file of a random reference model (needs torch), with `tokenizer` in its header."""
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    from rrwkv_rt.reference import random_model
    sd = {k: v.numpy() for k, v in random_model(cfg, seed=seed).state_dict().items()}
    write_model(path, cfg, to_runtime_layout(sd, cfg, "f32"), tokenizer=tokenizer, metadata=metadata)
    return os.fspath(path)
