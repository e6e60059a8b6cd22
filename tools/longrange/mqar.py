"""Multi-query associative recall (MQAR) batches, after the recipe of Zoology (Arora et al. 2023).

One example of length L with N key-value pairs:

* positions 0 .. 2N-1: k_0 v_0 k_1 v_1 ... with N distinct keys from [1, V/2) and N distinct
  values from [V/2, V) (disjoint halves of the vocabulary; token 0 is the filler);
* the rest is filler 0 except that every key is queried once, at position 2N + 2*g_i where the
  gaps g_i are N distinct draws from 0 .. (L-2N)/2 - 1 with P(g) ∝ (g+1)^(a-1), a = 0.01 (a power
  law: most queries come soon after the pairs, a long tail far away);
* the target at a query position is the queried key's value; no other position has a target.

Sampling without replacement with weights is done with the Gumbel-top-k trick, which has the
distribution of successive weighted draws (what numpy's ``choice(replace=False, p=...)`` does).
Batches are generated on the fly from a seeded generator, so a run needs no data set on disk.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

POWER_A = 0.01
FILLER = 0


@dataclass(frozen=True)
class MqarTask:
    seq_len: int
    num_pairs: int
    vocab_size: int = 8192
    power_a: float = POWER_A

    def __post_init__(self):
        L, N, V = self.seq_len, self.num_pairs, self.vocab_size
        if L % 2 or L < 4 * N or N < 1:
            raise ValueError(f"MQAR needs an even seq_len >= 4 * num_pairs and num_pairs >= 1, got seq_len={L}, "
                             f"num_pairs={N}")
        if V // 2 - 1 < N:
            raise ValueError(f"vocab_size {V} has only {V // 2 - 1} keys for {N} pairs; use a larger vocab")

    @property
    def space(self) -> int:
        """Number of possible query slots after the pairs."""
        return (self.seq_len - 2 * self.num_pairs) // 2

    def gap_log_weights(self) -> np.ndarray:
        g = np.arange(1, self.space + 1, dtype=np.float64)
        return (self.power_a - 1) * np.log(g)


def _distinct(rng: np.random.Generator, batch: int, n: int, lo: int, hi: int) -> np.ndarray:
    """(batch, n) distinct integers from [lo, hi) per row, uniformly."""
    scores = rng.random((batch, hi - lo))
    return np.argpartition(scores, n - 1, axis=1)[:, :n] + lo


def _weighted_distinct(rng: np.random.Generator, batch: int, n: int, log_w: np.ndarray) -> np.ndarray:
    """(batch, n) distinct indices into log_w per row, drawn in order without replacement (Gumbel top-k)."""
    keys = log_w[None, :] + rng.gumbel(size=(batch, log_w.shape[0]))
    top = np.argpartition(-keys, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def make_batch(task: MqarTask, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch: tokens (B, L) int64, answer positions (B, N) int64 and answer tokens (B, N) int64."""
    L, N, V = task.seq_len, task.num_pairs, task.vocab_size
    keys = _distinct(rng, batch, N, 1, V // 2)
    values = _distinct(rng, batch, N, V // 2, V)
    gaps = _weighted_distinct(rng, batch, N, task.gap_log_weights())
    tokens = np.full((batch, L), FILLER, dtype=np.int64)
    tokens[:, 0:2 * N:2] = keys
    tokens[:, 1:2 * N:2] = values
    where = 2 * N + 2 * gaps
    np.put_along_axis(tokens, where, keys, axis=1)
    return tokens, where.astype(np.int64), values.astype(np.int64)


def batch_rng(seed: int, stream: str, index: int) -> np.random.Generator:
    """Independent generator per (run seed, stream name, batch index): resumable and order-free."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), index])
