"""The WKV recurrence of RWKV-4 / RRWKV (docs/RRWKV.md §1, §3, §5, §6) in plain torch.

This module is the one piece of the reference model that is meant to be swapped for the C++/CUDA
kernels: ``RWKV.wkv_impl`` calls :func:`wkv_scan` and nothing else of the recurrence.

Conventions shared by every function here:

* ``w`` is the *decay rate* ``exp(time_decay)`` (> 0); one token step multiplies by ``e^{-w}``.
  ``wm = exp(time_decay_m)`` likewise per completed segment. ``u`` = time_first, ``bm`` =
  time_first_m. All four are (C,).
* The state is a :class:`WkvState` of six (B, C) tensors in the max-trick form: the token sums
  ``aa, bb`` scaled by ``e^{-pp}`` and the medium sums ``ma, mb`` scaled by ``e^{-mp}``.
* ``wm is None`` means RWKV-4: no medium merge at all, the medium triple passes through untouched.

Everything is out of place, so it is differentiable with autograd.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

# Initial value of pp and mp: "minus infinity" that stays finite so that pp - w and exp(pp - q)
# never produce inf - inf. -1e38 fits float32 (max ~3.4e38) and is used for float64 too.
PP_INIT = -1e38


class WkvState(NamedTuple):
    aa: Tensor
    bb: Tensor
    pp: Tensor
    ma: Tensor
    mb: Tensor
    mp: Tensor


def initial_wkv_state(batch: int, channels: int, dtype=torch.float32, device=None) -> WkvState:
    zeros = lambda: torch.zeros(batch, channels, dtype=dtype, device=device)  # noqa: E731
    low = lambda: torch.full((batch, channels), PP_INIT, dtype=dtype, device=device)  # noqa: E731
    return WkvState(zeros(), zeros(), low(), zeros(), zeros(), low())


def wkv_step(w: Tensor, u: Tensor, k: Tensor, v: Tensor, st: WkvState,
             wm: Optional[Tensor] = None, bm: Optional[Tensor] = None,
             km: Optional[Tensor] = None, vm: Optional[Tensor] = None) -> tuple[Tensor, WkvState]:
    """One token, exactly in the order of §5. k, v: (B, C).

    ``km, vm`` (B, C) are given only when this token completes a segment: that medium is folded in
    *after* the output, so it is first seen by the next token.
    """
    # token part with the bonus u for the current token
    ww = u + k
    q = torch.maximum(st.pp, ww)
    e1 = torch.exp(st.pp - q)
    e2 = torch.exp(ww - q)
    a = e1 * st.aa + e2 * v
    b = e1 * st.bb + e2
    if wm is None:
        wkv = a / b
    else:
        # merge the medium sums: log-sum-exp of two differently scaled sums
        q2 = torch.maximum(q, st.mp)
        f1 = torch.exp(q - q2)
        f2 = torch.exp(st.mp - q2)
        wkv = (f1 * a + f2 * st.ma) / (f1 * b + f2 * st.mb)

    # token sums: decay by one step, add the current token (without bonus)
    ww = st.pp - w
    q = torch.maximum(ww, k)
    e1 = torch.exp(ww - q)
    e2 = torch.exp(k - q)
    aa, bb, pp = e1 * st.aa + e2 * v, e1 * st.bb + e2, q

    ma, mb, mp = st.ma, st.mb, st.mp
    if km is not None:
        # segment complete: decay the medium sums by one segment, add the new medium
        ell = bm + km
        ww = mp - wm
        q = torch.maximum(ww, ell)
        e1 = torch.exp(ww - q)
        e2 = torch.exp(ell - q)
        ma, mb, mp = e1 * ma + e2 * vm, e1 * mb + e2, q
    return wkv, WkvState(aa, bb, pp, ma, mb, mp)


def segment_end_offsets(pos: int, T: int, s: int) -> list[int]:
    """Chunk-local indices t in [0, T) whose absolute position pos + t completes a segment."""
    first = (s - 1 - pos) % s
    return list(range(first, T, s))


def wkv_scan(w: Tensor, u: Tensor, k: Tensor, v: Tensor,
             wm: Optional[Tensor], bm: Optional[Tensor], km_seq: Optional[Tensor], vm_seq: Optional[Tensor],
             state: WkvState, pos: int = 0, s: int = 1) -> tuple[Tensor, WkvState]:
    """WKV over a chunk: the production form of §6.

    Args:
      w, u: (C,) token decay rate exp(time_decay) and bonus time_first.
      k, v: (B, T, C) keys and values of the chunk.
      wm, bm: (C,) medium decay rate exp(time_decay_m) and bonus time_first_m; None for RWKV-4.
      km_seq, vm_seq: (B, J, C) keys/values of the J mediums completed *inside* this chunk, in
        order. The j-th is folded in after the j-th local t with (pos + t + 1) % s == 0.
        None (or J = 0) when no segment ends in the chunk.
      state: WkvState of (B, C) tensors before the chunk.
      pos: absolute position (tokens since reset) of k[:, 0]; s: medium interval.
    Returns:
      wkv (B, T, C) and the WkvState after the chunk.
    """
    T = k.shape[1]
    ends = segment_end_offsets(pos, T, s) if wm is not None else []
    n_med = 0 if km_seq is None else km_seq.shape[1]
    if n_med != len(ends):
        raise ValueError(f"wkv_scan: {n_med} mediums given but {len(ends)} segments end in the chunk "
                         f"(pos={pos}, T={T}, s={s})")
    fold_at = {t: j for j, t in enumerate(ends)}
    outs = []
    st = state
    for t in range(T):
        j = fold_at.get(t)
        km = vm = None
        if j is not None:
            km, vm = km_seq[:, j], vm_seq[:, j]
        out, st = wkv_step(w, u, k[:, t], v[:, t], st, wm, bm, km, vm)
        outs.append(out)
    wkv = torch.stack(outs, dim=1) if outs else k.new_zeros(k.shape)
    return wkv, st


def wkv_definitional(w: Tensor, u: Tensor, k: Tensor, v: Tensor,
                     wm: Optional[Tensor] = None, bm: Optional[Tensor] = None,
                     km: Optional[Tensor] = None, vm: Optional[Tensor] = None, s: int = 1) -> Tensor:
    """The O(T²) definitional WKV of §6, from position 0 and no state.

    For every t collect the entries {(-(t-1-i)w + k_i, v_i): i < t} ∪ {(u + k_t, v_t)} ∪
    {(bm - (G-1-j)wm + km_j, vm_j): j < G = t // s} and take the softmax-weighted mean of the values
    per channel. k, v: (B, T, C); km, vm: (B, T // s, C) (all complete segments) or None.
    """
    B, T, C = k.shape
    t = torch.arange(T, device=k.device)
    lag = (t[:, None] - 1 - t[None, :]).to(k.dtype)                      # (T, T): t-1-i
    tok = -lag[None, :, :, None] * w + k[:, None, :, :]                  # (B, T, T, C)
    bonus = (u + k)[:, :, None, :]                                       # (B, T, 1, C)
    before = (t[None, :] < t[:, None])[None, :, :, None]
    same = (t[None, :] == t[:, None])[None, :, :, None]
    neg_inf = torch.tensor(float("-inf"), dtype=k.dtype, device=k.device)
    logits = torch.where(before, tok, torch.where(same, bonus, neg_inf))
    values = v[:, None, :, :].expand(B, T, T, C)
    if wm is not None and km is not None and km.shape[1] > 0:
        J = km.shape[1]
        j = torch.arange(J, device=k.device)
        G = (t // s)[:, None]                                            # (T, 1)
        mlag = (G - 1 - j[None, :]).to(k.dtype)                          # (T, J): G-1-j
        med = bm - mlag[None, :, :, None] * wm + km[:, None, :, :]       # (B, T, J, C)
        visible = (j[None, :] < G)[None, :, :, None]
        logits = torch.cat([logits, torch.where(visible, med, neg_inf)], dim=2)
        values = torch.cat([values, vm[:, None, :, :].expand(B, T, J, C)], dim=2)
    weights = torch.softmax(logits, dim=2)
    return (weights * values).sum(dim=2)
