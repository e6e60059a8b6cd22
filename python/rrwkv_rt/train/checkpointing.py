"""Atomic, resumable training checkpoints.

A checkpoint is the dict the exporter recognises (``checkpoint.TRAIN_CHECKPOINT_FORMAT``), so
``python -m rrwkv_rt export ckpt.pt model.rrwkv`` works on it directly::

    {"format": "rrwkv_rt.train/1", "config": ModelConfig.to_dict(), "model": state_dict,
     "optimizer": ..., "scheduler": ..., "step": int, "train_config": TrainConfig.to_dict(),
     "rng": {...}, "corpus": {...}, "metrics": {...}}

Everything in it is tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)``: no pickled code on the load path.

Writes are atomic: the bytes go to a temporary file in the destination directory, are flushed
and fsync'ed, then ``os.replace`` puts them in place (and the directory is fsync'ed). A crash at
any point leaves either the old checkpoint or the new one, never a partial file.
"""
from __future__ import annotations

import os

import torch

from ..io.atomic import atomic_write
from ..io.checkpoint import RUN_CHECKPOINT_NAME as CHECKPOINT_NAME, TRAIN_CHECKPOINT_FORMAT, resolve_checkpoint_path


def atomic_save(obj, path: str | os.PathLike) -> None:
    """torch.save ``obj`` to ``path`` atomically (see the module doc)."""
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    with atomic_write(path) as f:
        torch.save(obj, f)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])


def make_checkpoint(model, model_cfg, optimizer, scheduler, step: int, train_cfg, corpus_info: dict,
                    metrics: dict) -> dict:
    return {
        "format": TRAIN_CHECKPOINT_FORMAT,
        "config": model_cfg.to_dict(),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "train_config": train_cfg.to_dict(),
        "rng": rng_state(),
        "corpus": corpus_info,
        "metrics": metrics,
    }


def resolve_path(path: str | os.PathLike) -> str:
    """A checkpoint path, or a run directory holding ckpt.pt."""
    return resolve_checkpoint_path(path)


def load(path: str | os.PathLike) -> dict:
    """A training checkpoint written by :func:`make_checkpoint` (ValueError for anything else)."""
    path = resolve_path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip and unpickling errors come in many types
        raise ValueError(f"cannot read {path!r} as a training checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict) or obj.get("format") != TRAIN_CHECKPOINT_FORMAT or "optimizer" not in obj:
        raise ValueError(f"{path!r} is not a resumable training checkpoint of rrwkv_rt (format "
                         f"{TRAIN_CHECKPOINT_FORMAT!r} with optimizer state); to start from its weights "
                         "only, pass it as --init-from")
    return obj
