"""Recurrent state of the reference model (docs/RRWKV.md §5)."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from ..config import ModelConfig
from .stacked import StackedState
from .wkv import PP_INIT

# Every per-layer field of §5 and its initial value. All are kept for both archs so that one State
# layout serves every model; the fields an arch does not use simply stay at their initial value:
# rwkv4 uses att_x, aa, bb, pp, ffn_x; rrwkv adds ma, mb, mp, att_seg, ffn_med, ffn_seg and uses
# ffn_x only in `add` mode.
FIELD_INIT = {
    "att_x": 0.0, "aa": 0.0, "bb": 0.0, "pp": PP_INIT,
    "ma": 0.0, "mb": 0.0, "mp": PP_INIT, "att_seg": 0.0,
    "ffn_x": 0.0, "ffn_med": 0.0, "ffn_seg": 0.0,
}
FIELDS = tuple(FIELD_INIT)


@dataclass
class State(StackedState):
    """Per-layer tensors stacked as (n_layer, B, C), plus ``pos``: tokens processed since reset.

    ``pos`` is shared by the whole batch (all sequences of a batch advance together). pp and mp
    start at PP_INIT = -1e38 in float32 and float64 alike.
    """

    att_x: Tensor
    aa: Tensor
    bb: Tensor
    pp: Tensor
    ma: Tensor
    mb: Tensor
    mp: Tensor
    att_seg: Tensor
    ffn_x: Tensor
    ffn_med: Tensor
    ffn_seg: Tensor
    pos: int = 0

    FIELDS = FIELDS

    @classmethod
    def initial(cls, cfg: ModelConfig, batch: int, dtype=torch.float32, device=None) -> "State":
        shape = (cfg.n_layer, batch, cfg.n_embd)
        tensors = {n: torch.full(shape, v, dtype=dtype, device=device) for n, v in FIELD_INIT.items()}
        return cls(**tensors, pos=0)

    def reset(self) -> "State":
        """Back to the initial state, in place (every field and pos); returns self."""
        for name, value in FIELD_INIT.items():
            with torch.no_grad():
                getattr(self, name).fill_(value)
        self.pos = 0
        return self

    def layer(self, i: int) -> dict[str, Tensor]:
        """The (B, C) tensors of layer i, by field name."""
        return {n: t[i] for n, t in self.tensors().items()}

    @classmethod
    def from_layers(cls, layers: list[dict[str, Tensor]], pos: int) -> "State":
        """Inverse of :meth:`layer` (stacks out of place, so it keeps autograd history)."""
        return cls(**{n: torch.stack([lay[n] for lay in layers]) for n in FIELDS}, pos=pos)


assert tuple(f.name for f in fields(State))[:-1] == FIELDS
