"""The model shell the matrix-state reference models (RWKV-5.2, 6, 7) share.

All three stack the same blocks around their own time mix and channel mix:

    x_0   = ln0(emb[token])                       (ln0 exists in block 0 only)
    x    += att(ln1(x), previous token's ln1(x), layer's matrix state)
    x    += ffn(ln2(x), previous token's ln2(x))
    logits = head(ln_out(x))

An architecture module subclasses :class:`MatrixStateModel` and names its ``TimeMix``,
``ChannelMix``, ``State`` and random-init ranges. The time mix takes ``(x, x_prev, S, v_first)``
over a whole chunk and returns ``(out, S, v_first)``; ``v_first`` is RWKV-7's layer-0 value passed
up the layers (None for 5/6). The channel mix takes ``(x, x_prev)``.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from .. import arch as _arch
from ..config import ModelConfig
from .init import parameter_generator
from .matrix_state import MatrixState
from .shell import Block, ModelShell


def shifted(x: Tensor, prev: Tensor) -> Tensor:
    """(B, T, C) -> the previous position's value at every t; ``prev`` (B, C) comes before the chunk."""
    return torch.cat([prev[:, None], x[:, :-1]], dim=1)


def scan(step, S: Tensor, *seqs: Tensor) -> tuple[Tensor, Tensor]:
    """Run ``y_t, S = step(S, *(s[:, t] for s in seqs))`` over t; returns (stacked y (B, T, ...), final S)."""
    ys = []
    for t in range(seqs[0].shape[1]):
        y, S = step(S, *(s[:, t] for s in seqs))
        ys.append(y)
    return torch.stack(ys, dim=1), S


def heads(x: Tensor, head_size: int) -> Tensor:
    """(..., C) -> (..., H, S)."""
    return x.reshape(*x.shape[:-1], -1, head_size)


class MatrixStateModel(ModelShell):
    """Base of RWKV5 / RWKV6 / RWKV7; ``state_dict()`` is exactly ``spec.checkpoint_spec(cfg)``.

    ``init="random"`` draws every parameter from a per-name generator seeded by ``seed`` (so the
    float32 and float64 models of a seed are the same model) with realistic ranges: unit-scale
    logits, decays inside (0, 1) away from both ends. ``init=None`` leaves torch's defaults (for
    loading weights).
    """

    ARCH = ""
    TimeMix: type = nn.Module
    ChannelMix: type = nn.Module
    State: type = MatrixState
    # leaf name -> (lo, hi) of a uniform draw, for every parameter that is not a matrix or a norm
    RANDOM_RANGES: dict[str, tuple[float, float]] = {}
    # leaf name -> scale of a low-rank matrix used as x @ W: normal * scale / sqrt(W.shape[-2])
    LORA_SCALES: dict[str, float] = {}

    def __init__(self, cfg: ModelConfig, dtype: torch.dtype = torch.float32, init: Optional[str] = "random",
                 seed: int = 0):
        super().__init__()
        if cfg.arch != self.ARCH:
            raise ValueError(f"{type(self).__name__} builds {self.ARCH!r} models, got a config of arch {cfg.arch!r}")
        if init not in ("random", None):
            raise ValueError(f"init must be 'random' or None, got {init!r}")
        self._build(cfg, (Block(cfg, i, self.TimeMix, self.ChannelMix) for i in range(cfg.n_layer)))
        if init == "random":
            self.init_random_(seed)
        self.to(dtype)

    def _check_state(self, state: MatrixState, batch: int) -> None:
        c = self.cfg
        want = (c.n_layer, batch, c.n_head, c.head_size, c.head_size)
        if not isinstance(state, self.State):
            raise ValueError(f"{type(self).__name__} needs a {self.State.__name__}, got a {type(state).__name__}")
        if tuple(state.wkv.shape) != want or tuple(state.att_x.shape) != (c.n_layer, batch, c.n_embd):
            raise ValueError(f"state has wkv {tuple(state.wkv.shape)} and att_x {tuple(state.att_x.shape)}, expected "
                             f"(n_layer, B, H, S, S) = {want} and (n_layer, B, C) = {(c.n_layer, batch, c.n_embd)}")

    def forward(self, tokens: Tensor, state: Optional[MatrixState] = None, return_state: bool = False):
        """tokens (B, T) -> logits (B, T, V) [, the state after the chunk]. ``state`` is not modified."""
        B, T = tokens.shape
        state = self.initial_state(B) if state is None else state
        self._check_state(state, B)
        if T == 0:
            return self._no_tokens(B, state, return_state)
        x = self._embed(tokens)
        att_x, wkv, ffn_x = [], [], []
        v_first = None
        for i, blk in enumerate(self.blocks):
            h = blk.ln1(x)
            out, S, v_first = blk.att(h, state.att_x[i], state.wkv[i], v_first)
            x = x + out
            att_x.append(h[:, -1])
            wkv.append(S)
            h = blk.ln2(x)
            x = x + blk.ffn(h, state.ffn_x[i])
            ffn_x.append(h[:, -1])
        logits = self._logits(x)
        if not return_state:
            return logits
        return logits, self.State(torch.stack(att_x), torch.stack(wkv), torch.stack(ffn_x), pos=state.pos + T)

    def step(self, tokens: Tensor, state: MatrixState) -> tuple[Tensor, MatrixState]:
        """One token per sequence: tokens (B,) -> logits (B, V), new state (a chunk of length 1)."""
        logits, state = self.forward(tokens[:, None], state, return_state=True)
        return logits[:, 0], state

    # ------------------------------------------------------------------------------------------
    # weights

    @torch.no_grad()
    def init_random_(self, seed: int = 0) -> "MatrixStateModel":
        """(Re)draw every parameter (see the class doc); returns self."""
        for name, p in self.named_parameters():
            p.copy_(self._random_value(name, tuple(p.shape), parameter_generator(seed, name)))
        return self

    def _random_value(self, name: str, shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
        leaf = name.rsplit(".", 1)[-1]
        if name == "emb.weight":
            return torch.randn(shape, generator=gen)
        if ".ln" in name or name.startswith("ln_out."):  # ln0/1/2, ln_out and the ln_x GroupNorm
            lo, hi = (0.8, 1.2) if leaf == "weight" else (-0.1, 0.1)
            return torch.empty(shape).uniform_(lo, hi, generator=gen)
        if leaf == "weight":  # nn.Linear (out, in)
            return torch.randn(shape, generator=gen) / math.sqrt(shape[1])
        if leaf in self.LORA_SCALES:
            return torch.randn(shape, generator=gen) * (self.LORA_SCALES[leaf] / math.sqrt(shape[-2]))
        if leaf not in self.RANDOM_RANGES:
            raise KeyError(f"{type(self).__name__}: no random-init range for parameter {name!r}")
        lo, hi = self.RANDOM_RANGES[leaf]
        return torch.empty(shape).uniform_(lo, hi, generator=gen)

    @classmethod
    def from_state_dict(cls, sd: dict, dtype: torch.dtype = torch.float32) -> "MatrixStateModel":
        """Build a model from an official-layout state dict (config inferred from the shapes).

        Raises ValueError listing every missing, mis-shaped, unexpected or non-float tensor at once.
        Tensors of any float dtype are converted to ``dtype``.
        """
        problems, shapes = cls._shapes(sd)
        found = _arch.detect_arch(shapes) if "emb.weight" in shapes else cls.ARCH
        if found != cls.ARCH:
            raise ValueError(f"this is an {found} state dict, not {cls.ARCH}: load it with the {found} model "
                             "(rrwkv_rt.reference.from_state_dict picks it)")
        cfg = _arch.module_for(cls.ARCH).infer_config(shapes)
        if getattr(cfg, "deep_embed", 0):
            raise ValueError("this is an RWKV-7 DeepEmbed state dict (ffn.s_emb); the PyTorch reference model does "
                             "not implement DeepEmbed: export it and run it with rrwkv_rt.Session")
        # tensors unused where they sit: zeros when absent, ignored when present
        return cls._load(sd, cfg, problems, shapes, dtype, optional=_arch.optional_tensors(cfg))
