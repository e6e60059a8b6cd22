"""RWKV-7 ("Goose", x070) checkpoint layout, in the official BlinkDL key names.

Per block, besides ln1/ln2:
  att.x_{r,w,k,v,a,g} (1, 1, C)           token-shift mixes
  att.w0 (1, 1, C), w1 (C, D_decay), w2 (D_decay, C)     decay LoRA (used as x @ w1 @ w2)
  att.a0 (1, 1, C), a1 (C, D_a), a2 (D_a, C)             in-context learning rate LoRA
  att.v0 (1, 1, C), v1 (C, D_v), v2 (D_v, C)             value-residual LoRA; present in block 0 too,
                                                          where it is never used
  att.g1 (C, D_gate), g2 (D_gate, C)                     output-gate LoRA (no bias term)
  att.k_k, att.k_a (1, 1, C); att.r_k (H, S)
  att.{receptance,key,value,output}.weight (C, C), att.ln_x.weight/bias (C,)
  ffn.x_k (1, 1, C), ffn.key.weight (F, C), ffn.value.weight (C, F)   (no receptance)
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import Shapes, assemble, base_dims, block_dim, check_dim_att, checked_head_size

ARCH = "rwkv7"
LORAS = (("w", "lora_decay"), ("a", "lora_a"), ("v", "lora_v"), ("g", "lora_gate"))


def block_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C, F, H, S = cfg.n_embd, cfg.ffn_dim, cfg.n_head, cfg.head_size
    a, f = f"blocks.{i}.att.", f"blocks.{i}.ffn."
    spec = {a + f"x_{x}": (1, 1, C) for x in "rwkvag"}
    for x, field in LORAS:
        D = getattr(cfg, field)
        if x != "g":
            spec[a + f"{x}0"] = (1, 1, C)
        spec[a + f"{x}1"] = (C, D)
        spec[a + f"{x}2"] = (D, C)
    spec[a + "k_k"] = (1, 1, C)
    spec[a + "k_a"] = (1, 1, C)
    spec[a + "r_k"] = (H, S)
    spec.update({a + f"{m}.weight": (C, C) for m in ("receptance", "key", "value", "output")})
    spec[a + "ln_x.weight"] = (C,)
    spec[a + "ln_x.bias"] = (C,)
    spec[f + "x_k"] = (1, 1, C)
    spec[f + "key.weight"] = (F, C)
    spec[f + "value.weight"] = (C, F)
    return spec


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return assemble(cfg, block_spec)


def infer_config(shapes: Shapes) -> ModelConfig:
    """Head size from att.r_k (H, S); every LoRA size from its x1 (C, D) matrix."""
    vocab, C, n_layer = base_dims(shapes)
    check_dim_att(shapes, C, ARCH)
    head_size = block_dim(shapes, "att.r_k", 1, 2, ARCH, "head size")
    loras = {field: block_dim(shapes, f"att.{x}1", 1, 2, ARCH, f"{x} LoRA size") for x, field in LORAS}
    return ModelConfig(ARCH, n_layer, C, vocab,
                       ffn_dim=block_dim(shapes, "ffn.key.weight", 0, 2, ARCH, "ffn width"),
                       head_size=checked_head_size(head_size, C), **loras)


LOW_RANK = {f"{x}{i}" for x in "wavg" for i in "12"}


def to_runtime(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """One official-layout tensor -> its runtime-layout name and value (docs/FORMAT.md): the
    low-rank matrices w1/w2, a1/a2, v1/v2, g1/g2 become (out, in) like every matrix of the
    runtime (transposed), r_k (H, S) and the (1, 1, C) vectors are flattened to (C,). Block 0's
    v0/v1/v2 are not in the runtime layout (the value residual starts at layer 1)."""
    leaf = name.rsplit(".", 1)[-1]
    if ".att." in name and leaf in LOW_RANK:
        return name, np.ascontiguousarray(a.T)
    if leaf == "r_k" or (a.ndim == 3 and a.shape[:2] == (1, 1)):
        return name, a.reshape(-1)
    return name, a
