"""Model variants for the experiments, as subclasses of the reference model (nothing in the library changes).

A :class:`Variant` says where mediums go and what the channel-mix is:

* ``arch="rwkv4"``: plain RWKV-4. ``arch="rrwkv"`` with ``mediums``: ``"both"`` (the spec's RRWKV),
  ``"tm"`` (mediums in time-mix only, RWKV-4 channel-mix) or ``"cm"`` (channel-mix only, RWKV-4 time-mix);
* ``ffn``: ``"full"`` (the block's channel-mix), ``"identity"`` (Zoology's "no MLP" block: its state
  mixer is ``nn.Identity`` on the LayerNorm'd residual, so the block adds ln2(x)), ``"none"`` (skipped);
* ``squeeze``: ``"mean"`` (the spec) or ``"last"`` (the medium is the segment's last input: no
  summary, a strided sample), an ablation of the squeeze;
* ``init``: ``"paper"`` (the library's §7 scheme) or ``"zoology"`` (every Linear/Embedding weight
  normal(0, 0.02) as Zoology's model does, time parameters as the paper scheme); ``tie`` ties the
  head to the embedding (Zoology does); ``emb_dropout`` is Zoology's dropout on the embeddings.

With ``mediums="both"``, ``ffn="full"``, ``squeeze="mean"``, ``init="paper"``, ``tie=False``,
``emb_dropout=0`` a variant computes exactly the library's RWKV (tested).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Optional

import torch
from torch import Tensor, nn

from rrwkv_rt.config import ModelConfig
from rrwkv_rt.reference import RWKV, State, segment_means
from rrwkv_rt.reference.model import ChannelMix, TimeMix, WKV_FIELDS, _shift
from rrwkv_rt.reference.wkv import WkvState

MEDIUMS = ("both", "tm", "cm")
FFNS = ("full", "identity", "none")
SQUEEZES = ("mean", "last")
INITS = ("paper", "zoology")


@dataclass(frozen=True)
class Variant:
    arch: str = "rwkv4"
    d: int = 64
    n_layer: int = 2
    vocab: int = 8192
    s: int = 1
    cm_mode: str = "replace"
    mediums: str = "both"
    ffn: str = "identity"
    squeeze: str = "mean"
    init: str = "zoology"
    tie: bool = True
    emb_dropout: float = 0.1

    def __post_init__(self):
        if self.arch == "rwkv4":  # normalise what RWKV-4 ignores, so equal models compare equal
            object.__setattr__(self, "s", 1)
            object.__setattr__(self, "cm_mode", "replace")
            object.__setattr__(self, "mediums", "both")
            object.__setattr__(self, "squeeze", "mean")
        for name, allowed in (("mediums", MEDIUMS), ("ffn", FFNS), ("squeeze", SQUEEZES), ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Variant.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.arch == "rrwkv" and self.ffn != "full" and self.mediums == "cm":
            raise ValueError("mediums='cm' needs ffn='full': without a channel-mix there is nowhere to put them")

    def model_config(self) -> ModelConfig:
        return ModelConfig(arch=self.arch, n_layer=self.n_layer, n_embd=self.d, vocab_size=self.vocab,
                           medium_interval=self.s, cm_mode=self.cm_mode)

    @property
    def name(self) -> str:
        if self.arch == "rwkv4":
            base = "rwkv4"
        else:
            base = f"rrwkv-s{self.s}"
            if self.ffn == "full":
                base += f"-{self.cm_mode}"
            if self.mediums != "both":
                base += f"-{self.mediums}only"
            if self.squeeze != "mean":
                base += f"-sq{self.squeeze}"
        return base + ("" if self.ffn == "identity" else f"+ffn{self.ffn}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **kw) -> "Variant":
        return replace(self, **kw)

    def state_fields(self) -> tuple[str, ...]:
        """The per-layer recurrent state fields this variant actually uses (docs/RRWKV.md §5)."""
        tm_med = self.arch == "rrwkv" and self.mediums in ("both", "tm")
        cm_med = self.arch == "rrwkv" and self.mediums in ("both", "cm") and self.ffn == "full"
        f = ["att_x", "aa", "bb", "pp"] + (["ma", "mb", "mp", "att_seg"] if tm_med else [])
        if self.ffn == "full":
            if not cm_med or self.cm_mode == "add":
                f.append("ffn_x")
            if cm_med:
                f += ["ffn_med", "ffn_seg"]
        return tuple(f)

    def state_bytes(self) -> int:
        """Bytes of recurrent state per sequence (f32 fields + the int64 position)."""
        return 4 * self.n_layer * self.d * len(self.state_fields()) + 8


def squeeze_last(x: Tensor, carry: Tensor, pos: int, s: int) -> tuple[Tensor, Tensor]:
    """Like ``segment_means`` but each medium is the input at its segment's last position."""
    T = x.shape[1]
    first = (s - 1 - pos) % s
    return x[:, first:T:s], torch.zeros_like(carry)


SQUEEZE_FNS = {"mean": segment_means, "last": squeeze_last}


class SqueezedTimeMix(TimeMix):
    """The library's TimeMix.forward_seq with a pluggable squeeze (same parameters)."""

    squeeze_fn = staticmethod(squeeze_last)

    def forward_seq(self, x, st, pos, wkv_impl):
        s = self.cfg.medium_interval
        k, v, r = self._kvr(x, _shift(x, st["att_x"]))
        wm, bm = self._medium_params()
        upd = {"att_x": x[:, -1]}
        means, upd["att_seg"] = self.squeeze_fn(x, st["att_seg"], pos, s)
        km, vm = self.key(means), self.value(means)
        wst = WkvState(*(st[n] for n in WKV_FIELDS))
        wkv, wst = wkv_impl(torch.exp(self.time_decay), self.time_first, k, v, wm, bm, km, vm, wst, pos, s)
        upd.update(wst._asdict())
        return self.output(r * wkv), upd


class SqueezedChannelMix(ChannelMix):
    """The library's ChannelMix.forward_seq with a pluggable squeeze (same parameters)."""

    squeeze_fn = staticmethod(squeeze_last)

    def forward_seq(self, y, st, pos):
        s = self.cfg.medium_interval
        upd, yp = {}, None
        if self.uses_token_shift:
            yp = _shift(y, st["ffn_x"])
            upd["ffn_x"] = y[:, -1]
        means, upd["ffn_seg"] = self.squeeze_fn(y, st["ffn_seg"], pos, s)
        meds = torch.cat([st["ffn_med"][:, None], means], dim=1)
        t = torch.arange(y.shape[1], device=y.device)
        c = meds[:, (pos + t) // s - pos // s]
        upd["ffn_med"] = meds[:, -1]
        return self._out(y, yp, c), upd


class IdentityMix(nn.Module):
    """Zoology's 'no MLP' state mixer: the block adds its LayerNorm'd input."""

    def forward_seq(self, y, st, pos):
        return y, {}


class NoMix(nn.Module):
    def forward_seq(self, y, st, pos):
        return torch.zeros_like(y), {}


def _swap(module: nn.Module, cls, cfg: ModelConfig) -> nn.Module:
    new = cls(cfg)
    new.load_state_dict(module.state_dict())
    return new


class LongRangeModel(RWKV):
    """The reference RWKV with a :class:`Variant`'s changes; adds :meth:`features` for sparse heads."""

    def __init__(self, variant: Variant, seed: int = 0):
        cfg = variant.model_config()
        super().__init__(cfg, init="paper", seed=seed)
        self.variant = variant
        cfg4 = cfg.with_(arch="rwkv4")
        plain = RWKV(cfg4, init="paper", seed=seed) if variant.arch == "rrwkv" else None  # same values by name
        for i, blk in enumerate(self.blocks):
            if variant.arch == "rrwkv" and variant.mediums == "cm":
                blk.att = plain.blocks[i].att
            if variant.arch == "rrwkv" and variant.mediums == "tm" and variant.ffn == "full":
                blk.ffn = plain.blocks[i].ffn
            if variant.arch == "rrwkv" and variant.squeeze == "last":
                if variant.mediums in ("both", "tm"):
                    blk.att = _swap(blk.att, SqueezedTimeMix, cfg)
                if variant.mediums in ("both", "cm") and variant.ffn == "full":
                    blk.ffn = _swap(blk.ffn, SqueezedChannelMix, cfg)
            if variant.ffn == "identity":
                blk.ffn = IdentityMix()
            elif variant.ffn == "none":
                blk.ffn = NoMix()
        if variant.init == "zoology":
            gen = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, (nn.Linear, nn.Embedding)):
                        m.weight.normal_(0.0, 0.02, generator=gen)
        if variant.tie:
            self.head.weight = self.emb.weight
        self.emb_drop = nn.Dropout(variant.emb_dropout)

    def _embed(self, tokens: Tensor) -> Tensor:
        return self.emb_drop(self.blocks[0].ln0(self.emb(tokens)))

    def features(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) from the initial state -> ln_out(x) (B, T, C): the head's input."""
        B, T = tokens.shape
        state = self.initial_state(B)
        x = self._embed(tokens)
        for i, blk in enumerate(self.blocks):
            st = state.layer(i)
            out, upd = blk.att.forward_seq(blk.ln1(x), st, 0, self.wkv_impl)
            x = x + out
            out, _ = blk.ffn.forward_seq(blk.ln2(x), {**st, **upd}, 0)
            x = x + out
        return self.ln_out(x)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights count once
