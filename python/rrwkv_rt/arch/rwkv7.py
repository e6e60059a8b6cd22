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

Block 0's v0/v1/v2 are optional: current RWKV-LM does not create them (the value residual starts
at layer 1) and the rwkv package ignores them when present; so do we.

DeepEmbed ("v7a", the package's RWKV_DE_VERSION=1) adds per block, with R its rank:
  ffn.s_emb.weight (V, R*R)    a per-token R x R table        ffn.s_emb_x.weight (R*R, C)
  ffn.s1 (C, R), ffn.s2 (R, F), ffn.s0 (1, 1, F)
and scales the channel mix's hidden activations per token (csrc/arch/rwkv7/deep_embed.h). The
exporter folds s_emb_x into the table (``prepare``), as the package does when it loads.
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import (Shapes, assemble, base_dims, block_dim, check_dim_att, checked_head_size,
                     matrix_block_out_spec)

ARCH = "rwkv7"
LORAS = (("w", "lora_decay"), ("a", "lora_a"), ("v", "lora_v"), ("g", "lora_gate"))


def block_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
    a = f"blocks.{i}.att."
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
    spec.update(matrix_block_out_spec(cfg, i, ("receptance", "key", "value", "output"), ("x_k",),
                                      ffn_receptance=False))
    if cfg.deep_embed:
        R, F, f = cfg.deep_embed, cfg.ffn_dim, f"blocks.{i}.ffn."
        spec.update({f + "s_emb.weight": (cfg.vocab_size, R * R), f + "s_emb_x.weight": (R * R, C),
                     f + "s1": (C, R), f + "s2": (R, F), f + "s0": (1, 1, F)})
    return spec


def optional_tensors(cfg: ModelConfig) -> set[str]:
    """Tensors of the spec a checkpoint may lack and that are never used: block 0's value residual."""
    return {f"blocks.0.att.{x}" for x in ("v0", "v1", "v2")}


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return assemble(cfg, block_spec)


def infer_config(shapes: Shapes) -> ModelConfig:
    """Head size from att.r_k (H, S); every LoRA size from its x1 (C, D) matrix; DeepEmbed's rank
    from ffn.s1 (C, R) where the checkpoint has ffn.s_emb."""
    vocab, C, n_layer = base_dims(shapes)
    check_dim_att(shapes, C, ARCH)
    head_size = block_dim(shapes, "att.r_k", 1, 2, ARCH, "head size")
    loras = {}
    for x, field in LORAS:
        if x == "v":  # read from the layers that use it: block 0's may be absent or anything
            used = {k: v for k, v in shapes.items() if not k.startswith("blocks.0.")} if n_layer > 1 else shapes
            v1 = used.get("blocks.0.att.v1", ())
            loras[field] = (block_dim(used, "att.v1", 1, 2, ARCH, "v LoRA size") if n_layer > 1
                            else int(v1[1]) if len(v1) == 2 else 1)  # one layer: unused, any size will do
            continue
        loras[field] = block_dim(shapes, f"att.{x}1", 1, 2, ARCH, f"{x} LoRA size")
    deep_embed = 0
    if any(k.endswith(".ffn.s_emb.weight") for k in shapes):
        deep_embed = block_dim(shapes, "ffn.s1", 1, 2, ARCH, "DeepEmbed rank")
    return ModelConfig(ARCH, n_layer, C, vocab,
                       ffn_dim=block_dim(shapes, "ffn.key.weight", 0, 2, ARCH, "ffn width"),
                       head_size=checked_head_size(head_size, C), deep_embed=deep_embed, **loras)


LOW_RANK = {f"{x}{i}" for x in "wavg" for i in "12"}


def prepare(state_dict: dict, cfg: ModelConfig) -> dict:
    """What needs more than one tensor, before the per-tensor transforms: DeepEmbed's table with
    the embedding's part folded in, s_emb + ln0(emb) · s_emb_xᵀ (float64), as the rwkv package
    computes it at load; s_emb_x is then not needed."""
    if not cfg.deep_embed:
        return state_dict
    emb = np.asarray(state_dict["emb.weight"], dtype=np.float64)
    mean = emb.mean(axis=1, keepdims=True)
    var = ((emb - mean) ** 2).mean(axis=1, keepdims=True)
    normed = (emb - mean) / np.sqrt(var + cfg.layer_norm_eps)
    normed = normed * np.asarray(state_dict["blocks.0.ln0.weight"], dtype=np.float64) + \
        np.asarray(state_dict["blocks.0.ln0.bias"], dtype=np.float64)
    out = dict(state_dict)
    for i in range(cfg.n_layer):
        f = f"blocks.{i}.ffn."
        table = np.asarray(out[f + "s_emb.weight"], dtype=np.float64)
        out[f + "s_emb.weight"] = table + normed @ np.asarray(out.pop(f + "s_emb_x.weight"), dtype=np.float64).T
    return out


def to_runtime(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """One official-layout tensor -> its runtime-layout name and value (docs/FORMAT.md): the
    low-rank matrices w1/w2, a1/a2, v1/v2, g1/g2 become (out, in) like every matrix of the
    runtime (transposed), r_k (H, S) and the (1, 1, C) vectors are flattened to (C,). Block 0's
    v0/v1/v2 are not in the runtime layout (the value residual starts at layer 1). DeepEmbed:
    s_emb.weight (already merged by ``prepare``) becomes ffn.s_emb, s1 and s2 are transposed to
    (R, C) and (F, R), s0 flattened."""
    leaf = name.rsplit(".", 1)[-1]
    if ".att." in name and leaf in LOW_RANK:
        return name, np.ascontiguousarray(a.T)
    if name.endswith(".ffn.s_emb.weight"):
        return name[: -len(".weight")], a
    if ".ffn." in name and leaf in ("s1", "s2"):
        return name, np.ascontiguousarray(a.T)
    if leaf == "r_k" or (a.ndim == 3 and a.shape[:2] == (1, 1)):
        return name, a.reshape(-1)
    return name, a
