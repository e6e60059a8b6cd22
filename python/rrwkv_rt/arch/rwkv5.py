"""RWKV-5.2 ("Eagle") checkpoint layout, in the official BlinkDL key names.

Per block, besides ln1/ln2: att.time_mix_{k,v,r,g} (1, 1, C); att.time_decay and att.time_faaaa
(H, S), per-head rows; att.{receptance,key,value,gate,output}.weight (C, C); att.ln_x (GroupNorm of
H groups) weight/bias (C,); ffn.time_mix_{k,r} (1, 1, C), ffn.key.weight (F, C),
ffn.receptance.weight (C, C), ffn.value.weight (C, F). Linear weights are (out, in), as nn.Linear.
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import (Shapes, assemble, base_dims, block_dim, bonus_from_time_first, check_dim_att,
                     checked_head_size)

ARCH = "rwkv5"


def block_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C, F, H, S = cfg.n_embd, cfg.ffn_dim, cfg.n_head, cfg.head_size
    a, f = f"blocks.{i}.att.", f"blocks.{i}.ffn."
    spec = {a + f"time_mix_{x}": (1, 1, C) for x in "kvrg"}
    spec[a + "time_decay"] = (H, S)
    spec[a + "time_faaaa"] = (H, S)
    spec.update({a + f"{m}.weight": (C, C) for m in ("receptance", "key", "value", "gate", "output")})
    spec[a + "ln_x.weight"] = (C,)
    spec[a + "ln_x.bias"] = (C,)
    spec[f + "time_mix_k"] = (1, 1, C)
    spec[f + "time_mix_r"] = (1, 1, C)
    spec[f + "key.weight"] = (F, C)
    spec[f + "receptance.weight"] = (C, C)
    spec[f + "value.weight"] = (C, F)
    return spec


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return assemble(cfg, block_spec)


def infer_config(shapes: Shapes) -> ModelConfig:
    """Head size from att.time_decay (H, S); ffn width from ffn.key.weight."""
    vocab, C, n_layer = base_dims(shapes)
    check_dim_att(shapes, C, ARCH)
    head_size = block_dim(shapes, "att.time_decay", 1, 2, ARCH, "head size")
    ffn_dim = block_dim(shapes, "ffn.key.weight", 0, 2, ARCH, "ffn width")
    return ModelConfig(ARCH, n_layer, C, vocab, ffn_dim=ffn_dim, head_size=checked_head_size(head_size, C))


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
