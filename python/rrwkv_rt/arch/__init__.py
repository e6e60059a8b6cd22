"""Checkpoint layouts of the matrix-state RWKV generations (5.2, 6, 7) and telling the kinds apart.

Each module (rwkv5, rwkv6, rwkv7) declares ``checkpoint_spec(cfg) -> {name: shape}`` in the official
BlinkDL key layout and ``infer_config(shapes) -> ModelConfig``, which reads the head size and every
low-rank size from the tensor shapes. ``rrwkv_rt.spec`` delegates to them; RWKV-4 and RRWKV stay
in ``rrwkv_rt.spec``. No torch here.
"""
from __future__ import annotations

from types import ModuleType
from typing import Mapping

from . import rwkv5, rwkv6, rwkv7
from .common import as_shapes

MODULES: dict[str, ModuleType] = {m.ARCH: m for m in (rwkv5, rwkv6, rwkv7)}
RWKV7_KEYS = ("att.r_k", "att.x_r", "att.w0", "att.k_k", "att.a0")


def module_for(arch: str) -> ModuleType:
    if arch not in MODULES:
        raise ValueError(f"no checkpoint layout module for arch {arch!r}; expected one of {tuple(MODULES)}")
    return MODULES[arch]


def detect_arch(state_dict_or_shapes: Mapping) -> str:
    """Which architecture a checkpoint is, from its keys (and, for RWKV-5, one shape).

    Accepts a state dict or a name -> shape mapping. The rules follow the rwkv package's loader
    (ln_x: v5; gate.weight: 5.1+; att.time_decay with per-head rows (H, S), S > 1: 5.2;
    time_maa: v6), plus what the package does not look at: RWKV-7 keys (att.r_k, att.x_r, att.w0,
    att.k_k, att.a0; the package needs the env var RWKV_V7_ON instead) and RRWKV's att.time_decay_m.
    Anything else is RWKV-4 (whose missing tensors ``check_against_spec`` then lists).
    Raises ValueError for RWKV-5.0 / 5.1 checkpoints, which are not supported.
    """
    shapes = as_shapes(state_dict_or_shapes)
    leaves = {k.split(".", 2)[2] for k in shapes if k.startswith("blocks.") and k.count(".") >= 2}
    if any(leaf.endswith("att.time_decay_m") for leaf in leaves):
        return "rrwkv"
    if any(leaf in RWKV7_KEYS for leaf in leaves):
        return "rwkv7"
    if any("time_maa" in leaf for leaf in leaves):
        return "rwkv6"
    if any("ln_x" in leaf for leaf in leaves):
        decay = next((s for k, s in shapes.items() if k.endswith("att.time_decay")), None)
        has_gate = any(leaf == "att.gate.weight" for leaf in leaves)
        if has_gate and decay is not None and len(decay) > 1 and decay[1] > 1:
            return "rwkv5"
        version = "5.1" if has_gate else "5.0"
        raise ValueError(f"this looks like an RWKV-{version} checkpoint (att.ln_x{' and att.gate' if has_gate else ''}"
                         f", att.time_decay of shape {decay}); only RWKV-5.2 (att.time_decay of shape (H, S)) "
                         "is supported")
    return "rwkv4"


__all__ = ["MODULES", "detect_arch", "module_for", "rwkv5", "rwkv6", "rwkv7"]
