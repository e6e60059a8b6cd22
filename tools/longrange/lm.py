"""Language modelling on long real documents: loss by position, RWKV-4 vs RRWKV at equal budget.

Corpus: this Python's standard library sources, split by file as the training tool does
(rrwkv_rt.train.data: sorted files, every 50th file is validation, a NUL byte before each file),
bytes as tokens. Training windows of ``ctx`` bytes at random offsets of the training stream, each
from the initial state. Evaluation: every validation file is cut into consecutive windows of
``eval_len`` bytes (the first starts with the file's NUL); each window runs from the initial state
and its per-byte losses are averaged in position buckets. ``eval_len`` is twice ``ctx``, so the
last bucket measures positions the model never trained on.

If mediums help with long-range context, the late buckets should gain more than the early ones.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, asdict

import numpy as np
import torch
import torch.nn.functional as F

from rrwkv_rt.autograd import use_kernels
from rrwkv_rt.train.data import SEPARATOR, list_files

from .runner import append_record, finished_keys
from .variants import LongRangeModel, Variant

LN2 = math.log(2)


@dataclass(frozen=True)
class LmSetup:
    steps: int
    batch: int
    ctx: int
    eval_len: int
    lr: float = 2e-3
    warmup: int = 50
    grad_clip: float = 1.0
    val_every: int = 50
    max_files: int = 0          # 0: every file (the smoke run takes a few)
    buckets: tuple = (0, 16, 64, 256, 1024, 2048)

    def to_dict(self) -> dict:
        return asdict(self)


def load_corpus(val_every: int, max_files: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(training stream, list of validation files), each file as uint8 bytes preceded by NUL."""
    root, rels = list_files("stdlib")
    if max_files:
        rels = rels[:max_files]
    train, val = [], []
    for i, rel in enumerate(rels):
        with open(os.path.join(root, rel), "rb") as f:
            data = np.frombuffer(bytes([SEPARATOR]) + f.read(), dtype=np.uint8)
        (val if i % val_every == val_every - 1 else train).append(data)
    return np.concatenate(train), val


def eval_windows(val: list[np.ndarray], length: int) -> np.ndarray:
    """Consecutive full windows of ``length + 1`` bytes (inputs and next-byte targets) of every file."""
    wins = [doc[i:i + length + 1] for doc in val for i in range(0, len(doc) - length, length)]
    return np.stack(wins).astype(np.int64)


@torch.no_grad()
def position_losses(model: LongRangeModel, windows: np.ndarray, batch: int = 8) -> np.ndarray:
    """(n_windows, eval_len) per-byte losses in nats."""
    model.eval()
    out = []
    for i in range(0, len(windows), batch):
        w = torch.from_numpy(windows[i:i + batch])
        logits = model.head(model.features(w[:, :-1]))
        out.append(F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none").numpy())
    model.train()
    return np.concatenate(out)


def bucket_means(losses: np.ndarray, edges) -> np.ndarray:
    """(n_windows, n_buckets) mean loss per window and position bucket [edges[i], edges[i+1])."""
    return np.stack([losses[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)


def train_lm(variant: Variant, setup: LmSetup, seed: int, train: np.ndarray, windows: np.ndarray, log=None) -> dict:
    torch.manual_seed(seed)
    model = use_kernels(LongRangeModel(variant, seed=seed))
    decay = [p for n, p in model.named_parameters() if n.endswith(".weight") and p.dim() == 2 and n != "emb.weight"]
    rest = [p for n, p in model.named_parameters() if not (n.endswith(".weight") and p.dim() == 2 and n != "emb.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=setup.lr, betas=(0.9, 0.99))

    def lr_at(k):
        if k < setup.warmup:
            return (k + 1) / setup.warmup
        t = (k - setup.warmup) / max(1, setup.steps - setup.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    rng = np.random.default_rng([seed, 7])
    train_s, losses = 0.0, []
    for step in range(setup.steps):
        t0 = time.perf_counter()
        starts = rng.integers(0, len(train) - setup.ctx - 1, size=setup.batch)
        w = torch.from_numpy(np.stack([train[s:s + setup.ctx + 1] for s in starts]).astype(np.int64))
        logits = model.head(model.features(w[:, :-1]))
        loss = F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), setup.grad_clip)
        opt.step()
        sched.step()
        train_s += time.perf_counter() - t0
        losses.append(loss.item())
        if log and (step + 1) % max(1, setup.steps // 10) == 0:
            log(f"  step {step + 1}/{setup.steps} loss {np.mean(losses[-50:]) / LN2:.3f} bits/byte "
                f"{(step + 1) * setup.batch * setup.ctx / train_s:,.0f} tok/s")
    per_pos = position_losses(model, windows)
    per_window = bucket_means(per_pos, setup.buckets) / LN2  # bits/byte
    return {
        "variant": variant.to_dict(), "model": variant.name, "seed": seed, "setup": setup.to_dict(),
        "n_params": model.n_params(), "state_bytes": variant.state_bytes(), "train_s": train_s,
        "train_tokens_per_s": setup.steps * setup.batch * setup.ctx / max(train_s, 1e-9),
        "train_bits_last": float(np.mean(losses[-50:]) / LN2), "n_windows": int(len(windows)),
        "bucket_bits": per_window.mean(axis=0).tolist(),
        "bucket_se": (per_window.std(axis=0, ddof=1) / math.sqrt(len(per_window))).tolist()
        if len(per_window) > 1 else [0.0] * per_window.shape[1],
        "window_bucket_bits": per_window.round(5).tolist(),
        "eval_bits": float(per_pos.mean() / LN2), "threads": torch.get_num_threads(),
    }


LM_BASE = Variant(arch="rwkv4", d=128, n_layer=2, vocab=256, ffn="full", init="paper", tie=False, emb_dropout=0.0)
LM_GRIDS = {
    "reduced": (LmSetup(steps=1000, batch=8, ctx=1024, eval_len=2048),
                [LM_BASE, LM_BASE.with_(arch="rrwkv", s=16), LM_BASE.with_(arch="rrwkv", s=64)], (0,)),
    "smoke": (LmSetup(steps=3, batch=2, ctx=32, eval_len=64, max_files=8, val_every=4, buckets=(0, 16, 32, 64)),
              [LM_BASE.with_(d=16), LM_BASE.with_(d=16, arch="rrwkv", s=4)], (0,)),
}


def run_lm(grid: str, out: str, log=print, workdir=None) -> int:
    if grid not in LM_GRIDS:
        raise ValueError(f"unknown LM grid {grid!r}; expected one of {sorted(LM_GRIDS)}")
    setup, variants, seeds = LM_GRIDS[grid]
    done = finished_keys(out)
    todo = []
    for v in variants:
        for seed in seeds:
            key = json.dumps({"lm": setup.to_dict(), "variant": v.to_dict(), "seed": seed}, sort_keys=True)
            if key not in done:
                todo.append((v, seed, key))
    log(f"lm {grid}: {len(variants) * len(seeds)} runs, {len(todo)} to go")
    if not todo:
        return 0
    train, val = load_corpus(setup.val_every, setup.max_files)
    windows = eval_windows(val, setup.eval_len)
    log(f"  corpus: {len(train):,} training bytes, {len(val)} validation files -> {len(windows)} windows of "
        f"{setup.eval_len}")
    for v, seed, key in todo:
        t0 = time.time()
        log(f"[lm] {v.name} d={v.d} seed={seed} steps={setup.steps}x{setup.batch}x{setup.ctx}")
        rec = train_lm(v, setup, seed, train, windows, log=log)
        rec.update(key=key, grid=grid, wall_s=time.time() - t0, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        append_record(out, rec)
        log("    bits/byte by position bucket: " + ", ".join(f"{b:.3f}" for b in rec["bucket_bits"]))
    return len(todo)
