"""RWKV-4 and RRWKV (RWKV-4 with mediums, docs/RRWKV.md): the checkpoint layout in the official
BlinkDL key names, reading the config from a checkpoint, and the export transforms to the
runtime layout (the C++ architecture arch/rwkv4 declares that layout; docs/FORMAT.md lists the
transforms).

Per block, besides ln1/ln2: att.time_mix_{k,v,r} (1, 1, C), att.time_decay and att.time_first
(C,), att.{key,value,receptance,output}.weight (C, C); ffn.time_mix_{k,r} (1, 1, C),
ffn.key.weight (F, C), ffn.receptance.weight (C, C), ffn.value.weight (C, F). RRWKV adds
att.time_decay_m and att.time_first_m (C,) and, in `add` mode, ffn.medium_mix_{k,r} (1, 1, C).
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import Shapes, base_dims

ARCHES = ("rwkv4", "rrwkv")


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    C, F, V = cfg.n_embd, cfg.ffn_dim, cfg.vocab_size
    spec: dict[str, tuple[int, ...]] = {"emb.weight": (V, C), "blocks.0.ln0.weight": (C,), "blocks.0.ln0.bias": (C,)}
    for i in range(cfg.n_layer):
        p = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            spec[p + ln + ".weight"] = (C,)
            spec[p + ln + ".bias"] = (C,)
        for name in ("time_mix_k", "time_mix_v", "time_mix_r"):
            spec[p + "att." + name] = (1, 1, C)
        spec[p + "att.time_decay"] = (C,)
        spec[p + "att.time_first"] = (C,)
        for name in ("key", "value", "receptance", "output"):
            spec[p + f"att.{name}.weight"] = (C, C)
        spec[p + "ffn.time_mix_k"] = (1, 1, C)
        spec[p + "ffn.time_mix_r"] = (1, 1, C)
        spec[p + "ffn.key.weight"] = (F, C)
        spec[p + "ffn.receptance.weight"] = (C, C)
        spec[p + "ffn.value.weight"] = (C, F)
        if cfg.is_rrwkv:
            spec[p + "att.time_decay_m"] = (C,)
            spec[p + "att.time_first_m"] = (C,)
            if cfg.cm_mode == "add":
                spec[p + "ffn.medium_mix_k"] = (1, 1, C)
                spec[p + "ffn.medium_mix_r"] = (1, 1, C)
    spec["ln_out.weight"] = (C,)
    spec["ln_out.bias"] = (C,)
    spec["head.weight"] = (V, C)
    return spec


def infer_config(shapes: Shapes, arch: str, medium_interval: int | None = None,
                 cm_mode: str | None = None) -> ModelConfig:
    """The shape from the tensors; RRWKV's medium interval is not recorded in a state dict (None
    means 1) and its channel-mix mode is `add` exactly when ffn.medium_mix_k is present."""
    vocab_size, n_embd, n_layer = base_dims(shapes)
    ffn = next((s for k, s in sorted(shapes.items()) if k.endswith(".ffn.key.weight") and len(s) == 2), None)
    ffn_dim = int(ffn[0]) if ffn is not None else 4 * n_embd  # any block's: one missing is reported, not misread
    if cm_mode is None:
        cm_mode = "add" if "blocks.0.ffn.medium_mix_k" in shapes else "replace"
    return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab_size, ffn_dim=ffn_dim,
                       medium_interval=medium_interval or 1, cm_mode=cm_mode)


def to_runtime(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """One official-layout tensor -> its runtime-layout name and value (docs/FORMAT.md): the decays
    are stored as rates w = exp(time_decay) (computed in float64), the (1, 1, C) mixes as (C,)."""
    if name.endswith(".att.time_decay"):
        return name[: -len("time_decay")] + "decay", np.exp(a.astype(np.float64))
    if name.endswith(".att.time_decay_m"):
        return name[: -len("time_decay_m")] + "decay_m", np.exp(a.astype(np.float64))
    if a.ndim == 3 and a.shape[:2] == (1, 1):
        return name, a.reshape(-1)
    return name, a
