"""State-tuning files: a learned initial state for RWKV-5/6/7 (RWKV-PEFT's "state tuning", loaded by
the official demos, RWKV-Runner and ai00).

Such a file (.pth or .safetensors) holds, for every layer i, ``blocks.{i}.att.time_state`` of
shape (H, S, S). The demos start layer i's matrix state from ``time_state.transpose(1, 2)`` and
the token-shift states from zeros; so does rrwkv_rt, whether the state is given to a session
(``Session(model, initial_state=...)``) or baked into the model file at export (tensors
``initial_state.{i}.wkv``, csrc/engine/initial_state.h). A model checkpoint may hold the same
tensors (RWKV-PEFT's merge_state.py puts them there; the rwkv package then starts RWKV-5/6 from
them), and the exporter bakes those too.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ..config import ModelConfig

LEAF = "att.time_state"
BAKED_FIELD = "wkv"  # the state field a time_state sets (the schema's name, csrc/arch/matrix)


def names(n_layer: int) -> list[str]:
    return [f"blocks.{i}.{LEAF}" for i in range(n_layer)]


def is_time_state(name: str) -> bool:
    return name.startswith("blocks.") and name.endswith("." + LEAF)


def check(tensors: Mapping, cfg: ModelConfig, what: str) -> dict[str, np.ndarray]:
    """The per-layer time states of ``tensors`` (name -> array), checked against the model:
    exactly one (H, S, S) tensor per layer and nothing else. ValueError listing every problem."""
    if not cfg.has_matrix_state:
        raise ValueError(f"{what}: an initial state (time_state) is for RWKV-5/6/7 models, whose state is a matrix "
                         f"per head; this model is {cfg.arch}")
    H, S = cfg.n_head, cfg.head_size
    want = names(cfg.n_layer)
    problems = [f"missing tensor {n!r} (expected shape {(H, S, S)})" for n in want if n not in tensors]
    for n, a in tensors.items():
        if n not in want:
            problems.append(f"unexpected tensor {n!r}: a state-tuning file of this model holds only "
                            f"blocks.0..{cfg.n_layer - 1}.{LEAF}")
        elif tuple(a.shape) != (H, S, S):
            problems.append(f"tensor {n!r} has shape {tuple(a.shape)}, expected (H, S, S) = {(H, S, S)}")
        elif not np.isfinite(np.asarray(a, dtype=np.float64)).all():
            problems.append(f"tensor {n!r} holds values that are not finite")
    if problems:
        raise ValueError(f"{what} does not fit this model ({cfg.arch}, {cfg.n_layer} layers, {H} heads of {S}): "
                         f"{len(problems)} problem(s): " + "; ".join(problems[:8])
                         + ("; ..." if len(problems) > 8 else ""))
    return {n: np.asarray(tensors[n], dtype=np.float32) for n in want}


def read(src, cfg: ModelConfig) -> tuple[dict[str, np.ndarray], str]:
    """(checked time states, a short description of the source) of a file path or a dict of tensors."""
    if isinstance(src, Mapping):
        from .checkpoint import _to_numpy
        return check({k: _to_numpy(v) for k, v in src.items()}, cfg, "the initial state"), "a dict of tensors"
    from .checkpoint import load_checkpoint
    path = os.fspath(src)
    if os.path.isdir(path):
        raise ValueError(f"initial state {path!r} is a directory; pass a state-tuning .pth or .safetensors file")
    tensors, _ = load_checkpoint(path, what="initial state")
    return check(tensors, cfg, f"initial state file {path!r}"), os.path.basename(path)


def baked_tensors(states: Mapping[str, np.ndarray], cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The model-file tensors that make ``states`` the initial state (docs/FORMAT.md)."""
    return {f"initial_state.{i}.{BAKED_FIELD}": _as_wkv(states[n]) for i, n in enumerate(names(cfg.n_layer))}


def state_floats(states: Mapping[str, np.ndarray], cfg: ModelConfig, fields: list) -> np.ndarray:
    """A whole state (the schema's layout: ``fields`` = [(name, size)] per layer) starting from
    ``states``: the matrix states transposed, every other field zero."""
    per_layer = sum(size for _, size in fields)
    out = np.zeros((cfg.n_layer, per_layer), dtype=np.float32)
    at = 0
    for name, size in fields:
        if name == BAKED_FIELD:
            for i, n in enumerate(names(cfg.n_layer)):
                out[i, at:at + size] = _as_wkv(states[n])
        at += size
    return out.reshape(-1)


def _as_wkv(time_state: np.ndarray) -> np.ndarray:
    # the demos' time_state.transpose(1, 2): the package's (and the runtime's) matrix state layout
    return np.ascontiguousarray(np.asarray(time_state, dtype=np.float32).transpose(0, 2, 1)).reshape(-1)
