"""A chunked-parallel WKV for training: the same function as ``reference.wkv.wkv_scan``, fast in torch.

``wkv_scan`` runs the recurrence token by token, so autograd records ~20 tiny ops per token and
layer, and backward through a 256-token window takes seconds. Here the recurrence is evaluated in
chunks of ``L`` tokens:

* inside a chunk, the weight of entry i in row tau is e^{-(tau-1-i)w} · e^{k_i - kmax}: one
  (L+1, L) decay matrix per channel times the chunk's scaled values -- a batched matmul;
* across chunks, a state triple (a, b, p) -- the sums of the entries seen so far, scaled by e^-p --
  is carried by a loop over the T / L chunk summaries.

Mediums are a second sequence of the same kind, indexed by completed segment and decayed by wm:
the medium state after n folds is the same "exclusive decayed sum" with n in place of t, so the
same routine gives all of them, and each token gathers the one for the folds completed before it.

Exponents are kept <= 0 by subtracting maxima, which are detached: they cancel analytically, so
the gradients are exact. The arithmetic is float64 by default (cheap: everything here is
O(B·T·C·L), against O(B·T·C²) for the projections), which keeps the factorised form exact for
key spreads up to ``MAX_SPREAD``; wider chunks fall back to a row-wise-max form. Autocast is
disabled inside. The returned state is ``wkv_scan``'s state in max-trick form; its (a, b, p)
need not be bit-identical, (a·e^p, b·e^p) is the same.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..reference.wkv import WkvState, segment_end_offsets

DEFAULT_CHUNK = 16
# widest key spread (max - min within a chunk, per channel) of the fast path: e^-MAX_SPREAD stays far
# from the underflow (float64: e^-708, float32: e^-87), leaving room for the decay factors
MAX_SPREAD = {torch.float64: 200.0, torch.float32: 30.0}


def _merge(p1: Tensor, a1: Tensor, b1: Tensor, p2: Tensor, a2: Tensor, b2: Tensor):
    """Sum of two max-trick triples."""
    q = torch.maximum(p1, p2).detach()
    e1, e2 = torch.exp(p1 - q), torch.exp(p2 - q)
    return q, e1 * a1 + e2 * a2, e1 * b1 + e2 * b2


def exclusive_states(k: Tensor, v: Tensor, w: Tensor, a0: Tensor, b0: Tensor, p0: Tensor,
                     chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor, Tensor]:
    """States S_n for n = 0..N of the decayed sums over entries i < n.

    S_n holds the entries {-(n-1-i)w + k_i : i < n} plus the carried state (a0, b0, p0) decayed by
    n·w -- exactly the (aa, bb, pp) a token at offset n sees before its own entry. k, v: (B, N, C);
    w: (C,); a0, b0, p0: (B, C). Returns (a, b, p), each (B, N+1, C), in max-trick form.

    Inside a chunk the weight of entry i in row tau factorises as e^{-(tau-1-i)w} · e^{k_i - kmax}
    (kmax: the chunk's largest key per channel), so every row of a chunk is one small matrix
    product per channel with the (L+1, L, C) decay matrix. That is exact as long as no key is so
    far below kmax that e^{k_i - kmax} underflows; chunks with a wider key spread than
    ``MAX_SPREAD`` go through :func:`exclusive_states_exact` instead.
    """
    B, N, C = k.shape
    L = max(1, min(chunk, N + 1))
    n_chunks = -(-(N + 1) // L)
    kc, vc = _pad_chunks(k, v, n_chunks, L)
    kmax = kc.amax(dim=2, keepdim=True).detach()                      # (B, n, 1, C)
    if N and bool((kmax - kc.amin(dim=2, keepdim=True) > MAX_SPREAD.get(k.dtype, 10.0)).any()):
        return exclusive_states_exact(k, v, w, a0, b0, p0, chunk)
    x = torch.exp(kc - kmax)
    tau = torch.arange(L + 1, device=k.device)
    idx = torch.arange(L, device=k.device)
    lag = (tau[:, None] - 1 - idx[None, :]).clamp(min=0).to(k.dtype)  # (L+1, L)
    D = torch.exp(-lag[:, :, None] * w)                                 # (L+1, L, C)
    D = torch.where((idx[None, :] < tau[:, None])[:, :, None], D, D.new_zeros(()))
    ai, bi = _decay_matmul(D, x * vc), _decay_matmul(D, x)              # (B, n, L+1, C)
    # row L of each chunk is its summary: the state after the whole chunk, without the carry
    starts = [(p0, a0, b0)]
    for c in range(n_chunks - 1):
        p, a, b = starts[-1]
        starts.append(_merge(p - L * w, a, b, kmax[:, c, 0], ai[:, c, L], bi[:, c, L]))
    pc, ac, bc = (torch.stack(z, dim=1)[:, :, None] for z in zip(*starts))  # (B, n, 1, C)
    lc = pc - idx.to(k.dtype).reshape(1, 1, L, 1) * w                  # carry decayed by tau·w
    p, a, b = _merge(lc, ac, bc, kmax, ai[:, :, :L], bi[:, :, :L])
    flat = lambda z: z.reshape(B, n_chunks * L, C)[:, : N + 1]  # noqa: E731
    return flat(a), flat(b), flat(p)


def _decay_matmul(D: Tensor, x: Tensor) -> Tensor:
    """out[b, n, t, c] = sum_i D[t, i, c] x[b, n, i, c], as one batched matmul over channels."""
    B, n, L, C = x.shape
    xc = x.permute(3, 2, 0, 1).reshape(C, L, B * n)                      # (C, L, B·n)
    out = torch.bmm(D.permute(2, 0, 1).contiguous(), xc.contiguous())   # (C, L+1, B·n)
    return out.reshape(C, -1, B, n).permute(2, 3, 1, 0)


def _pad_chunks(k: Tensor, v: Tensor, n_chunks: int, L: int) -> tuple[Tensor, Tensor]:
    """(B, N, C) -> (B, n_chunks, L, C), zero-padded: entries past N are seen only by dropped rows."""
    B, N, C = k.shape
    pad = n_chunks * L - N
    if pad:
        k = torch.cat([k, k.new_zeros(B, pad, C)], dim=1)
        v = torch.cat([v, v.new_zeros(B, pad, C)], dim=1)
    return k.reshape(B, n_chunks, L, C), v.reshape(B, n_chunks, L, C)


def exclusive_states_exact(k: Tensor, v: Tensor, w: Tensor, a0: Tensor, b0: Tensor, p0: Tensor,
                           chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`exclusive_states` with a row-wise maximum: stable for any keys, but it materialises
    a (B, n_chunks, L, L, C) tensor, so it is several times slower."""
    B, N, C = k.shape
    L = max(1, min(chunk, N + 1))
    n_chunks = -(-(N + 1) // L)
    k, v = _pad_chunks(k, v, n_chunks, L)
    idx = torch.arange(L, device=k.device)
    w_ = w.reshape(1, 1, 1, C)

    # 1. chunk summaries without carry: entries -(L-1-i)w + k_i of every chunk
    ls = k - (L - 1 - idx).to(k.dtype).reshape(1, 1, L, 1) * w_
    ps = ls.amax(dim=2).detach()
    es = torch.exp(ls - ps[:, :, None])
    as_, bs = (es * v).sum(dim=2), es.sum(dim=2)

    # 2. carried state at each chunk start (sequential over chunks: n_chunks small steps)
    starts = [(p0, a0, b0)]
    for c in range(n_chunks - 1):
        p, a, b = starts[-1]
        starts.append(_merge(p - L * w, a, b, ps[:, c], as_[:, c], bs[:, c]))
    pc, ac, bc = (torch.stack(z, dim=1) for z in zip(*starts))   # (B, n_chunks, C)

    # 3. every output: in-chunk entries i < tau, plus the carry decayed by tau·w
    lag = (idx[:, None] - 1 - idx[None, :]).to(k.dtype)                  # (L, L): tau-1-i
    li = k[:, :, None, :, :] - lag.reshape(1, 1, L, L, 1) * w_.unsqueeze(2)
    visible = (idx[None, :] < idx[:, None]).reshape(1, 1, L, L, 1)
    li = torch.where(visible, li, torch.tensor(float("-inf"), dtype=k.dtype, device=k.device))
    lc = pc[:, :, None, :] - idx.to(k.dtype).reshape(1, 1, L, 1) * w_   # (B, n_chunks, L, C)
    m = torch.maximum(li.amax(dim=3), lc).detach()
    ei = torch.exp(li - m.unsqueeze(3))
    ecar = torch.exp(lc - m)
    a = (ei * v[:, :, None, :, :]).sum(dim=3) + ecar * ac[:, :, None]
    b = ei.sum(dim=3) + ecar * bc[:, :, None]
    flat = lambda x: x.reshape(B, n_chunks * L, C)[:, : N + 1]  # noqa: E731
    return flat(a), flat(b), flat(m)


def wkv_chunked(w: Tensor, u: Tensor, k: Tensor, v: Tensor,
                wm: Optional[Tensor], bm: Optional[Tensor], km_seq: Optional[Tensor], vm_seq: Optional[Tensor],
                state: WkvState, pos: int = 0, s: int = 1, chunk: int = DEFAULT_CHUNK,
                compute_dtype: torch.dtype = torch.float64) -> tuple[Tensor, WkvState]:
    """Drop-in replacement of ``reference.wkv.wkv_scan`` (same arguments, same results).

    ``wkv`` comes back in k's dtype (float32 at least), the state in the state's dtype.
    """
    out_dtype = torch.promote_types(k.dtype, torch.float32)
    with torch.autocast(k.device.type, enabled=False):
        dt = torch.promote_types(compute_dtype, k.dtype)
        f = lambda x: None if x is None else x.to(dt)  # noqa: E731
        wkv, new = _wkv(*map(f, (w, u, k, v, wm, bm, km_seq, vm_seq)), WkvState(*map(f, state)), pos, s, chunk)
    return wkv.to(out_dtype), WkvState(*(x.to(state.aa.dtype) for x in new))


def _wkv(w, u, k, v, wm, bm, km_seq, vm_seq, st: WkvState, pos: int, s: int, chunk: int):
    B, T, C = k.shape
    ends = segment_end_offsets(pos, T, s) if wm is not None else []
    n_med = 0 if km_seq is None else km_seq.shape[1]
    if n_med != len(ends):
        raise ValueError(f"wkv_chunked: {n_med} mediums given but {len(ends)} segments end in the chunk "
                         f"(pos={pos}, T={T}, s={s})")
    if T == 0:
        return k.new_zeros(B, 0, C), st
    a, b, p = exclusive_states(k, v, w, st.aa, st.bb, st.pp, chunk)
    # each output: the token state before t, the current token with its bonus u, the mediums
    bonus = u + k
    q = torch.maximum(p[:, :T], bonus)
    if wm is not None:
        if n_med:
            ma, mb, mp = exclusive_states(bm + km_seq, vm_seq, wm, st.ma, st.mb, st.mp, chunk)
        else:
            ma, mb, mp = st.ma[:, None], st.mb[:, None], st.mp[:, None]
        # folds completed before t (a fold at offset e is first seen at e + 1)
        ends_t = torch.tensor(ends, dtype=torch.long, device=k.device)
        n_before = torch.searchsorted(ends_t, torch.arange(T, device=k.device))
        gma, gmb, gmp = ma[:, n_before], mb[:, n_before], mp[:, n_before]
        q = torch.maximum(q, gmp)
    q = q.detach()
    e1, e2 = torch.exp(p[:, :T] - q), torch.exp(bonus - q)
    num, den = e1 * a[:, :T] + e2 * v, e1 * b[:, :T] + e2
    if wm is not None:
        e3 = torch.exp(gmp - q)
        num, den = num + e3 * gma, den + e3 * gmb
        new_m = (ma[:, -1], mb[:, -1], mp[:, -1])
    else:
        new_m = (st.ma, st.mb, st.mp)
    return num / den, WkvState(a[:, T], b[:, T], p[:, T], *new_m)
