"""Reading source checkpoints, the one loader the exporter and the trainer share: official RWKV
``.pth`` state dicts, RRWKV state dicts, the project's own training checkpoints (a file or the
run directory holding ``ckpt.pt``) and ``.safetensors`` files. Loading never unpickles arbitrary
objects (``torch.load(weights_only=True)``).
"""
from __future__ import annotations

import os

import numpy as np

from ..config import ModelConfig

TRAIN_CHECKPOINT_FORMAT = "rrwkv_rt.train/1"
RUN_CHECKPOINT_NAME = "ckpt.pt"  # the checkpoint inside a training run's directory


def resolve_checkpoint_path(path: str | os.PathLike, what: str = "checkpoint") -> str:
    """A checkpoint file, or a training run directory holding ckpt.pt; FileNotFoundError if neither."""
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = os.path.join(path, RUN_CHECKPOINT_NAME)
        if not os.path.exists(inside):
            raise FileNotFoundError(f"{what} {path!r} is a directory without a {RUN_CHECKPOINT_NAME}; pass a "
                                    "checkpoint file or a training run directory")
        return inside
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist; check the path")
    return path


def _to_numpy(t) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t
    import torch
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()  # exact: every bf16/f16 value is a float32 value
    return t.detach().cpu().numpy()


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> tuple[dict[str, np.ndarray],
                                                                               ModelConfig | None]:
    """(name -> array, the config if the file records one); ``what`` names the argument in errors."""
    path = resolve_checkpoint_path(path, what)
    if path.endswith(".safetensors"):
        return _load_safetensors(path), None
    try:
        import torch
    except ImportError as e:
        raise ImportError("reading .pth checkpoints needs torch: pip install 'rrwkv_rt[torch]'") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle and zip errors come in many types
        raise ValueError(f"cannot read {path!r} as a PyTorch checkpoint ({type(e).__name__}: {e}); "
                         "expected a .pth state dict saved with torch.save") from e
    config, recorded_vocab = None, None
    if isinstance(obj, dict) and obj.get("format") == TRAIN_CHECKPOINT_FORMAT:
        config = _train_config(path, obj.get("config"))
        train_cfg = obj.get("train_config")
        if isinstance(train_cfg, dict) and train_cfg.get("vocab") in ("bytes", "world"):
            recorded_vocab = train_cfg["vocab"]
        if "model" not in obj:
            raise ValueError(f"training checkpoint {path!r} has no 'model' entry; it is damaged or was not "
                             "written by `rrwkv train`: use an intact checkpoint")
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise ValueError(f"{path!r} is not a state dict (name -> tensor); got {type(obj).__name__}")
    sd = StateDict({k: _to_numpy(v) for k, v in obj.items()})
    sd.recorded_vocab = recorded_vocab
    kinds = [str(v.dtype) for v in obj.values() if len(getattr(v, "shape", ())) == 2]
    sd.source_dtype = {"torch.bfloat16": "bf16", "torch.float16": "f16", "float16": "f16"}.get(
        max(set(kinds), key=kinds.count) if kinds else "", "f32")
    return sd, config


class StateDict(dict):
    """name -> float32 array, and what the file said besides: ``source_dtype`` (the matrices'
    precision in the file: f32, f16 or bf16) and ``recorded_vocab`` (a training checkpoint's
    tokenizer, or None)."""
    source_dtype = "f32"
    recorded_vocab = None


def _train_config(path: str, cfg) -> ModelConfig:
    """The ModelConfig a training checkpoint records, or ValueError saying what is wrong with it."""
    hint = "it is damaged or was written by another tool: use an intact checkpoint from `rrwkv train`"
    if not isinstance(cfg, dict):
        raise ValueError(f"training checkpoint {path!r} has no config dict (found {type(cfg).__name__}); {hint}")
    try:
        return ModelConfig(**cfg)
    except TypeError as e:  # missing or unknown keys, or values of a type the checks cannot compare
        raise ValueError(f"training checkpoint {path!r} has a config that does not fit ModelConfig ({e}); "
                         f"{hint}") from None
    except ValueError as e:
        raise ValueError(f"training checkpoint {path!r} has an invalid config: {e}; {hint}") from None


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    try:
        import torch  # noqa: F401  (the torch loader handles bf16, numpy's cannot)
        from safetensors.torch import load_file
        return {k: _to_numpy(v) for k, v in load_file(path).items()}
    except ImportError:
        from safetensors.numpy import load_file
        return load_file(path)
