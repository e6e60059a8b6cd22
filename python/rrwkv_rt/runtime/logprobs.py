"""Log-probabilities of drawn tokens: one definition for ``generate(logprobs=True)`` and the
server's ``logprobs`` / ``top_logprobs``.

A token's logprob is its log-probability in the distribution the sampler draws it from, before
the temperature and the top-p / top-k / min-p cuts: the log-softmax, in float64, of the logits
as the sampler sees them (after a ``logits_processor``, if any) with its bans, its logit bias,
the grammar's mask (``allowed``, if any) and its presence, frequency and repetition penalties
applied (``Sampler.adjust_logits``). It is taken before the token is accepted, so the
penalties are those the draw used. A banned or masked-out token has
probability 0: it has no logprob and is never among the top ones. Without bans, bias, mask and
penalties this is the model's own log-softmax of its logits.
"""
from __future__ import annotations

import numpy as np


def log_softmax(sampler, logits: np.ndarray, allowed=None) -> np.ndarray:
    """The logprob of every token (-inf for banned and masked-out ones), float64."""
    z = np.asarray(sampler.adjust_logits(logits, allowed), dtype=np.float64)
    finite = np.isfinite(z)
    zmax = z[finite].max()
    return z - (zmax + np.log(np.exp(z[finite] - zmax).sum()))


def token_logprob(sampler, logits: np.ndarray, token: int, top: int = 0,
                  allowed=None) -> tuple[float, list[tuple[int, float]]]:
    """(the logprob of `token`, the `top` most likely tokens as (id, logprob), best first);
    `allowed` is the mask the draw used (``Sampler.sample``'s), if any."""
    lp = log_softmax(sampler, logits, allowed)
    best: list[tuple[int, float]] = []
    if top:
        k = min(top, len(lp))
        ids = np.argpartition(-lp, k - 1)[:k]
        ids = ids[np.argsort(-lp[ids], kind="stable")]
        best = [(int(i), float(lp[i])) for i in ids if np.isfinite(lp[i])]
    return float(lp[token]), best
