"""RWKV-6 ("Finch") reference model, in the official checkpoint layout (``arch.rwkv6``).

RWKV-5.2 with a data-dependent token shift and a data-dependent decay (notation of
``reference.rwkv5``; x_t the ln1 output, d_t = x_{t-1} - x_t). Low-rank matrices A, B are used as
``x @ A @ B`` (stored (in, out), not like nn.Linear). Per block:

Time mix
    shift LoRA      q = tanh((x_t + d_t ⊙ maa_x) @ maa_w1)            maa_w1 (C, 5 D), q split in 5
                    m_b = q_b @ maa_w2[b]     for the branches b = w, k, v, r, g (in that order)
    token shift     z_b = x_t + d_t ⊙ (maa_b + m_b)
    projections     r = W_r z_r,  k = W_k z_k,  v = W_v z_v,  g = SiLU(W_g z_g)
    decay           w_t = exp(-exp(time_decay + tanh(z_w @ decay_w1) @ decay_w2))   per token
    per head        y_t = r^T (diag(u) k v^T + S_h),  S_h ← k v^T + diag(w_t) S_h,  u = time_faaaa
    output          att = W_o (GroupNorm_H(y) ⊙ g)       (one group per head, eps 64e-5)
Channel mix
    z_m = x'_t + (x'_{t-1} - x'_t) ⊙ maa'_m for m in k, r (x' the ln2 output)
    ffn = σ(W'_r z_r) ⊙ W'_v relu(W'_k z_k)²

(maa_* = att.time_maa_*, maa_w1/2 = att.time_maa_w1/2, decay_w1/2 = att.time_decay_w1/2.)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..arch.rwkv6 import MIX_BRANCHES
from ..config import ModelConfig
from .matrix_model import MatrixStateModel, heads, scan, shifted
from .matrix_state import KeyValueState
from .rwkv5 import GatedChannelMix, gated_group_norm_out, wkv5_step


class TimeMix6(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__()
        C, H, S = cfg.n_embd, cfg.n_head, cfg.head_size
        nb = len(MIX_BRANCHES)
        self.head_size = S
        for b in "x" + MIX_BRANCHES:
            setattr(self, f"time_maa_{b}", nn.Parameter(torch.zeros(1, 1, C)))
        self.time_maa_w1 = nn.Parameter(torch.zeros(C, nb * cfg.lora_mix))
        self.time_maa_w2 = nn.Parameter(torch.zeros(nb, cfg.lora_mix, C))
        self.time_decay = nn.Parameter(torch.zeros(1, 1, C))
        self.time_decay_w1 = nn.Parameter(torch.zeros(C, cfg.lora_decay))
        self.time_decay_w2 = nn.Parameter(torch.zeros(cfg.lora_decay, C))
        self.time_faaaa = nn.Parameter(torch.zeros(H, S))
        for name in ("receptance", "key", "value", "gate", "output"):
            setattr(self, name, nn.Linear(C, C, bias=False))
        self.ln_x = nn.GroupNorm(H, C, eps=cfg.group_norm_eps)

    def lowrank(self, name: str, x: Tensor) -> Tensor:
        """x @ the low-rank matrix ``name`` (time_maa_w2: per branch, a batched product). The one
        place these products happen, so that a reference that rounds them as the runtime's fast
        path does (tests/runtime/test_rt_fast.py) can replace it."""
        return x @ getattr(self, name)

    def token_shift(self, x: Tensor, x_prev: Tensor) -> dict[str, Tensor]:
        """The five data-dependent mixes z_b (B, T, C), by branch name."""
        B, T, C = x.shape
        d = shifted(x, x_prev) - x
        q = torch.tanh(self.lowrank("time_maa_w1", x + d * self.time_maa_x))   # (B, T, 5 D)
        q = q.view(B * T, len(MIX_BRANCHES), -1).transpose(0, 1)                # (5, B T, D)
        m = self.lowrank("time_maa_w2", q).view(len(MIX_BRANCHES), B, T, C)     # per branch
        return {b: x + d * (getattr(self, f"time_maa_{b}") + m[i]) for i, b in enumerate(MIX_BRANCHES)}

    def forward(self, x: Tensor, x_prev: Tensor, S: Tensor, v_first=None):
        """x (B, T, C) -> (out (B, T, C), S after the chunk, v_first unchanged)."""
        z = self.token_shift(x, x_prev)
        r, k, v = self.receptance(z["r"]), self.key(z["k"]), self.value(z["v"])
        g = F.silu(self.gate(z["g"]))
        w = self.time_decay + self.lowrank("time_decay_w2", torch.tanh(self.lowrank("time_decay_w1", z["w"])))
        w = torch.exp(-torch.exp(w))
        n = self.head_size
        y, S = scan(lambda S, r, k, v, w: wkv5_step(S, r, k, v, w, self.time_faaaa), S,
                    heads(r, n), heads(k, n), heads(v, n), heads(w, n))
        return gated_group_norm_out(self, y, g), S, v_first


class ChannelMix6(GatedChannelMix):
    def __init__(self, cfg: ModelConfig, layer_id: int):
        super().__init__(cfg, ("time_maa_k", "time_maa_r"))

    def forward(self, x: Tensor, x_prev: Tensor) -> Tensor:
        d = shifted(x, x_prev) - x
        return self.gated(x + d * self.time_maa_k, x + d * self.time_maa_r)


class RWKV6(MatrixStateModel):
    """RWKV-6 language model (see the module doc for the equations)."""

    ARCH = "rwkv6"
    TimeMix = TimeMix6
    ChannelMix = ChannelMix6
    State = KeyValueState
    RANDOM_RANGES = {
        **{f"time_maa_{b}": (0.0, 1.0) for b in "x" + MIX_BRANCHES},
        "time_decay": (-5.0, 0.5),   # plus the LoRA's ±~0.5: w in about (0.1, 0.995)
        "time_faaaa": (-1.0, 1.0),
    }
    LORA_SCALES = {"time_maa_w1": 1.0, "time_maa_w2": 0.3, "time_decay_w1": 1.0, "time_decay_w2": 0.5}
