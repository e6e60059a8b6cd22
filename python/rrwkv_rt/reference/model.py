"""PyTorch reference model of RWKV-4 and RRWKV, exactly as docs/RRWKV.md.

Three independent ways to run the same model, which the tests hold against each other:

* :meth:`RWKV.forward`: production form (§6): projections as matmuls over (B, T), the WKV as a
  scan through the pluggable ``wkv_impl``; chunked with a carried :class:`State`.
* :meth:`RWKV.step`: the recurrent step of §5, one token at a time, in the order of the spec.
* :meth:`RWKV.forward_definitional`: the O(T²) definitional form of §6, from position 0.

Parameter names and shapes are those of the official BlinkDL checkpoints (``spec.checkpoint_spec``).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..arch import infer_config
from .init import init_weights
from .shell import Block, ModelShell
from .state import State
from .wkv import WkvState, wkv_definitional, wkv_scan, wkv_step

WKV_FIELDS = WkvState._fields


def _mix(x: Tensor, xp: Tensor, mu: Tensor) -> Tensor:
    """Token shift mix μ⊙x + (1-μ)⊙xp, in the operand order of the official package.

    μ is stored (1, 1, C); flattened so that it broadcasts over (B, C) as well as (B, T, C).
    """
    mu = mu.reshape(-1)
    return x * mu + xp * (1 - mu)


def _shift(x: Tensor, prev: Tensor) -> Tensor:
    """(B, T, C) -> the previous position's input at every t, ``prev`` (B, C) before the chunk."""
    return torch.cat([prev[:, None], x[:, :-1]], dim=1)


def _is_segment_end(pos: int, s: int) -> bool:
    return (pos + 1) % s == 0


def segment_means(x: Tensor, carry: Tensor, pos: int, s: int) -> tuple[Tensor, Tensor]:
    """Mediums of the segments that complete inside a chunk.

    x: (B, T, C) inputs at absolute positions pos .. pos+T-1; carry: (B, C) sum of the inputs of the
    current segment seen before the chunk. Returns the (B, J, C) means of the J segments that end
    in the chunk, in order, and the new carry (sum of the trailing partial segment).
    """
    B, T, C = x.shape
    first = (s - 1 - pos) % s  # chunk-local index of the first segment end
    if first >= T:
        return x.new_zeros(B, 0, C), carry + x.sum(dim=1)
    head = carry + x[:, : first + 1].sum(dim=1)  # the segment that started before the chunk
    rest = x[:, first + 1:]
    J = rest.shape[1] // s
    body = rest[:, : J * s].reshape(B, J, s, C).sum(dim=2)
    sums = torch.cat([head[:, None], body], dim=1)
    return sums / s, rest[:, J * s:].sum(dim=1)


def _complete_segment_means(x: Tensor, s: int) -> Tensor:
    """Definitional squeeze from position 0: reshape-mean over the complete segments."""
    B, T, C = x.shape
    J = T // s
    return x[:, : J * s].reshape(B, J, s, C).mean(dim=2)


class TimeMix(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C = cfg.n_embd
        self.cfg = cfg
        self.time_mix_k = nn.Parameter(torch.zeros(1, 1, C))
        self.time_mix_v = nn.Parameter(torch.zeros(1, 1, C))
        self.time_mix_r = nn.Parameter(torch.zeros(1, 1, C))
        self.time_decay = nn.Parameter(torch.zeros(C))
        self.time_first = nn.Parameter(torch.zeros(C))
        if cfg.is_rrwkv:
            self.time_decay_m = nn.Parameter(torch.zeros(C))
            self.time_first_m = nn.Parameter(torch.zeros(C))
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)

    def _kvr(self, x: Tensor, xp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        k = self.key(_mix(x, xp, self.time_mix_k))
        v = self.value(_mix(x, xp, self.time_mix_v))
        r = torch.sigmoid(self.receptance(_mix(x, xp, self.time_mix_r)))
        return k, v, r

    def _medium_params(self) -> tuple[Optional[Tensor], Optional[Tensor]]:
        if not self.cfg.is_rrwkv:
            return None, None
        return torch.exp(self.time_decay_m), self.time_first_m

    def forward_seq(self, x: Tensor, st: dict, pos: int, wkv_impl) -> tuple[Tensor, dict]:
        s = self.cfg.medium_interval
        k, v, r = self._kvr(x, _shift(x, st["att_x"]))
        wm, bm = self._medium_params()
        upd = {"att_x": x[:, -1]}
        km = vm = None
        if self.cfg.is_rrwkv:
            means, upd["att_seg"] = segment_means(x, st["att_seg"], pos, s)
            km, vm = self.key(means), self.value(means)  # mediums: no token shift
        wst = WkvState(*(st[n] for n in WKV_FIELDS))
        wkv, wst = wkv_impl(torch.exp(self.time_decay), self.time_first, k, v, wm, bm, km, vm, wst, pos, s)
        upd.update(wst._asdict())
        return self.output(r * wkv), upd

    def forward_step(self, x: Tensor, st: dict, pos: int) -> tuple[Tensor, dict]:
        s = self.cfg.medium_interval
        k, v, r = self._kvr(x, st["att_x"])
        wm, bm = self._medium_params()
        upd = {"att_x": x}
        km = vm = None
        if self.cfg.is_rrwkv:
            seg = st["att_seg"] + x
            if _is_segment_end(pos, s):  # fold after the output: first seen at pos + 1
                m = seg / s
                km, vm = self.key(m), self.value(m)
                seg = torch.zeros_like(seg)
            upd["att_seg"] = seg
        wst = WkvState(*(st[n] for n in WKV_FIELDS))
        wkv, wst = wkv_step(torch.exp(self.time_decay), self.time_first, k, v, wst, wm, bm, km, vm)
        upd.update(wst._asdict())
        return self.output(r * wkv), upd

    def forward_definitional(self, x: Tensor) -> Tensor:
        s = self.cfg.medium_interval
        k, v, r = self._kvr(x, _shift(x, torch.zeros_like(x[:, 0])))
        wm, bm = self._medium_params()
        km = vm = None
        if self.cfg.is_rrwkv:
            M = _complete_segment_means(x, s)
            km, vm = self.key(M), self.value(M)
        wkv = wkv_definitional(torch.exp(self.time_decay), self.time_first, k, v, wm, bm, km, vm, s)
        return self.output(r * wkv)


class ChannelMix(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, F = cfg.n_embd, cfg.ffn_dim
        self.cfg = cfg
        self.time_mix_k = nn.Parameter(torch.zeros(1, 1, C))
        self.time_mix_r = nn.Parameter(torch.zeros(1, 1, C))
        if self.add_mode:
            self.medium_mix_k = nn.Parameter(torch.zeros(1, 1, C))
            self.medium_mix_r = nn.Parameter(torch.zeros(1, 1, C))
        self.key = nn.Linear(C, F, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(F, C, bias=False)

    @property
    def add_mode(self) -> bool:
        return self.cfg.is_rrwkv and self.cfg.cm_mode == "add"

    @property
    def uses_token_shift(self) -> bool:
        """RWKV-4 and `add` mode shift in the previous token; `replace` uses only the medium."""
        return not self.cfg.is_rrwkv or self.add_mode

    def _out(self, y: Tensor, yp: Optional[Tensor], c: Optional[Tensor]) -> Tensor:
        """§1/§4: yp is the previous token's input, c the latest visible medium."""
        if not self.cfg.is_rrwkv:
            yk, yr = _mix(y, yp, self.time_mix_k), _mix(y, yp, self.time_mix_r)
        elif self.cfg.cm_mode == "replace":
            yk, yr = _mix(y, c, self.time_mix_k), _mix(y, c, self.time_mix_r)
        else:  # add: RWKV-4's mix plus η⊙(c - y); with η = 0 this is RWKV-4 bit for bit
            yk = _mix(y, yp, self.time_mix_k) + self.medium_mix_k.reshape(-1) * (c - y)
            yr = _mix(y, yp, self.time_mix_r) + self.medium_mix_r.reshape(-1) * (c - y)
        return torch.sigmoid(self.receptance(yr)) * self.value(torch.relu(self.key(yk)) ** 2)

    def forward_seq(self, y: Tensor, st: dict, pos: int) -> tuple[Tensor, dict]:
        s = self.cfg.medium_interval
        upd, yp, c = {}, None, None
        if self.uses_token_shift:
            yp = _shift(y, st["ffn_x"])
            upd["ffn_x"] = y[:, -1]
        if self.cfg.is_rrwkv:
            means, upd["ffn_seg"] = segment_means(y, st["ffn_seg"], pos, s)
            meds = torch.cat([st["ffn_med"][:, None], means], dim=1)  # (B, J+1, C)
            t = torch.arange(y.shape[1], device=y.device)
            c = meds[:, (pos + t) // s - pos // s]  # index = mediums completed in the chunk before t
            upd["ffn_med"] = meds[:, -1]
        return self._out(y, yp, c), upd

    def forward_step(self, y: Tensor, st: dict, pos: int) -> tuple[Tensor, dict]:
        s = self.cfg.medium_interval
        out = self._out(y, st["ffn_x"], st["ffn_med"])
        upd = {}
        if self.uses_token_shift:
            upd["ffn_x"] = y
        if self.cfg.is_rrwkv:
            seg = st["ffn_seg"] + y
            if _is_segment_end(pos, s):
                upd["ffn_med"] = seg / s
                seg = torch.zeros_like(seg)
            upd["ffn_seg"] = seg
        return out, upd

    def forward_definitional(self, y: Tensor) -> Tensor:
        s = self.cfg.medium_interval
        yp = _shift(y, torch.zeros_like(y[:, 0]))
        c = None
        if self.cfg.is_rrwkv:
            n = _complete_segment_means(y, s)
            n0 = torch.cat([n.new_zeros(n.shape[0], 1, n.shape[2]), n], dim=1)  # n0[G] = n_{G-1}, n0[0] = 0
            c = n0[:, torch.arange(y.shape[1], device=y.device) // s]
        return self._out(y, yp, c)


class RWKV(ModelShell):
    """RWKV-4 / RRWKV language model; ``state_dict()`` is exactly ``spec.checkpoint_spec(cfg)``.

    The WKV scan of :meth:`forward` goes through ``wkv_impl`` (signature of ``wkv.wkv_scan``):
    assign ``RWKV.wkv_impl = staticmethod(f)`` to swap it for every model, or
    ``model.wkv_impl = f`` for one model.
    """

    wkv_impl = staticmethod(wkv_scan)
    State = State

    def __init__(self, cfg: ModelConfig, dtype: torch.dtype = torch.float32, init: Optional[str] = "paper",
                 seed: int = 0):
        super().__init__()
        if cfg.has_matrix_state:
            raise ValueError(f"RWKV is the RWKV-4 / RRWKV model; a {cfg.arch} config needs "
                             f"rrwkv_rt.reference.MODEL_CLASSES[{cfg.arch!r}]")
        blocks = (Block(cfg, i, lambda c, _: TimeMix(c), lambda c, _: ChannelMix(c)) for i in range(cfg.n_layer))
        self._build(cfg, blocks)
        if init is not None:
            init_weights(self, seed, scheme=init)
        self.to(dtype)

    def _check_state(self, state: State, batch: int) -> None:
        want = (self.cfg.n_layer, batch, self.cfg.n_embd)
        if tuple(state.att_x.shape) != want:
            raise ValueError(f"state has shape {tuple(state.att_x.shape)}, expected (n_layer, B, C) = {want}")

    def forward(self, tokens: Tensor, state: Optional[State] = None, return_state: bool = False):
        """tokens (B, T) -> logits (B, T, V) [, new State]. ``state`` is not modified."""
        B, T = tokens.shape
        if state is None:
            state = self.initial_state(B)
        self._check_state(state, B)
        if T == 0:
            return self._no_tokens(B, state, return_state)
        pos = state.pos
        x = self._embed(tokens)
        layers = []
        for i, blk in enumerate(self.blocks):
            st = state.layer(i)
            out, upd = blk.att.forward_seq(blk.ln1(x), st, pos, self.wkv_impl)
            x = x + out
            st = {**st, **upd}
            out, upd = blk.ffn.forward_seq(blk.ln2(x), st, pos)
            x = x + out
            layers.append({**st, **upd})
        logits = self._logits(x)
        if return_state:
            return logits, State.from_layers(layers, pos + T)
        return logits

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """One token per sequence, the recurrent step of §5: tokens (B,) -> logits (B, V), new State.

        ``state`` is not modified; ``pos`` advances once, after all layers.
        """
        self._check_state(state, tokens.shape[0])
        pos = state.pos
        x = self._embed(tokens)
        layers = []
        for i, blk in enumerate(self.blocks):
            st = state.layer(i)
            out, upd = blk.att.forward_step(blk.ln1(x), st, pos)
            x = x + out
            st = {**st, **upd}
            out, upd = blk.ffn.forward_step(blk.ln2(x), st, pos)
            x = x + out
            layers.append({**st, **upd})
        return self._logits(x), State.from_layers(layers, pos + 1)

    def forward_definitional(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> logits (B, T, V) by the O(T²) definitional form of §6 (from reset)."""
        x = self._embed(tokens)
        for blk in self.blocks:
            x = x + blk.att.forward_definitional(blk.ln1(x))
            x = x + blk.ffn.forward_definitional(blk.ln2(x))
        return self._logits(x)

    @classmethod
    def from_state_dict(cls, sd: dict, medium_interval: Optional[int] = None, cm_mode: Optional[str] = None,
                        arch: str = "auto", dtype: torch.dtype = torch.float32) -> "RWKV":
        """Build a model from an official-layout state dict (config inferred from the shapes).

        Raises ValueError listing every missing, mis-shaped, unexpected or non-float tensor at once.
        Tensors of any float dtype are converted to ``dtype``.
        """
        problems, shapes = cls._shapes(sd)
        cfg = infer_config(shapes, arch=arch, medium_interval=medium_interval, cm_mode=cm_mode)
        if cfg.has_matrix_state:
            raise ValueError(f"this is an {cfg.arch} state dict; RWKV loads RWKV-4 / RRWKV ones: use "
                             "rrwkv_rt.reference.from_state_dict, which picks the model of the arch")
        return cls._load(sd, cfg, problems, shapes, dtype)


def random_model(cfg: ModelConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> RWKV:
    """An ``RWKV`` with every parameter random (scheme "random"): for comparing implementations."""
    return RWKV(cfg, dtype=dtype, init="random", seed=seed)
