"""Recurrent state of the matrix-state reference models (RWKV-5.2, 6, 7).

Per layer: the two token-shift vectors and one (S x S) matrix per head. Nothing else is carried
between tokens in any of the three (RWKV-7's v_first is passed between *layers* of one token).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from ..config import ModelConfig
from .stacked import StackedState

FIELDS = ("att_x", "wkv", "ffn_x")


@dataclass
class MatrixState(StackedState):
    """Stacked over layers, batch second; every field starts at zero. ``pos``: tokens since reset.

    att_x (L, B, C): the previous token's ln1 output (time-mix token shift)
    wkv   (L, B, H, S, S): the matrix state of every head; see ``WKV_AXES`` for what its rows and
          columns are (the layout of the rwkv package, so states can be compared with it)
    ffn_x (L, B, C): the previous token's ln2 output (channel-mix token shift)
    """

    att_x: Tensor
    wkv: Tensor
    ffn_x: Tensor
    pos: int = 0

    FIELDS = FIELDS
    WKV_AXES = ("row", "column")  # overridden by each arch

    @classmethod
    def initial(cls, cfg: ModelConfig, batch: int, dtype=torch.float32, device=None) -> "MatrixState":
        L, C, H, S = cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.head_size
        zeros = lambda *shape: torch.zeros(*shape, dtype=dtype, device=device)  # noqa: E731
        return cls(zeros(L, batch, C), zeros(L, batch, H, S, S), zeros(L, batch, C), pos=0)

    def reset(self) -> "MatrixState":
        """Back to the initial state, in place; returns self."""
        with torch.no_grad():
            for t in self.tensors().values():
                t.zero_()
        self.pos = 0
        return self


class KeyValueState(MatrixState):
    """RWKV-5.2 / RWKV-6: wkv[l, b, h, i, j] sums k_i v_j (row = key channel, column = value channel)."""

    WKV_AXES = ("key", "value")


class ValueKeyState(MatrixState):
    """RWKV-7: wkv[l, b, h, i, j] maps keys to values (row = value channel, column = key channel)."""

    WKV_AXES = ("value", "key")


assert tuple(f.name for f in fields(MatrixState))[:-1] == FIELDS
