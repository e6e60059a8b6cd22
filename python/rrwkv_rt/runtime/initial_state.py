"""The ``initial_state=`` argument of ``Session`` and ``Batch.add`` (the C++ bindings call
:func:`state_floats`): a state-tuning file (``.pth`` / ``.safetensors`` holding
``blocks.{i}.att.time_state``, io/state_tuning.py), a dict of those tensors, or the floats of a
whole state (``Session.initial_state`` of another session: what pickling passes).
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ..config import ModelConfig
from ..io import state_tuning

# (header crc32, path, mtime, size) -> floats: a server or a batch adding many rows from one file
# reads it once
_CACHE: dict = {}


def state_floats(model, spec) -> np.ndarray:
    """The initial state ``spec`` gives ``model``, as float32 floats in the state's layout."""
    info = model.info
    if isinstance(spec, np.ndarray) and spec.dtype == np.float32 and spec.ndim == 1:
        return spec  # already a whole state (the C++ side checks the size and the values)
    if not isinstance(spec, (str, os.PathLike, Mapping)):
        raise TypeError(f"initial_state must be a state-tuning file path, a dict of its tensors or None, got "
                        f"{type(spec).__name__}")
    key = None
    if not isinstance(spec, Mapping):
        path = os.fspath(spec)
        if not os.path.exists(path):
            raise FileNotFoundError(f"initial state file {path!r} does not exist; check the path")
        st = os.stat(path)
        key = (info["header_crc32"], os.path.abspath(path), st.st_mtime_ns, st.st_size)
        if key in _CACHE:
            return _CACHE[key]
    cfg = ModelConfig(**{k: v for k, v in info.items() if k in ModelConfig.__dataclass_fields__})
    states, _ = state_tuning.read(spec, cfg)
    floats = state_tuning.state_floats(states, cfg, info["state_fields"])
    if key is not None:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = floats
    return floats
