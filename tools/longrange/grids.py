"""The experiment grids: each a list of runs, each run a (Variant, MqarTask, lr, seed, Budget).

``reduced`` is sized for 2 shared CPU cores in about 8 hours; ``full`` is the issue's grid at
Zoology's budget (64 epochs of 100k examples, Zoology's batch sizes), for a GPU.
"""
from __future__ import annotations

import numpy as np

from .mqar import MqarTask
from .train_mqar import Budget
from .variants import Variant

# Zoology figure 2 (and its 512 panel): number of key-value pairs per sequence length.
PAIRS = {64: 4, 128: 8, 256: 16, 512: 64, 1024: 64, 2048: 64}
PAPER_LRS = tuple(float(x) for x in np.logspace(-4, -2, 4))  # 1e-4, 4.6e-4, 2.2e-3, 1e-2
ZOOLOGY_BATCH = {64: 512, 128: 512, 256: 256, 512: 128, 1024: 64, 2048: 32}
ZOOLOGY_EXAMPLES = 64 * 100_000

# Published accuracies, read off the plots (the issue): Zoology fig. 2, 2-layer RWKV-4, best of 4 lrs.
PUBLISHED_RWKV4 = {
    64: {64: 0.74, 128: 0.93, 256: 0.95, 512: 0.97},
    128: {64: 0.18, 128: 0.50, 256: 0.74, 512: 0.90},
    256: {64: 0.06, 128: 0.07, 256: 0.66, 512: 0.78},
    512: {64: 0.02, 128: 0.03, 256: 0.16, 512: 0.37},
}


def task(seq_len: int, pairs: int | None = None) -> MqarTask:
    return MqarTask(seq_len, PAIRS[seq_len] if pairs is None else pairs)


def cpu_budget(seq_len: int, steps: int, eval_every: int = 0) -> Budget:
    return Budget(steps=steps, batch=64, eval_every=eval_every, eval_examples=1000)


def _runs(variants, seqs, ds, lrs, seeds, budget_of, pairs=None):
    """Seeds outermost: a grid cut short still has every model and lr at the first seeds."""
    out = []
    for L in seqs:
        for d in ds:
            for seed in seeds:
                for lr in lrs:
                    for v in variants:
                        out.append((v.with_(d=d), task(L, pairs), lr, seed, budget_of(L)))
    return out


def _cells(cells, variants, lrs, seeds, steps, eval_every=0):
    """Runs over explicit (seq_len, d) cells."""
    out = []
    for L, d in cells:
        out += _runs(variants, (L,), (d,), lrs, seeds, lambda L: cpu_budget(L, steps[L], eval_every))
    return out


def repro_grid() -> list:
    """RWKV-4 as in Zoology (2 layers, no MLP, tied embeddings) at a CPU budget, with learning curves
    (test accuracy every 500 steps): all 4 paper lrs at seq 64 / d 64, the two that learn at this
    budget (2.2e-3, 1e-2) at seq 64 / d 128 and seq 128 / d 64."""
    budget = {64: 3000, 128: 3000}
    rwkv4 = [Variant(arch="rwkv4")]
    return (_cells(((64, 64),), rwkv4, PAPER_LRS, (0,), budget, eval_every=500)
            + _cells(((64, 128),), rwkv4, PAPER_LRS[2:], (0,), budget, eval_every=500))


def repro128_grid() -> list:
    """The repro's seq 128 / d 64 cell (run later: it costs twice a seq 64 cell)."""
    return _cells(((128, 64),), [Variant(arch="rwkv4")], PAPER_LRS[2:], (0,), {128: 3000}, eval_every=500)


def repro_long_grid() -> list:
    """One RWKV-4 cell (seq 64, d 64) trained 5x longer: how far the CPU budget is from Zoology's."""
    return _cells(((64, 64),), [Variant(arch="rwkv4")], PAPER_LRS[3:], (0,), {64: 15000}, eval_every=1000)


# Steps per sequence length in the reduced grid (batch 64): fewer for long sequences, which cost
# more per step (recorded per run; every model of a cell gets the same budget).
REDUCED_STEPS = {64: 2000, 128: 1500, 256: 800, 512: 400, 1024: 200}
REDUCED_CELLS = ((64, 64), (64, 128))
REDUCED128_CELLS = ((128, 64),)
EXTENSION_CELLS = ((256, 64), (512, 64))
REDUCED_LRS = (PAPER_LRS[2], PAPER_LRS[3])


def reduced_grid() -> list:
    """No-MLP blocks (Zoology's setting, so mediums are in time-mix only): RWKV-4 vs RRWKV s=4, 16."""
    variants = [Variant(arch="rwkv4"), Variant(arch="rrwkv", s=4), Variant(arch="rrwkv", s=16)]
    return _cells(REDUCED_CELLS, variants, REDUCED_LRS, (0, 1, 2), REDUCED_STEPS)


def reduced_d64_grid() -> list:
    """The reduced grid's first cell (seq 64 / d 64): the core comparison, run before anything else."""
    return [r for r in reduced_grid() if r[0].d == 64 and r[1].seq_len == 64]


def reduced128_grid() -> list:
    """The reduced grid's seq 128 / 8 pairs cell at d 64 (run after the ablation and the LM)."""
    variants = [Variant(arch="rwkv4"), Variant(arch="rrwkv", s=4), Variant(arch="rrwkv", s=16)]
    return _cells(REDUCED128_CELLS, variants, REDUCED_LRS, (0, 1, 2), REDUCED_STEPS)


def extension_grid() -> list:
    """Longer sequences at d 64 (Zoology's 256 / 16 and 512 / 64), run last, if time allows."""
    variants = [Variant(arch="rwkv4"), Variant(arch="rrwkv", s=4), Variant(arch="rrwkv", s=16)]
    return _cells(EXTENSION_CELLS, variants, REDUCED_LRS, (0, 1, 2), REDUCED_STEPS)


def ablation_grid() -> list:
    """Full blocks (with channel-mix) at seq 64, d 64: where the mediums go, the cm modes, the squeeze.
    One lr, 1e-2: the lr at which RWKV-4 learned most in the reproduction."""
    base = Variant(arch="rrwkv", s=8, ffn="full")
    variants = [Variant(arch="rwkv4", ffn="full"),
                base.with_(mediums="tm"), base.with_(mediums="cm"), base.with_(mediums="cm", cm_mode="add"),
                base, base.with_(cm_mode="add"), base.with_(squeeze="last")]
    return _cells(((64, 64),), variants, (REDUCED_LRS[1],), (0, 1, 2), REDUCED_STEPS)


def full_grid() -> list:
    """The issue's grid at Zoology's budget: for a GPU."""
    variants = [Variant(arch="rwkv4")]
    for s in (4, 8, 16, 32):
        variants += [Variant(arch="rrwkv", s=s), Variant(arch="rrwkv", s=s, ffn="full"),
                     Variant(arch="rrwkv", s=s, ffn="full", cm_mode="add")]
    variants.append(Variant(arch="rwkv4", ffn="full"))
    return _runs(variants, (64, 128, 256, 512, 1024, 2048), (64, 128, 256, 512), PAPER_LRS, (0, 1, 2),
                 lambda L: Budget(steps=ZOOLOGY_EXAMPLES // ZOOLOGY_BATCH[L], batch=ZOOLOGY_BATCH[L],
                                  eval_every=100_000 // ZOOLOGY_BATCH[L], eval_examples=3000))


def smoke_grid() -> list:
    """A few steps of a tiny config (the test suite's smoke run)."""
    v = Variant(arch="rrwkv", d=16, vocab=64, s=4, ffn="full")
    b = Budget(steps=3, batch=4, eval_every=2, eval_examples=8)
    return [(v, MqarTask(16, 2, 64), 1e-3, 0, b), (Variant(arch="rwkv4", d=16, vocab=64), MqarTask(16, 2, 64), 1e-3, 0, b)]


GRIDS = {"repro": repro_grid, "repro_long": repro_long_grid, "reduced": reduced_grid, "ablation": ablation_grid, "extension": extension_grid,
         "reduced128": reduced128_grid, "reduced_d64": reduced_d64_grid, "repro128": repro128_grid, "full": full_grid,
         "smoke": smoke_grid}
