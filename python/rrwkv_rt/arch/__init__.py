"""The architectures on the Python side: each module declares its checkpoint layout in the
official BlinkDL key names (``checkpoint_spec(cfg) -> {name: shape}``), reads a config from a
checkpoint's tensor shapes (head and low-rank sizes too, never assumed) and (where the runtime
runs it) the export transforms to the runtime layout. ``rwkv4`` serves RWKV-4 and RRWKV;
``rwkv5``, ``rwkv6``, ``rwkv7`` the matrix-state generations. The runtime layout itself is
declared once, in C++ (csrc/arch/), and asked for through ``_core.runtime_layout``. No torch here.

The functions below dispatch on ``cfg.arch`` and report every missing or mis-shaped tensor at
once instead of failing on the first.
"""
from __future__ import annotations

from types import ModuleType
from typing import Mapping

from ..config import ModelConfig
from . import rwkv4, rwkv5, rwkv6, rwkv7
from .common import as_shapes

MODULES: dict[str, ModuleType] = {m.ARCH: m for m in (rwkv5, rwkv6, rwkv7)}
MODULES.update({a: rwkv4 for a in rwkv4.ARCHES})
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


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of a checkpoint in the official (training) layout."""
    return module_for(cfg.arch).checkpoint_spec(cfg)


def optional_tensors(cfg: ModelConfig) -> set[str]:
    """Tensors of the spec a checkpoint may lack because nothing uses them (RWKV-7's block-0 value
    residual); where present they are ignored, whatever their shape, as the rwkv package does."""
    optional = getattr(module_for(cfg.arch), "optional_tensors", None)
    return optional(cfg) if optional else set()


def normalize(state_dict: dict, arch: str) -> tuple[dict, list[str]]:
    """The layout variants of ``arch`` the rwkv package accepts, rewritten as the one this package
    declares (e.g. RWKV-5's att.time_first); returns (state dict, notes saying what was done)."""
    normalize_ = getattr(module_for(arch), "normalize", None)
    return normalize_(state_dict) if normalize_ else (state_dict, [])


def unused_tensors(shapes: Mapping, cfg: ModelConfig) -> tuple[list[str], list[str]]:
    """(present optional tensors, which are ignored; tensors no part of the layout uses) of a
    checkpoint: the exporter refuses the second kind unless told to drop them."""
    spec = checkpoint_spec(cfg)
    optional = optional_tensors(cfg)
    ignored = sorted(k for k in shapes if k in optional)
    unknown = [k for k in shapes if k not in spec and k not in optional]
    return ignored, unknown


def check_against_spec(shapes: Mapping, cfg: ModelConfig, what: str = "checkpoint") -> list[str]:
    """Every problem of ``shapes`` against the spec, one readable line each (empty if none)."""
    problems = []
    optional = optional_tensors(cfg)
    for name, shape in checkpoint_spec(cfg).items():
        if name in optional:
            continue
        if name not in shapes:
            problems.append(f"missing tensor {name!r} (expected shape {shape})")
        elif tuple(shapes[name]) != shape:
            problems.append(f"tensor {name!r} has shape {tuple(shapes[name])}, expected {shape}")
    return problems


def infer_config(shapes: Mapping, arch: str = "auto", medium_interval: int | None = None,
                 cm_mode: str | None = None) -> ModelConfig:
    """The config of a checkpoint from its tensor shapes (ValueError if it can't be read).

    ``arch="auto"`` detects it (:func:`detect_arch`). The medium arguments are RRWKV's (which
    checkpoints do not record); other arches accept only their fixed values.
    """
    shapes = as_shapes(shapes)
    if arch == "auto":
        arch = detect_arch(shapes) if "emb.weight" in shapes else "rwkv4"
    module = module_for(arch)
    if module is rwkv4:
        return rwkv4.infer_config(shapes, arch, medium_interval, cm_mode)
    if medium_interval not in (None, 1) or cm_mode not in (None, "replace"):
        raise ValueError(f"{arch} has no mediums: medium_interval / cm_mode do not apply "
                         f"(got {medium_interval!r}, {cm_mode!r})")
    return module.infer_config(shapes)


__all__ = ["MODULES", "check_against_spec", "checkpoint_spec", "detect_arch", "infer_config", "module_for",
           "normalize", "optional_tensors", "unused_tensors", "rwkv4", "rwkv5", "rwkv6", "rwkv7"]
