"""RWKV-6 ("Finch") checkpoint layout, in the official BlinkDL key names.

Per block, besides ln1/ln2:
  att.time_maa_{x,w,k,v,r,g} (1, 1, C)        token-shift mixes (x: for the mixing LoRA's input)
  att.time_maa_w1 (C, 5*D_mix), time_maa_w2 (5, D_mix, C)   data-dependent shift LoRA, used as
                                              x @ w1 (not transposed like nn.Linear weights)
  att.time_decay (1, 1, C), att.time_decay_w1 (C, D_decay), time_decay_w2 (D_decay, C)
  att.time_faaaa (H, S)                       the bonus u
  att.{receptance,key,value,gate,output}.weight (C, C), att.ln_x.weight/bias (C,)
  ffn.time_maa_{k,r} (1, 1, C), ffn.key.weight (F, C), ffn.receptance.weight (C, C),
  ffn.value.weight (C, F)
"""
from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .common import Shapes, assemble, block_dim, bonus_from_time_first, matrix_block_out_spec, matrix_dims

ARCH = "rwkv6"
MIX_BRANCHES = "wkvrg"  # order of the 5 LoRAs inside time_maa_w1 / time_maa_w2


def block_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
    Dm, Dd = cfg.lora_mix, cfg.lora_decay
    a = f"blocks.{i}.att."
    spec = {a + f"time_maa_{x}": (1, 1, C) for x in "x" + MIX_BRANCHES}
    spec[a + "time_maa_w1"] = (C, len(MIX_BRANCHES) * Dm)
    spec[a + "time_maa_w2"] = (len(MIX_BRANCHES), Dm, C)
    spec[a + "time_decay"] = (1, 1, C)
    spec[a + "time_decay_w1"] = (C, Dd)
    spec[a + "time_decay_w2"] = (Dd, C)
    spec[a + "time_faaaa"] = (H, S)
    spec.update(matrix_block_out_spec(cfg, i, ("receptance", "key", "value", "gate", "output"),
                                      ("time_maa_k", "time_maa_r"), ffn_receptance=True))
    return spec


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return assemble(cfg, block_spec)


def infer_config(shapes: Shapes) -> ModelConfig:
    """Head size from att.time_faaaa (H, S); LoRA sizes from time_maa_w2 and time_decay_w1."""
    vocab, C, n_layer, ffn_dim, head_size = matrix_dims(shapes, ARCH, "att.time_faaaa")
    return ModelConfig(
        ARCH, n_layer, C, vocab, ffn_dim=ffn_dim, head_size=head_size,
        lora_mix=block_dim(shapes, "att.time_maa_w2", 1, 3, ARCH, "token-shift LoRA size"),
        lora_decay=block_dim(shapes, "att.time_decay_w1", 1, 2, ARCH, "decay LoRA size"),
    )


def to_runtime(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """One official-layout tensor -> its runtime-layout name and value (docs/FORMAT.md). Low-rank
    matrices become (out, in) like every matrix of the runtime: time_maa_w1 (C, 5D) -> (5D, C),
    time_maa_w2 (5, D, C) -> (5C, D) (branch b is rows bC..(b+1)C), time_decay_w1/w2 transposed;
    time_faaaa (H, S) and the (1, 1, C) vectors flattened to (C,). time_decay keeps its value:
    the decay exp(-exp(time_decay + LoRA)) is computed per token."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in ("time_maa_w1", "time_decay_w1", "time_decay_w2"):
        return name, np.ascontiguousarray(a.T)
    if leaf == "time_maa_w2":
        nb, d, c = a.shape
        return name, np.ascontiguousarray(a.transpose(0, 2, 1).reshape(nb * c, d))
    if leaf == "time_faaaa" or (a.ndim == 3 and a.shape[:2] == (1, 1)):
        return name, a.reshape(-1)
    return name, a


def normalize(state_dict: dict) -> tuple[dict, list[str]]:
    """Layout variants the rwkv package accepts, as the one this module declares (notes say which)."""
    return bonus_from_time_first(state_dict)
