"""Helpers of the checkpoint-source tests (imported by name: pytest puts this folder on sys.path):
random official-layout checkpoints, exporting them, and comparing the runtime with the official
`rwkv` package's outputs (tests/reference/official_runner.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))

import rrwkv_rt  # noqa: E402
from matrix_helpers import MIN_LOGIT_STD, random_model, run_official_on, tokens  # noqa: E402,F401

TOL = 1e-4  # max |Δlogit| against the package, float32


def official_sd(cfg, seed: int = 0) -> dict:
    """A random official-layout state dict of ``cfg`` (the reference model's, float32)."""
    return {k: v.detach().clone().contiguous() for k, v in random_model(cfg, seed=seed).state_dict().items()}


def runtime_outputs(path, toks: list[int], initial_state=None) -> tuple[np.ndarray, np.ndarray]:
    """(token-by-token logits, sequence-mode logits) of the exported model, from a fresh session."""
    s = rrwkv_rt.Session(str(path), threads=1, initial_state=initial_state)
    stepped = np.stack([s.step(t) for t in toks])
    s.reset()
    seq = s.forward(toks, all_logits=True)
    return stepped, seq


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def assert_matches_official(path, toks: list[int], out: dict, initial_state=None) -> None:
    """The runtime, stepping and in sequence mode, against the package's one-token, full_output and
    two-chunk runs (each within TOL), with logits that are not ~constant."""
    stepped, seq = runtime_outputs(path, toks, initial_state)
    assert seq.std() > MIN_LOGIT_STD and out["seq"].std().item() > MIN_LOGIT_STD, "logits are ~constant"
    for name in ("step", "seq", "chunked"):
        theirs = out[name].numpy()
        assert max_abs(stepped, theirs) <= TOL, (name, max_abs(stepped, theirs))
        assert max_abs(seq, theirs) <= TOL, (name, max_abs(seq, theirs))


def save(sd: dict, path) -> str:
    torch.save(sd, path)
    return str(path)


def add_deep_embed(sd: dict, cfg, seed: int, R: int = 32) -> dict:
    """Adds RWKV-7 DeepEmbed tensors (ffn.s_emb, s_emb_x, s1, s2, s0 per layer) to `sd`, at scales
    that keep the channel-mix modulation s2·t + s0 of order one; returns `sd`."""
    g = torch.Generator().manual_seed(100 + seed)
    C, F, V = cfg.n_embd, cfg.ffn_dim, cfg.vocab_size
    for i in range(cfg.n_layer):
        f = f"blocks.{i}.ffn."
        sd[f + "s_emb.weight"] = torch.randn(V, R * R, generator=g) * 0.5
        sd[f + "s_emb_x.weight"] = torch.randn(R * R, C, generator=g) / C ** 0.5
        sd[f + "s1"] = torch.randn(C, R, generator=g) / C ** 0.5
        sd[f + "s2"] = torch.randn(R, F, generator=g) * 0.05
        sd[f + "s0"] = torch.empty(1, 1, F).uniform_(0.5, 1.5, generator=g)
    return sd
