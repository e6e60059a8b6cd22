"""RWKV-7 ("Goose", x070) reference model, in the official checkpoint layout (``arch.rwkv7``).

Notation of ``reference.rwkv5``; x_t the ln1 output, d_t = x_{t-1} - x_t; low-rank matrices are
used as ``x @ A @ B``. The state is a delta-rule memory: S_h maps keys to values (rows = value
channels), is decayed per key channel and has a rank-1 "removal" of what it held for the current
key. Per block:

Time mix
    token shift     z_m = x_t + d_t ⊙ x_m                      for m in r, w, k, v, a, g  (att.x_m)
    projections     r = W_r z_r,  k = W_k z_k,  v = W_v z_v
    decay           w = exp(-e^{-1/2} σ(w0 + tanh(z_w @ w1) @ w2))     ∈ (e^{-e^{-1/2}}, 1) ≈ (0.545, 1)
    learning rate   a = σ(a0 + (z_a @ a1) @ a2)
    gate            g = σ(z_g @ g1) @ g2
    removal key     κ = normalize_per_head(k ⊙ k_k)            (unit L2 norm per head, eps 1e-12)
    key             k ← k ⊙ (1 + (a - 1) ⊙ k_a)
    value residual  block 0: v_first = v.   Others: v ← v + (v_first - v) ⊙ σ(v0 + (z_v @ v1) @ v2)
    per head        S_h ← S_h diag(w) + S_h (-κ)(κ ⊙ a)^T + v k^T
                    y = S_h r                                   (after the update, unlike 5/6)
    bonus           y ← GroupNorm_H(y) + (Σ_head r ⊙ k ⊙ r_k) v    (per head: a scalar times v)
    output          att = W_o (y ⊙ g)
Channel mix (no receptance)
    ffn = W'_v relu(W'_k (x'_t + (x'_{t-1} - x'_t) ⊙ x'_k))²

v0/v1/v2 exist in block 0 of the checkpoints too and are unused there. In training the decay is
written w = -softplus(-(w0 + ...)) - 0.5 followed by exp(-exp(w)), which is the same number: the
package's CPU code writes exp(-0.606531 σ(.)), rounding e^{-1/2} = 0.60653066 (see DECAY_SCALE).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .matrix_model import MatrixStateModel, heads, scan, shifted
from .matrix_state import ValueKeyState

DECAY_SCALE = math.exp(-0.5)  # the rwkv package's CPU path uses 0.606531 (|Δ| 3.4e-7)
SHIFT_BRANCHES = "rwkvag"


def wkv7_step(S: Tensor, r: Tensor, w: Tensor, k: Tensor, v: Tensor, kappa: Tensor,
              a: Tensor) -> tuple[Tensor, Tensor]:
    """One token of the RWKV-7 recurrence, every head at once.

    S (B, H, S, S) rows = value channels, columns = key channels; the others (B, H, S).
    Returns y = S_new r (B, H, S) and S_new.
    """
    vk = v[..., :, None] * k[..., None, :]                        # v_i k_j
    ab = (-kappa)[..., :, None] * (kappa * a)[..., None, :]       # -κ_i (κ a)_j
    S = S * w[..., None, :] + S @ ab + vk
    return (S @ r[..., :, None]).squeeze(-1), S


class TimeMix7(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__()
        C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
        self.layer_id = layer_id
        self.head_size = S
        vec = lambda: nn.Parameter(torch.zeros(1, 1, C))  # noqa: E731
        for m in SHIFT_BRANCHES:
            setattr(self, f"x_{m}", vec())
        for x, D in (("w", cfg.lora_decay), ("a", cfg.lora_a), ("v", cfg.lora_v), ("g", cfg.lora_gate)):
            if x != "g":
                setattr(self, f"{x}0", vec())
            setattr(self, f"{x}1", nn.Parameter(torch.zeros(C, D)))
            setattr(self, f"{x}2", nn.Parameter(torch.zeros(D, C)))
        self.k_k = vec()
        self.k_a = vec()
        self.r_k = nn.Parameter(torch.zeros(H, S))
        for name in ("receptance", "key", "value", "output"):
            setattr(self, name, nn.Linear(C, C, bias=False))
        self.ln_x = nn.GroupNorm(H, C, eps=cfg.group_norm_eps)

    def lowrank(self, name: str, x: Tensor) -> Tensor:
        """x @ the low-rank matrix ``name``: the one place these products happen, so that a
        reference that rounds them as the runtime's fast path does (tests/runtime/test_rt_fast.py)
        can replace it."""
        return x @ getattr(self, name)

    def forward(self, x: Tensor, x_prev: Tensor, S: Tensor, v_first):
        """x (B, T, C) -> (out (B, T, C), S after the chunk, v_first (B, T, C) of block 0)."""
        B, T, C = x.shape
        n = self.head_size
        d = shifted(x, x_prev) - x
        z = {m: x + d * getattr(self, f"x_{m}") for m in SHIFT_BRANCHES}
        r, k, v = self.receptance(z["r"]), self.key(z["k"]), self.value(z["v"])
        lr = self.lowrank
        w = lr("w2", torch.tanh(lr("w1", z["w"])))
        a = torch.sigmoid(self.a0 + lr("a2", lr("a1", z["a"])))
        g = lr("g2", torch.sigmoid(lr("g1", z["g"])))
        kappa = F.normalize(heads(k * self.k_k, n), dim=-1, p=2.0)
        k = k * (1 + (a - 1) * self.k_a)
        if self.layer_id == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + lr("v2", lr("v1", z["v"])))
        w = torch.exp(-DECAY_SCALE * torch.sigmoid(self.w0 + w))
        y, S = scan(wkv7_step, S, heads(r, n), heads(w, n), heads(k, n), heads(v, n), kappa, heads(a, n))
        y = self.ln_x(y.reshape(B * T, C)).view(B, T, C)
        bonus = (heads(r, n) * heads(k, n) * self.r_k).sum(dim=-1, keepdim=True) * heads(v, n)
        return self.output((y + bonus.reshape(B, T, C)) * g), S, v_first


class ChannelMix7(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__()
        C, F_ = cfg.n_embd, cfg.ffn_dim
        self.x_k = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, F_, bias=False)
        self.value = nn.Linear(F_, C, bias=False)

    def forward(self, x: Tensor, x_prev: Tensor) -> Tensor:
        k = x + (shifted(x, x_prev) - x) * self.x_k
        return self.value(torch.relu(self.key(k)) ** 2)


class RWKV7(MatrixStateModel):
    """RWKV-7 language model (see the module doc for the equations)."""

    ARCH = "rwkv7"
    TimeMix = TimeMix7
    ChannelMix = ChannelMix7
    State = ValueKeyState
    RANDOM_RANGES = {
        **{f"x_{m}": (0.0, 1.0) for m in SHIFT_BRANCHES},
        "w0": (-5.0, 2.0),    # σ in (0.007, 0.88): w in about (0.59, 0.996)
        "a0": (-2.0, 2.0),
        "v0": (-1.0, 1.0),
        "k_k": (0.3, 1.2),
        "k_a": (0.5, 1.5),
        "r_k": (-0.5, 0.5),
    }
    LORA_SCALES = {"w1": 1.0, "w2": 0.5, "a1": 1.0, "a2": 0.5, "v1": 1.0, "v2": 0.5, "g1": 1.0, "g2": 1.0}
