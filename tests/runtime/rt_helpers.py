"""Helpers shared by the runtime tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import numpy as np

from rrwkv_rt.config import ModelConfig


def make_config(arch="rwkv4", n_layer=2, n_embd=64, vocab=211, s=1, mode="replace", ffn_dim=0):
    return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab, ffn_dim=ffn_dim,
                       medium_interval=s, cm_mode=mode)


def tokens(vocab: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=n).astype(np.int64)


def reference_logits(ref, toks) -> np.ndarray:
    """The reference model's parallel form from a fresh state: (T, V) float32."""
    import torch
    with torch.no_grad():
        return ref(torch.as_tensor(np.asarray(toks), dtype=torch.long)[None])[0].numpy()


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
