"""Initialisation of the reference model (docs/RRWKV.md §7).

Two schemes:

* ``"paper"``: the RWKV-4 schedule of BlinkDL's RWKV-LM (RWKV-v4/src/model.py) for the per-channel
  parameters, plus the RRWKV extras of §7. Deviations from RWKV-LM, on purpose:
  - the matrices RWKV-LM zero-initialises (att.key/receptance/output, ffn.value/receptance) get an
    orthogonal init scaled by ``SMALL_SCALE`` instead, so outputs are non-trivial;
  - emb is uniform(-1e-4, 1e-4) (RWKV-LM v4neo) instead of v4's tiny orthogonal init;
  - with n_layer == 1, ratio_0_to_1 (0/0 in RWKV-LM) is taken as 0; with n_embd == 1 the decay
    schedule's h/(C-1) is taken as 0.
* ``"random"``: every parameter random and non-degenerate, logits O(1): meant for tests that
  compare implementations, where every parameter must influence the output.

Values are drawn in float32 on the CPU from a per-parameter generator seeded by (seed, name), so a
parameter's value depends only on the seed and its name: the float32 and float64 models of a seed
are the same model, and an rrwkv model shares the RWKV-4 weights of an rwkv4 model of that seed.
"""
from __future__ import annotations

import math
import zlib

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..arch import check_against_spec, checkpoint_spec, infer_config

SCHEMES = ("paper", "random")
SMALL_SCALE = 0.1               # replaces RWKV-LM's zero init (see module doc)
TIME_FIRST_M_SCRATCH = math.log(0.3)
TIME_FIRST_M_WARM = -8.0        # mediums start almost invisible when warm-starting
ZERO_INIT_IN_RWKV_LM = ("att.key.", "att.receptance.", "att.output.", "ffn.value.", "ffn.receptance.")


# ----------------------------------------------------------------------------------------------
# RWKV-4 schedules (RWKV-LM), as float64 tensors


def layer_ratios(layer_id: int, n_layer: int) -> tuple[float, float]:
    """(ratio_0_to_1, ratio_1_to_almost0) of RWKV-LM."""
    ratio_0_to_1 = layer_id / (n_layer - 1) if n_layer > 1 else 0.0
    ratio_1_to_almost0 = 1.0 - layer_id / n_layer
    return ratio_0_to_1, ratio_1_to_almost0


def decay_schedule(C: int, layer_id: int, n_layer: int) -> Tensor:
    """time_decay[h] = -5 + 8 * (h / (C-1)) ** (0.7 + 1.3 * ratio_0_to_1)."""
    r01, _ = layer_ratios(layer_id, n_layer)
    h = torch.arange(C, dtype=torch.float64) / max(C - 1, 1)
    return -5 + 8 * h ** (0.7 + 1.3 * r01)


def time_first_schedule(C: int) -> Tensor:
    """time_first[i] = log(0.3) + 0.5 * ((i + 1) % 3 - 1) (the zigzag)."""
    zigzag = ((torch.arange(C) + 1) % 3 - 1).to(torch.float64) * 0.5
    return torch.full((C,), math.log(0.3), dtype=torch.float64) + zigzag


def time_mix_schedules(C: int, layer_id: int, n_layer: int) -> dict[str, Tensor]:
    """The (1, 1, C) token-shift mixes, keyed by name relative to the block."""
    r01, r1 = layer_ratios(layer_id, n_layer)
    x = (torch.arange(C, dtype=torch.float64) / C).reshape(1, 1, C)
    return {
        "att.time_mix_k": x ** r1,
        "att.time_mix_v": x ** r1 + 0.3 * r01,
        "att.time_mix_r": x ** (0.5 * r1),
        "ffn.time_mix_k": x ** r1,
        "ffn.time_mix_r": x ** r1,
    }


def _paper_block_values(cfg: ModelConfig, layer_id: int) -> dict[str, Tensor]:
    """Per-channel parameters of one block under the paper scheme (names relative to the block)."""
    C = cfg.n_embd
    vals = time_mix_schedules(C, layer_id, cfg.n_layer)
    vals["att.time_decay"] = decay_schedule(C, layer_id, cfg.n_layer)
    vals["att.time_first"] = time_first_schedule(C)
    # RRWKV extras: same decay schedule per segment, so memory via mediums lasts ~s times longer
    vals["att.time_decay_m"] = decay_schedule(C, layer_id, cfg.n_layer)
    vals["att.time_first_m"] = torch.full((C,), TIME_FIRST_M_SCRATCH, dtype=torch.float64)
    vals["ffn.medium_mix_k"] = torch.zeros(1, 1, C, dtype=torch.float64)
    vals["ffn.medium_mix_r"] = torch.zeros(1, 1, C, dtype=torch.float64)
    return vals


# ----------------------------------------------------------------------------------------------
# value generators


def parameter_generator(seed: int, name: str) -> torch.Generator:
    """The generator parameter `name` draws its values from: seeded by (seed, name) only, so a
    parameter's value does not depend on the other parameters (every reference model uses it)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2 ** 63))


def _uniform(shape, lo: float, hi: float, gen: torch.Generator) -> Tensor:
    return torch.empty(shape).uniform_(lo, hi, generator=gen)


def _paper_matrix(name: str, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    if name == "emb.weight":
        return _uniform(shape, -1e-4, 1e-4, gen)
    out_f, in_f = shape
    gain = math.sqrt(out_f / in_f) if out_f > in_f else 1.0
    if name == "head.weight":
        gain *= 0.5
    elif any(z in name for z in ZERO_INIT_IN_RWKV_LM):
        gain *= SMALL_SCALE
    return nn.init.orthogonal_(torch.empty(shape), gain=gain, generator=gen)


def _paper_value(cfg: ModelConfig, name: str, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    if name.endswith(".weight") and len(shape) == 2:
        return _paper_matrix(name, shape, gen)
    if ".ln" in name or name.startswith("ln_out."):
        return torch.ones(shape) if name.endswith(".weight") else torch.zeros(shape)
    parts = name.split(".")  # blocks.<i>.<att|ffn>.<param>
    return _paper_block_values(cfg, int(parts[1]))[".".join(parts[2:])].float()


def _random_value(name: str, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    leaf = name.rsplit(".", 1)[-1]
    if name.endswith(".weight") and len(shape) == 2:
        if name == "emb.weight":
            return torch.randn(shape, generator=gen)
        return torch.randn(shape, generator=gen) / math.sqrt(shape[1])  # normal / sqrt(fan_in)
    if ".ln" in name or name.startswith("ln_out."):
        return 1 + _uniform(shape, -0.2, 0.2, gen) if leaf == "weight" else _uniform(shape, -0.1, 0.1, gen)
    ranges = {"time_decay": (-3.0, 1.0), "time_decay_m": (-3.0, 1.0), "time_first": (-1.0, 1.0),
              "time_first_m": (-1.0, 1.0), "medium_mix_k": (0.0, 0.5), "medium_mix_r": (0.0, 0.5)}
    lo, hi = ranges.get(leaf, (0.0, 1.0))  # time_mix_*: (0, 1)
    return _uniform(shape, lo, hi, gen)


# ----------------------------------------------------------------------------------------------
# public API


@torch.no_grad()
def init_weights(model, seed: int = 0, scheme: str = "paper"):
    """(Re)initialise every parameter of an ``RWKV`` in place; returns the model."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    for name, p in model.named_parameters():
        gen = parameter_generator(seed, name)
        shape = tuple(p.shape)
        value = _paper_value(model.cfg, name, shape, gen) if scheme == "paper" else _random_value(name, shape, gen)
        p.copy_(value.reshape(shape))
    return model


def warm_start_from_rwkv4(rwkv4_state_dict: dict, medium_interval: int) -> dict:
    """An rrwkv ``add``-mode state dict that starts as the given RWKV-4 model (§7).

    Adds time_decay_m (the paper decay schedule), time_first_m = -8 and medium_mix_k/r = 0 to every
    block. The result does not record ``medium_interval`` (checkpoints don't): pass the same value
    to ``RWKV.from_state_dict(sd, medium_interval=...)``. Raises ValueError if the input is not a
    complete RWKV-4 state dict.
    """
    shapes = {k: tuple(v.shape) for k, v in rwkv4_state_dict.items()}
    cfg4 = infer_config(shapes, arch="rwkv4")
    problems = check_against_spec(shapes, cfg4, "RWKV-4 state dict")
    problems += [f"unexpected tensor {k!r}" for k in shapes if k not in checkpoint_spec(cfg4)]
    if problems:
        raise ValueError("not an RWKV-4 state dict:\n  - " + "\n  - ".join(problems))
    cfg = ModelConfig(arch="rrwkv", n_layer=cfg4.n_layer, n_embd=cfg4.n_embd, vocab_size=cfg4.vocab_size,
                      ffn_dim=cfg4.ffn_dim, medium_interval=medium_interval, cm_mode="add")
    C = cfg.n_embd
    out = dict(rwkv4_state_dict)
    for i in range(cfg.n_layer):
        p = f"blocks.{i}."
        dtype = rwkv4_state_dict[p + "att.time_decay"].dtype
        out[p + "att.time_decay_m"] = decay_schedule(C, i, cfg.n_layer).to(dtype)
        out[p + "att.time_first_m"] = torch.full((C,), TIME_FIRST_M_WARM, dtype=dtype)
        out[p + "ffn.medium_mix_k"] = torch.zeros(1, 1, C, dtype=dtype)
        out[p + "ffn.medium_mix_r"] = torch.zeros(1, 1, C, dtype=dtype)
    assert set(out) == set(checkpoint_spec(cfg))
    return out
