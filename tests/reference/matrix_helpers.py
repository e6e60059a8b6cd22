"""Helpers shared by the RWKV-5.2/6/7 reference tests (imported by name: pytest puts this folder on
sys.path): random official-layout checkpoints and the official `rwkv` package run on them."""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from rrwkv_rt.config import ModelConfig
from rrwkv_rt.reference import MODEL_CLASSES

TOL = 1e-4            # max |Δlogit| against the package, float32
N_TOKENS = 70
SPLIT = 30            # where the package's chunked run splits the sequence
MIN_LOGIT_STD = 0.3   # a model that outputs ~0 must not pass
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "official_runner.py")

# Random-init models of every arch in several shapes: head sizes 64 and 32, odd low-rank sizes,
# 1 to 4 layers, C 64 and 128, a non-default ffn width.
CASES = {
    "rwkv5": {
        "L1-C64-h64": ModelConfig("rwkv5", 1, 64, 97, head_size=64),
        "L3-C64-h32": ModelConfig("rwkv5", 3, 64, 150, head_size=32, ffn_dim=160),
        "L4-C128-h32": ModelConfig("rwkv5", 4, 128, 211, head_size=32),
    },
    "rwkv6": {
        "L1-C64-h64-m7-d13": ModelConfig("rwkv6", 1, 64, 97, head_size=64, lora_mix=7, lora_decay=13),
        "L2-C64-h32-m13-d7": ModelConfig("rwkv6", 2, 64, 150, head_size=32, lora_mix=13, lora_decay=7,
                                         ffn_dim=160),
        "L4-C128-h64-m5-d9": ModelConfig("rwkv6", 4, 128, 211, head_size=64, lora_mix=5, lora_decay=9),
    },
    "rwkv7": {
        "L1-C64-h64": ModelConfig("rwkv7", 1, 64, 97, head_size=64, lora_decay=7, lora_a=13, lora_v=5,
                                  lora_gate=11),
        "L2-C64-h32": ModelConfig("rwkv7", 2, 64, 150, head_size=32, lora_decay=13, lora_a=7, lora_v=9,
                                  lora_gate=3, ffn_dim=224),
        "L4-C128-h64": ModelConfig("rwkv7", 4, 128, 211, head_size=64, lora_decay=9, lora_a=13, lora_v=7,
                                   lora_gate=17),
    },
}


def random_model(cfg: ModelConfig, seed: int = 0, dtype=torch.float32):
    return MODEL_CLASSES[cfg.arch](cfg, dtype=dtype, seed=seed).eval()


def tokens(vocab: int, n: int = N_TOKENS, seed: int = 0) -> list[int]:
    return torch.randint(0, vocab, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


@contextlib.contextmanager
def one_thread():
    """Tiny per-token loops run far faster on one thread (and the CI machine has two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def package_key_order(sd: dict) -> dict:
    """The state dict with every ``ln_x`` tensor first. The package tells 5.2 from 5.0 by the shape
    of att.time_decay, but looks at that shape only after it has met an ``ln_x`` key; in RWKV-LM's
    key order block 0's time_decay precedes its ln_x, so a one-layer RWKV-5.2 checkpoint in that
    order is misread (n_head never set). Key order means nothing to us or to torch."""
    first = [k for k in sd if ".ln_x." in k]
    return {k: sd[k] for k in first + [k for k in sd if k not in first]}


def run_official(arch: str, models: dict, toks: dict, tmp_dir) -> dict:
    """Save each model's state dict as .pth and run the package on it in one subprocess.

    models, toks: case id -> model / token list. Returns case id -> the runner's outputs.
    """
    sds = {case: {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
           for case, model in models.items()}
    return run_official_on(arch, sds, toks, tmp_dir)


def run_official_on(arch: str, state_dicts: dict, toks: dict, tmp_dir, time_states: dict | None = None,
                    deep_embed: bool = False) -> dict:
    """The package run on official-layout state dicts (case id -> dict of tensors), each saved as
    .pth; ``time_states`` (case id -> dict of blocks.N.att.time_state) start the runs from those
    states; ``deep_embed`` sets RWKV_DE_VERSION=1. Returns case id -> the runner's outputs."""
    if importlib.util.find_spec("rwkv") is None:
        pytest.skip("the official rwkv package is not installed")
    jobs = []
    for case, sd in state_dicts.items():
        path = os.path.join(tmp_dir, f"{case}.pth")
        torch.save(package_key_order(sd), path)
        job = {"model": path, "tokens": toks[case], "split": SPLIT, "out": path + ".out.pt"}
        if time_states and case in time_states:
            job["time_state"] = os.path.join(tmp_dir, f"{case}.time_state.pth")
            torch.save(time_states[case], job["time_state"])
        jobs.append(job)
    jobs_path = os.path.join(tmp_dir, "jobs.json")
    with open(jobs_path, "w") as f:
        json.dump(jobs, f)
    env = dict(os.environ, RWKV_V7_ON="1" if arch == "rwkv7" else "0", OMP_NUM_THREADS="1")
    env["RWKV_DE_VERSION"] = "1" if deep_embed else "0"
    proc = subprocess.run([sys.executable, RUNNER, jobs_path], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"the official package failed on {arch}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {case: torch.load(job["out"]) for case, job in zip(state_dicts, jobs)}


def official_state_as_ours(state: list, n_layer: int) -> dict:
    """The package's state list (att_x, wkv, ffn_x per layer) -> ours, stacked as (L, 1, ...)."""
    return {name: torch.stack([state[3 * i + j] for i in range(n_layer)])[:, None]
            for j, name in enumerate(("att_x", "wkv", "ffn_x"))}


def max_abs_diff(a, b) -> float:
    return (a - b).abs().max().item() if a.numel() else 0.0


@torch.no_grad()
def check_against_official(model, toks: list, out: dict) -> dict:
    """Our float32 model, token by token and as a sequence, against the package's one-token path,
    its full_output sequence path and its two-chunk run; also the final states. Returns the max
    |Δ| of each comparison (after asserting each is <= TOL)."""
    with one_thread():
        seq, seq_state = model(torch.tensor([toks]), return_state=True)
        state, steps = model.initial_state(1), []
        for tok in toks:
            logits, state = model.step(torch.tensor([tok]), state)
            steps.append(logits[0])
    seq, steps = seq[0], torch.stack(steps)
    assert out["seq"].shape == seq.shape == (len(toks), model.cfg.vocab_size)
    assert out["seq"].std().item() > MIN_LOGIT_STD and seq.std().item() > MIN_LOGIT_STD, "logits are ~constant"
    dev = {
        "step vs package one-token": max_abs_diff(steps, out["step"]),
        "sequence vs package full_output": max_abs_diff(seq, out["seq"]),
        "sequence vs package two chunks": max_abs_diff(seq, out["chunked"]),
        "step vs package full_output": max_abs_diff(steps, out["seq"]),
    }
    for what, theirs in (("step", out["step_state"]), ("sequence", out["seq_state"])):
        mine = state if what == "step" else seq_state
        for name, t in official_state_as_ours(theirs, model.cfg.n_layer).items():
            ours = getattr(mine, name)
            assert ours.shape == t.shape, (name, ours.shape, t.shape)
            # the matrix state grows to O(10): compare relative to its scale
            dev[f"{what} state {name} (rel)"] = max_abs_diff(ours, t) / max(1.0, t.abs().max().item())
    bad = {k: v for k, v in dev.items() if not v <= TOL}
    assert not bad, f"deviations from the official package above {TOL}: {bad}"
    return dev
