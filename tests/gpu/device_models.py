"""A tiny f32 model with a byte-level tokenizer, for the tests of the device API, the command line
and the server on a device (imported by name: the test files put this folder on sys.path)."""
from __future__ import annotations

import os

import pytest


def tiny_model(folder, arch: str = "rrwkv", seed: int = 11) -> str:
    """`folder`/tiny_ARCH.rrwkv (written once per folder): 2 layers, n_embd 32, vocab 256, random
    weights of the reference model, f32, with the "bytes" tokenizer (so the CLI and the server
    take text)."""
    path = os.path.join(str(folder), f"tiny_{arch}.rrwkv")
    if not os.path.exists(path):
        pytest.importorskip("torch")
        from rrwkv_rt.config import ModelConfig
        from rrwkv_rt.io.export import to_runtime_layout
        from rrwkv_rt.io.format import write_model
        from rrwkv_rt.reference import random_model
        cfg = ModelConfig(arch=arch, n_layer=2, n_embd=32, vocab_size=256,
                          medium_interval=3 if arch == "rrwkv" else 1, cm_mode="add" if arch == "rrwkv" else "replace")
        arrays = {k: v.numpy() for k, v in random_model(cfg, seed=seed).state_dict().items()}
        write_model(path, cfg, to_runtime_layout(arrays, cfg, "f32"), tokenizer=("bytes", b""))
    return path
