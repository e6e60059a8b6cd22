"""Reading source checkpoints, the one loader the exporter and the trainer share: official RWKV
``.pth`` state dicts, RRWKV state dicts, the project's own training checkpoints (a file or the
run directory holding ``ckpt.pt``), ``.safetensors`` files and Hugging Face model folders
(``hf.py``). Loading never unpickles arbitrary objects (``torch.load(weights_only=True)``).
Every loader keeps the source's precision (``StateDict.source_dtype``).
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
            raise FileNotFoundError(f"{what} {path!r} is a directory without a {RUN_CHECKPOINT_NAME} or a Hugging Face "
                                    "config.json; pass a checkpoint file, a training run directory or a Hugging "
                                    "Face model folder")
        return inside
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist; check the path")
    return path


def torch_load(path: str, what: str, expected: str):
    """torch.load without unpickling arbitrary objects; a clear error when torch is missing (`what`
    needs it) or the file is not a PyTorch file (`expected` says what it should be)."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(f"{what} needs torch: pip install 'rrwkv_rt[torch]'") from e
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle and zip errors come in many types
        raise ValueError(f"cannot read {path!r} as a PyTorch file ({type(e).__name__}: {e}); {expected}") from e


def _to_numpy(t) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.astype(np.float32) if t.dtype == np.float16 else t  # exact, as below
    import torch
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()  # exact: every bf16/f16 value is a float32 value
    return t.detach().cpu().numpy()


def precision_of(dtype_names: list[str]) -> str:
    """The matrices' storage precision (f32, f16 or bf16) from the dtype names of the 2-D tensors
    (torch, numpy or safetensors spellings): the most common one."""
    kinds = [_PRECISION.get(str(d), "f32") for d in dtype_names]
    return max(set(kinds), key=kinds.count) if kinds else "f32"


_PRECISION = {"torch.bfloat16": "bf16", "torch.float16": "f16", "float16": "f16", "BF16": "bf16", "F16": "f16",
              "bfloat16": "bf16", "bf16": "bf16", "f16": "f16"}


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> tuple[dict[str, np.ndarray],
                                                                               ModelConfig | None]:
    """(name -> array, the config if the file records one); ``what`` names the argument in errors.
    A Hugging Face model folder (config.json) is read by ``hf.load_folder``."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json")) and \
            not os.path.exists(os.path.join(path, RUN_CHECKPOINT_NAME)):
        from .hf import load_folder
        return load_folder(path), None
    path = resolve_checkpoint_path(path, what)
    if path.endswith(".safetensors"):
        loaded = load_safetensors(path)
        sd = StateDict(loaded)
        sd.source_dtype, sd.layout = loaded.source_dtype_found, "safetensors"
        return sd, None
    obj = torch_load(path, "reading .pth checkpoints",
                     "expected a .pth state dict saved with torch.save")
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
    if isinstance(obj, dict) and "_strategy" in obj:
        raise ValueError(f"{path!r} was converted by the rwkv package for its strategy {obj['_strategy']!r} (its "
                         "embedding is already layer-normed, its matrices transposed and perhaps 8-bit); export "
                         "the original .pth the conversion was made from")
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise ValueError(f"{path!r} is not a state dict (name -> tensor); got {type(obj).__name__}")
    sd = StateDict({k: _to_numpy(v) for k, v in obj.items()})
    sd.recorded_vocab = recorded_vocab
    sd.layout = "training checkpoint" if config is not None else "pth"
    sd.source_dtype = precision_of([str(v.dtype) for v in obj.values() if len(getattr(v, "shape", ())) == 2])
    return sd, config


class StateDict(dict):
    """name -> float32 array, and what the source said besides: ``source_dtype`` (the matrices'
    precision in the file: f32, f16 or bf16), ``recorded_vocab`` (a training checkpoint's
    tokenizer, or None), ``layout`` (what kind of source: "pth", "safetensors", "training
    checkpoint", "hf-transformers-rwkv", "hf-fla-rwkv7"), ``tokenizer_path`` (a Hugging Face
    folder's tokenizer.json, or None) and ``config_changes`` (ModelConfig fields a Hugging Face
    config sets, such as its norm eps)."""
    source_dtype = "f32"
    recorded_vocab = None
    layout = "pth"
    tokenizer_path = None
    config_changes: dict = {}


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


SAFETENSORS_HINT = "reading .safetensors files needs the safetensors package: pip install 'rrwkv_rt[torch]'"


class _Loaded(dict):
    source_dtype_found = "f32"


def load_safetensors(path: str) -> "_Loaded":
    """name -> float32 array of a .safetensors file, with ``source_dtype_found`` (the matrices'
    precision in the file). bf16 needs torch's loader (numpy has no bfloat16)."""
    try:
        from safetensors import safe_open
    except ImportError as e:
        raise ImportError(SAFETENSORS_HINT) from e
    try:
        import torch  # noqa: F401
        framework = "pt"
    except ImportError:
        framework = "np"
    out = _Loaded()
    kinds = []
    try:
        with safe_open(path, framework=framework) as f:
            for k in f.keys():
                sl = f.get_slice(k)
                if len(sl.get_shape()) == 2:
                    kinds.append(sl.get_dtype())
                out[k] = _to_numpy(f.get_tensor(k))
    except Exception as e:  # a damaged file raises safetensors' own SafetensorError, among others
        raise ValueError(f"cannot read {path!r} as a .safetensors file ({type(e).__name__}: {e})") from e
    out.source_dtype_found = precision_of(kinds)
    return out
