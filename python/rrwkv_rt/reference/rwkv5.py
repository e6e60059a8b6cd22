"""RWKV-5.2 ("Eagle") reference model, in the official checkpoint layout (``arch.rwkv5``).

Notation: C channels split into H heads of S = head_size channels; x_t is the block's ln1 output at
token t and x_{t-1} the previous token's (zero before the first token of a reset state). Linear
maps W are nn.Linear weights (out, in). Per block:

Time mix
    token shift     z_m = x_t ⊙ μ_m + x_{t-1} ⊙ (1 - μ_m)                 for m in k, v, r, g
                    (μ_m = att.time_mix_m)
    projections     r = W_r z_r,  k = W_k z_k,  v = W_v z_v,  g = SiLU(W_g z_g)
    decay, bonus    w = exp(-exp(att.time_decay)) ∈ (0, 1),  u = att.time_faaaa   (both (H, S))
    per head h, with r, k, v, w, u its S-vectors and S_h an (S x S) state, rows = key channels:
                    y_t = r^T (diag(u) k v^T + S_h)
                    S_h ← k v^T + diag(w) S_h                              (after the output)
    output          att = W_o (GroupNorm_H(y) ⊙ g)       GroupNorm: one group per head, eps 64e-5
Channel mix (the RWKV-4 one)
    z_m = x'_t ⊙ μ'_m + x'_{t-1} ⊙ (1 - μ'_m) for m in k, r, with x' the ln2 output
    ffn = σ(W'_r z_r) ⊙ W'_v relu(W'_k z_k)²

RWKV-LM trains with ``ln_x(y / 8)`` and eps 1e-5; ``GroupNorm(y, eps=64e-5)`` is the same function
(the package's and ours). The rwkv package reads time_faaaa as u itself (it exponentiates only an
old-style ``time_first``); this module accepts only the 5.2 layout (time_faaaa).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .matrix_model import MatrixStateModel, heads, scan, shifted
from .matrix_state import KeyValueState


def wkv5_step(S: Tensor, r: Tensor, k: Tensor, v: Tensor, w: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """One token of the RWKV-5/6 recurrence, every head at once.

    S (B, H, S, S) rows = key channels; r, k, v, w (B, H, S); u (H, S) (broadcasts like w).
    Returns y (B, H, S) and the new S. RWKV-6 calls it with a per-token w.
    """
    kv = k[..., :, None] * v[..., None, :]                        # (B, H, S, S): k_i v_j
    y = (r[..., None, :] @ (u[..., :, None] * kv + S)).squeeze(-2)
    return y, kv + w[..., :, None] * S


def mix(x: Tensor, x_prev: Tensor, mu: Tensor) -> Tensor:
    """μ ⊙ x + (1 - μ) ⊙ x_prev, operands in the package's order; μ stored (1, 1, C) broadcasts."""
    return x * mu + x_prev * (1 - mu)


def gated_group_norm_out(m: nn.Module, y: Tensor, g: Tensor) -> Tensor:
    """W_o (GroupNorm_H(y) ⊙ g) for y, g (B, T, C); ``m`` has ln_x and output (shared by 5 and 6)."""
    B, T, C = g.shape
    return m.output(m.ln_x(y.reshape(B * T, C)).view(B, T, C) * g)


class TimeMix5(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__()
        C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
        self.head_size = S
        for m in "kvrg":
            setattr(self, f"time_mix_{m}", nn.Parameter(torch.zeros(1, 1, C)))
        self.time_decay = nn.Parameter(torch.zeros(H, S))
        self.time_faaaa = nn.Parameter(torch.zeros(H, S))
        for name in ("receptance", "key", "value", "gate", "output"):
            setattr(self, name, nn.Linear(C, C, bias=False))
        self.ln_x = nn.GroupNorm(H, C, eps=cfg.group_norm_eps)

    def forward(self, x: Tensor, x_prev: Tensor, S: Tensor, v_first=None):
        """x (B, T, C) -> (out (B, T, C), S after the chunk, v_first unchanged)."""
        xp = shifted(x, x_prev)
        r = self.receptance(mix(x, xp, self.time_mix_r))
        k = self.key(mix(x, xp, self.time_mix_k))
        v = self.value(mix(x, xp, self.time_mix_v))
        g = F.silu(self.gate(mix(x, xp, self.time_mix_g)))
        w = torch.exp(-torch.exp(self.time_decay))
        n = self.head_size
        y, S = scan(lambda S, r, k, v: wkv5_step(S, r, k, v, w, self.time_faaaa), S,
                    heads(r, n), heads(k, n), heads(v, n))
        return gated_group_norm_out(self, y, g), S, v_first


class GatedChannelMix(nn.Module):
    """RWKV-5/6's channel mix after its token shift: σ(receptance(zr)) ⊙ value(relu(key(zk))²).
    ``mixes`` names the two (1, 1, C) shift parameters (k first), created before the matrices."""

    def __init__(self, cfg: ModelConfig, mixes: tuple[str, str]):
        super().__init__()
        C, F_ = cfg.n_embd, cfg.ffn_dim
        for name in mixes:
            setattr(self, name, nn.Parameter(torch.zeros(1, 1, C)))
        self.key = nn.Linear(C, F_, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(F_, C, bias=False)

    def gated(self, zk: Tensor, zr: Tensor) -> Tensor:
        return torch.sigmoid(self.receptance(zr)) * self.value(torch.relu(self.key(zk)) ** 2)


class ChannelMix5(GatedChannelMix):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__(cfg, ("time_mix_k", "time_mix_r"))

    def forward(self, x: Tensor, x_prev: Tensor) -> Tensor:
        xp = shifted(x, x_prev)
        return self.gated(mix(x, xp, self.time_mix_k), mix(x, xp, self.time_mix_r))


class RWKV5(MatrixStateModel):
    """RWKV-5.2 language model (see the module doc for the equations)."""

    ARCH = "rwkv5"
    TimeMix = TimeMix5
    ChannelMix = ChannelMix5
    State = KeyValueState
    RANDOM_RANGES = {
        "time_mix_k": (0.0, 1.0), "time_mix_v": (0.0, 1.0), "time_mix_r": (0.0, 1.0), "time_mix_g": (0.0, 1.0),
        "time_decay": (-5.0, 0.5),   # w = exp(-exp(.)) in (0.19, 0.993)
        "time_faaaa": (-1.0, 1.0),
    }
