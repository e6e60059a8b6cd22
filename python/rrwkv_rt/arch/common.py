"""Tensors every RWKV generation shares (embedding, layer norms, head) and shape-reading helpers."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..config import ModelConfig

Shapes = Mapping[str, Sequence[int]]


def as_shapes(tensors_or_shapes: Mapping) -> dict[str, tuple[int, ...]]:
    """name -> shape tuple, from a state dict (anything with ``.shape``) or from name -> shape."""
    return {k: tuple(int(d) for d in (v.shape if hasattr(v, "shape") else v)) for k, v in tensors_or_shapes.items()}


def base_dims(shapes: Shapes) -> tuple[int, int, int]:
    """(vocab_size, n_embd, n_layer) of a checkpoint; ValueError if it has no emb.weight or blocks."""
    emb = shapes.get("emb.weight")
    if emb is None or len(emb) != 2:
        raise ValueError("cannot infer the model shape: the checkpoint has no 2-D 'emb.weight' "
                         "(is this an RWKV state dict?)")
    layers = {int(k.split(".")[1]) for k in shapes if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    if not layers:
        raise ValueError("cannot infer the model shape: the checkpoint has no 'blocks.N.*' tensors")
    return int(emb[0]), int(emb[1]), max(layers) + 1


def block_dim(shapes: Shapes, leaf: str, axis: int, rank: int, arch: str, what: str) -> int:
    """Size ``axis`` of ``blocks.N.<leaf>`` in the first block that has it, with ``rank`` dimensions.

    Any block will do, so that one missing tensor does not hide the full report of
    ``check_against_spec``; ValueError if no block has a usable one.
    """
    found = sorted((int(k.split(".")[1]), k) for k in shapes
                   if k.startswith("blocks.") and k.split(".", 2)[-1] == leaf and k.split(".")[1].isdigit())
    if not found:
        raise ValueError(f"cannot infer the {what} of this {arch} checkpoint: it has no tensor 'blocks.N.{leaf}'")
    for _, name in found:
        if len(shapes[name]) == rank:
            return int(shapes[name][axis])
    name = found[0][1]
    raise ValueError(f"cannot infer the {what} of this {arch} checkpoint: {name!r} has shape {tuple(shapes[name])}, "
                     f"expected {rank} dimensions")


def checked_head_size(head_size: int, n_embd: int) -> int:
    if head_size < 1 or n_embd % head_size:
        raise ValueError(f"the checkpoint's head size {head_size} does not divide n_embd {n_embd}; "
                         "the tensor it was read from is mis-shaped")
    return head_size


def check_dim_att(shapes: Shapes, n_embd: int, arch: str) -> None:
    """RWKV-LM allows an attention width dim_att != n_embd, but the rwkv package's RWKV-5/6/7 code
    (head size = n_embd // n_head) and every released model use dim_att == n_embd; so do we."""
    shape = shapes.get("blocks.0.att.key.weight")
    if shape is not None and len(shape) == 2 and int(shape[0]) != n_embd:
        raise ValueError(f"this {arch} checkpoint has dim_att {int(shape[0])} (blocks.0.att.key.weight {tuple(shape)}) "
                         f"!= n_embd {n_embd}; only dim_att == n_embd is supported (as in the rwkv package)")


def matrix_dims(shapes: Shapes, arch: str, head_leaf: str) -> tuple[int, int, int, int, int]:
    """(vocab_size, n_embd, n_layer, ffn_dim, head_size) of an RWKV-5.2/6/7 checkpoint, the head size
    read from axis 1 of the (H, S) tensor ``blocks.N.<head_leaf>`` and the ffn width from ffn.key."""
    vocab, C, n_layer = base_dims(shapes)
    check_dim_att(shapes, C, arch)
    head_size = block_dim(shapes, head_leaf, 1, 2, arch, "head size")
    ffn_dim = block_dim(shapes, "ffn.key.weight", 0, 2, arch, "ffn width")
    return vocab, C, n_layer, ffn_dim, checked_head_size(head_size, C)


def matrix_block_out_spec(cfg: ModelConfig, i: int, att: Sequence[str], ffn_mixes: Sequence[str],
                          ffn_receptance: bool) -> dict[str, tuple[int, ...]]:
    """What an RWKV-5.2/6/7 block ends with, alike in the three: the time mix's (C, C) projections
    ``att`` and its ln_x GroupNorm, then the channel mix: its (1, 1, C) token-shift mixes, key (F, C),
    receptance (C, C) where it has one, value (C, F)."""
    C, F = cfg.n_embd, cfg.ffn_dim
    a, f = f"blocks.{i}.att.", f"blocks.{i}.ffn."
    spec = {a + f"{m}.weight": (C, C) for m in att}
    spec[a + "ln_x.weight"] = (C,)
    spec[a + "ln_x.bias"] = (C,)
    spec.update({f + m: (1, 1, C) for m in ffn_mixes})
    spec[f + "key.weight"] = (F, C)
    if ffn_receptance:
        spec[f + "receptance.weight"] = (C, C)
    spec[f + "value.weight"] = (C, F)
    return spec


def embedding_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """emb and the extra LayerNorm ln0 that only block 0 has (applied to the embedding)."""
    C = cfg.n_embd
    return {"emb.weight": (cfg.vocab_size, C), "blocks.0.ln0.weight": (C,), "blocks.0.ln0.bias": (C,)}


def block_norms_spec(cfg: ModelConfig, i: int) -> dict[str, tuple[int, ...]]:
    C = cfg.n_embd
    return {f"blocks.{i}.{ln}.{p}": (C,) for ln in ("ln1", "ln2") for p in ("weight", "bias")}


def head_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    C = cfg.n_embd
    return {"ln_out.weight": (C,), "ln_out.bias": (C,), "head.weight": (cfg.vocab_size, C)}


def assemble(cfg: ModelConfig, block_spec) -> dict[str, tuple[int, ...]]:
    """The whole checkpoint: embedding, then for each block its norms and ``block_spec(cfg, i)``, then head."""
    spec = embedding_spec(cfg)
    for i in range(cfg.n_layer):
        spec.update(block_norms_spec(cfg, i))
        spec.update(block_spec(cfg, i))
    spec.update(head_spec(cfg))
    return spec


def bonus_from_time_first(state_dict: dict) -> tuple[dict, list[str]]:
    """RWKV-5/6 checkpoints store the bonus u either as att.time_faaaa (u itself, every release) or,
    in early RWKV-5 training code, as att.time_first with u = exp(time_first); the rwkv package
    accepts both. The second becomes the first here (exp in float64). Returns (dict, notes)."""
    firsts = [k for k in state_dict if k.endswith(".att.time_first")]
    if not firsts or any(k.endswith(".att.time_faaaa") for k in state_dict):
        return state_dict, []
    out = dict(state_dict)
    for k in firsts:
        out[k[: -len("time_first")] + "time_faaaa"] = np.exp(np.asarray(out.pop(k), dtype=np.float64))
    return out, ["the bonus is stored as att.time_first (early RWKV-5 layout): read as time_faaaa = exp(time_first), "
                 "as the rwkv package does"]
