"""What every reference model (RWKV-4 / RRWKV and the matrix-state RWKV-5.2, 6, 7) has around
its blocks: ``emb``, the blocks (block 0 holds ``ln0``), ``ln_out`` and ``head``, in the official
checkpoints' names; its dtype and device; its initial state; and loading an official state dict
with every problem reported at once."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..arch import check_against_spec
from ..config import ModelConfig


class Block(nn.Module):
    """One block's norms (ln0 in block 0 only, ln1 before the time mix, ln2 before the channel mix)
    and its two mixes, built by ``time_mix(cfg, layer_id)`` and ``channel_mix(cfg, layer_id)``."""

    def __init__(self, cfg: ModelConfig, layer_id: int, time_mix, channel_mix):
        super().__init__()
        C, eps = cfg.n_embd, cfg.layer_norm_eps
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C, eps=eps)
        self.ln1 = nn.LayerNorm(C, eps=eps)
        self.ln2 = nn.LayerNorm(C, eps=eps)
        self.att = time_mix(cfg, layer_id)
        self.ffn = channel_mix(cfg, layer_id)


class ModelShell(nn.Module):
    """A subclass calls :meth:`_build` with its blocks and names its ``State`` class."""

    State: type

    def _build(self, cfg: ModelConfig, blocks) -> None:
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(blocks)
        self.ln_out = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.emb.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.emb.weight.device

    def initial_state(self, batch: int):
        return self.State.initial(self.cfg, batch, dtype=self.dtype, device=self.device)

    def _embed(self, tokens: Tensor) -> Tensor:
        return self.blocks[0].ln0(self.emb(tokens))

    def _logits(self, x: Tensor) -> Tensor:
        return self.head(self.ln_out(x))

    def _no_tokens(self, batch: int, state, return_state: bool):
        """forward() of a chunk of no tokens: (B, 0, V) logits [, a copy of the state]."""
        logits = torch.zeros(batch, 0, self.cfg.vocab_size, dtype=self.dtype, device=self.device)
        return (logits, state.clone()) if return_state else logits

    @staticmethod
    def _shapes(sd: dict) -> tuple[list[str], dict[str, tuple]]:
        """(problems, shapes) of a state dict's entries: each must be a tensor of a float dtype."""
        problems, shapes = [], {}
        for name, t in sd.items():
            if not isinstance(t, torch.Tensor):
                problems.append(f"entry {name!r} is a {type(t).__name__}, not a tensor")
                continue
            shapes[name] = tuple(t.shape)
            if not t.is_floating_point():
                problems.append(f"tensor {name!r} has dtype {t.dtype}, expected a float dtype")
        return problems, shapes

    @classmethod
    def _load(cls, sd: dict, cfg: ModelConfig, problems: list[str], shapes: dict, dtype: torch.dtype,
              optional=()):
        """A model of `cfg` with the weights of `sd`; ValueError listing every problem at once. The
        `optional` tensors are zeros where `sd` lacks them (or has them in another shape)."""
        problems = problems + check_against_spec(shapes, cfg, "state dict")
        model = cls(cfg, dtype=dtype, init=None)
        expected = model.state_dict()
        problems += [f"unexpected tensor {name!r}" for name in shapes if name not in expected]
        if problems:
            raise ValueError(f"state dict does not fit {cfg}:\n  - " + "\n  - ".join(problems))
        weights = {n: t.detach().to(dtype) for n, t in sd.items()}
        weights.update({n: torch.zeros_like(expected[n], dtype=dtype) for n in optional
                        if n not in shapes or shapes[n] != tuple(expected[n].shape)})
        model.load_state_dict(weights)
        return model
