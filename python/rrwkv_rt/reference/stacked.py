"""What the reference models' states share: per-layer tensors stacked over the layers, batch
second, under the names in ``FIELDS``, plus ``pos`` (tokens processed since the reset). The
methods here do not depend on which fields a state has."""
from __future__ import annotations

import torch
from torch import Tensor


class StackedState:
    """Mixed into a dataclass whose fields are FIELDS (each (n_layer, B, ...)) and then pos."""

    FIELDS: tuple = ()

    def tensors(self) -> dict[str, Tensor]:
        return {n: getattr(self, n) for n in self.FIELDS}

    def clone(self):
        return type(self)(**{n: t.clone() for n, t in self.tensors().items()}, pos=self.pos)

    def to(self, dtype=None, device=None):
        return type(self)(**{n: t.to(dtype=dtype, device=device) for n, t in self.tensors().items()}, pos=self.pos)

    def equal(self, other) -> bool:
        """Exact equality of every field and pos (used by tests)."""
        return type(self) is type(other) and self.pos == other.pos and all(
            torch.equal(a, b) for a, b in zip(self.tensors().values(), other.tensors().values()))

    @property
    def n_layer(self) -> int:
        return self.att_x.shape[0]

    @property
    def batch(self) -> int:
        return self.att_x.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.att_x.dtype
