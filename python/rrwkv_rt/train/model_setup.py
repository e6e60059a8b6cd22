"""Building the model of a run: from scratch, from weights (--init-from), with the chosen WKV."""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

from ..io.checkpoint import load_checkpoint
from ..config import ModelConfig
from ..reference import RWKV, warm_start_from_rwkv4
from ..arch import infer_config
from .checkpointing import CHECKPOINT_NAME
from .options import MODEL_FIELDS, TrainConfig
from .wkv_chunked import wkv_chunked


def model_config(cfg: TrainConfig, vocab_size: int) -> ModelConfig:
    return ModelConfig(arch=cfg.arch, n_layer=cfg.n_layer, n_embd=cfg.n_embd, vocab_size=vocab_size,
                       ffn_dim=cfg.ffn_dim, medium_interval=cfg.medium_interval, cm_mode=cfg.cm_mode)


def from_scratch(cfg: TrainConfig, vocab_size: int) -> RWKV:
    """The §7 ("paper") initialisation, a function of the seed alone."""
    return RWKV(model_config(cfg, vocab_size), init="paper", seed=cfg.seed)


def _read_weights(path: str) -> tuple[dict, ModelConfig | None]:
    """(name -> tensor, the recorded config or None) through the exporter's loader."""
    arrays, saved = load_checkpoint(path, what="--init-from")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}, saved


def from_weights(cfg: TrainConfig, path: str) -> RWKV:
    """A model from a checkpoint's weights: ours, an RRWKV state dict, or an official RWKV-4 .pth.

    RWKV-4 weights with ``--arch rrwkv`` are warm-started (§7): an ``add``-mode RRWKV with interval
    ``--medium-interval`` that computes exactly the RWKV-4 model until training moves it.
    """
    sd, saved = _read_weights(path)
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    if saved is not None:
        src = saved
    else:
        src = infer_config(shapes)
        if src.is_rrwkv:
            if "medium_interval" not in cfg.explicit:
                raise ValueError(f"--init-from {path!r} is an RRWKV state dict, which does not record its medium "
                                 "interval: pass --medium-interval S (the s it was trained with)")
            src = src.with_(medium_interval=cfg.medium_interval)
    arch = cfg.arch if "arch" in cfg.explicit else src.arch
    if arch == "rrwkv" and not src.is_rrwkv:
        s = cfg.medium_interval
        sd = warm_start_from_rwkv4({k: v.float() for k, v in sd.items()}, medium_interval=s)
        target = ModelConfig(arch="rrwkv", n_layer=src.n_layer, n_embd=src.n_embd, vocab_size=src.vocab_size,
                             ffn_dim=src.ffn_dim, medium_interval=s, cm_mode="add")
        if "cm_mode" in cfg.explicit and cfg.cm_mode != "add":
            raise ValueError("warm-starting an RRWKV from RWKV-4 weights uses --cm-mode add (the mode in which it "
                             "starts as exactly the RWKV-4 model); drop --cm-mode replace")
    elif arch == "rwkv4" and src.is_rrwkv:
        raise ValueError(f"--arch rwkv4 cannot start from the RRWKV weights of {path!r}")
    else:
        target = src
        if target.is_rrwkv and "medium_interval" in cfg.explicit:  # the weights do not depend on s
            target = target.with_(medium_interval=cfg.medium_interval)
    for k in MODEL_FIELDS:
        if k not in cfg.explicit or k in ("arch", "medium_interval") or (k == "ffn_dim" and cfg.ffn_dim == 0):
            continue
        if getattr(cfg, k) != getattr(target, k):
            raise ValueError(f"--{k.replace('_', '-')} {getattr(cfg, k)} contradicts --init-from {path!r} "
                             f"({k} = {getattr(target, k)}); the model's shape comes from the weights: drop the option")
    model = RWKV(target, init=None)
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()})
    return model


def check_vocab(model_cfg: ModelConfig, vocab_size: int, vocab: str) -> None:
    if model_cfg.vocab_size < vocab_size:
        raise ValueError(f"the model has vocab_size {model_cfg.vocab_size} but the --vocab {vocab} tokenizer "
                         f"uses {vocab_size} ids; pick the tokenizer the model was trained with")
    if model_cfg.vocab_size > vocab_size + 64:
        print(f"warning: the model has vocab_size {model_cfg.vocab_size} but --vocab {vocab} uses only "
              f"{vocab_size} ids; is this the tokenizer the model was trained with?", file=sys.stderr)


def select_wkv(model: RWKV, name: str) -> None:
    """Point the model's pluggable WKV at the chosen implementation."""
    if name == "scan":
        model.__dict__.pop("wkv_impl", None)  # the reference scan (class default)
    elif name == "chunked":
        model.wkv_impl = wkv_chunked
    elif name == "kernels":
        try:
            from .. import autograd
            from .. import _core
        except ImportError as e:
            raise ImportError(f"--kernels: the WKV kernels are not available ({e}); use --wkv chunked") from e
        if not hasattr(_core, "wkv_forward"):
            raise ImportError("--kernels: this build of rrwkv_rt has no WKV kernels (rrwkv_rt._core.wkv_forward); "
                              "rebuild the package or use --wkv chunked")
        autograd.use_kernels(model)
    else:
        raise ValueError(f"unknown WKV implementation {name!r}")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on the weight matrices (Linear weights) only: not on the embedding, the LayerNorms
    or the per-channel time parameters."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and name != "emb.weight" else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
