"""RWKV-5.2 ("Eagle") checkpoint layout, in the official BlinkDL key names.

Per block, besides ln1/ln2: att.time_mix_{k,v,r,g} (1, 1, C); att.time_decay and att.time_faaaa
(H, S), per-head rows; att.{receptance,key,value,gate,output}.weight (C, C); att.ln_x (GroupNorm of
H groups) weight/bias (C,); ffn.time_mix_{k,r} (1, 1, C), ffn.key.weight (F, C),
ffn.receptance.weight (C, C), ffn.value.weight (C, F). Linear weights are (out, in), as nn.Linear.
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import Shapes, assemble, bonus_from_time_first, matrix_block_out_spec, matrix_dims

ARCH = "rwkv5"


def block_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
    a = f"blocks.{i}.att."
    spec = {a + f"time_mix_{x}": (1, 1, C) for x in "kvrg"}
    spec[a + "time_decay"] = (H, S)
    spec[a + "time_faaaa"] = (H, S)
    spec.update(matrix_block_out_spec(cfg, i, ("receptance", "key", "value", "gate", "output"),
                                      ("time_mix_k", "time_mix_r"), ffn_receptance=True))
    return spec


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return assemble(cfg, block_spec)


def infer_config(shapes: Shapes) -> ModelConfig:
    """Head size from att.time_decay (H, S); ffn width from ffn.key.weight."""
    vocab, C, n_layer, ffn_dim, head_size = matrix_dims(shapes, ARCH, "att.time_decay")
    return ModelConfig(ARCH, n_layer, C, vocab, ffn_dim=ffn_dim, head_size=head_size)


def to_runtime(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """One official-layout tensor -> its runtime-layout name and value (docs/FORMAT.md): the decay
    stored as w = exp(-exp(time_decay)) (computed in float64, as the per-token factor), the
    per-head (H, S) vectors and the (1, 1, C) mixes flattened to (C,)."""
    if name.endswith(".att.time_decay"):
        return name[: -len("time_decay")] + "decay", np.exp(-np.exp(a.astype(np.float64))).reshape(-1)
    if name.endswith(".att.time_faaaa") or (a.ndim == 3 and a.shape[:2] == (1, 1)):
        return name, a.reshape(-1)
    return name, a


def normalize(state_dict: dict) -> tuple[dict, list[str]]:
    """Layout variants the rwkv package accepts, as the one this module declares (notes say which)."""
    return bonus_from_time_first(state_dict)
