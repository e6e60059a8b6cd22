"""The native Sampler: exact supports of top-k / top-p / min-p, the drawn distribution (chi-square
with a generous bound), greedy, seeds, parameter errors, and the penalties-with-decay logic
compared token for token with the `rwkv` package's PIPELINE.generate."""
from __future__ import annotations

import numpy as np
import pytest

from rrwkv_rt import Sampler, Tokenizer, _core

# A hand-built distribution with ties (0.1, 0.1) and (0.05, 0.05) and a long tail.
P = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.03, 0.01, 0.01])
LOGITS = np.log(P).astype(np.float32) + 1.25  # an offset: softmax must not care


def rwkv_probs(logits, temperature=1.0, top_p=0.85, top_k=0, min_p=0.0):  # the package's defaults
    """The rwkv package's sample_logits (numpy branch) as a probability vector, plus min-p."""
    probs = np.exp(logits - logits.max()).astype(np.float64)
    probs /= probs.sum()
    sorted_ids = np.argsort(probs, kind="stable")
    sorted_probs = probs[sorted_ids][::-1]
    cumulative = np.cumsum(sorted_probs)
    if top_p < 1.0:
        cutoff = float(sorted_probs[np.argmax(cumulative >= top_p)])
        probs[probs < cutoff] = 0
    if 0 < top_k < len(probs):
        keep = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:top_k]  # ties: lower id (ours)
        mask = np.zeros(len(probs), bool)
        mask[keep] = True
        probs[~mask] = 0
    if min_p > 0:
        probs[probs < min_p * probs.max()] = 0
    probs = probs ** (1.0 / temperature)
    return probs / probs.sum()


def draws(sampler, logits, n):
    return np.array([sampler.sample(logits) for _ in range(n)])


def chi_square_ok(counts, expected_p, n):
    """A loose goodness-of-fit check: chi2 below df + 8 sqrt(2 df) + 10 (p far below 1e-6)."""
    support = expected_p > 0
    exp = expected_p[support] * n
    chi2 = float(np.sum((counts[support] - exp) ** 2 / exp))
    df = max(int(support.sum()) - 1, 1)
    return chi2 < df + 8 * np.sqrt(2 * df) + 10, chi2


@pytest.mark.parametrize("opts, support", [
    (dict(), set(range(10))),
    (dict(top_k=3), {0, 1, 2}),
    (dict(top_k=1), {0}),
    (dict(top_k=4), {0, 1, 2, 3}),             # the tie at 0.1: the lower id stays
    (dict(top_p=0.6), {0, 1, 2}),              # 0.3, 0.5, 0.65 >= 0.6
    (dict(top_p=0.7), {0, 1, 2, 3, 4}),        # cutoff 0.1: both tied tokens stay (rwkv semantics)
    (dict(top_p=0.0), {0}),                    # only the most likely
    (dict(top_p=0.7, top_k=4), {0, 1, 2, 3}),
    (dict(min_p=0.4), {0, 1, 2}),              # p >= 0.12
    (dict(min_p=0.3), {0, 1, 2, 3, 4}),        # p >= 0.09
    (dict(top_p=0.88, min_p=0.2), {0, 1, 2, 3, 4}),
    (dict(temperature=0.5, top_p=0.6), {0, 1, 2}),  # the support is decided at temperature 1
    (dict(temperature=2.0, top_k=3), {0, 1, 2}),
])
def test_support_and_distribution(opts, support):
    n = 6000
    opts = {"top_p": 1.0, **opts}  # each case names what it truncates; top_p's default (0.85) is off here
    s = Sampler(10, seed=123, **opts)
    got = draws(s, LOGITS, n)
    expected = rwkv_probs(LOGITS, **opts)
    assert set(np.flatnonzero(expected)) == support, "the numpy model of rwkv's sample_logits disagrees"
    assert set(got.tolist()) == support  # exact: nothing outside, and every token of the support drawn
    ok, chi2 = chi_square_ok(np.bincount(got, minlength=10), expected, n)
    assert ok, f"chi2 {chi2:.1f} for {opts}: counts {np.bincount(got, minlength=10)}, expected {expected * n}"


def test_top_p_on_a_large_vocabulary():
    """A nucleus of hundreds of tokens (past the first sorted block), and a cutoff tied with
    every token: at a huge temperature the draw is near uniform over the support, so every
    member shows up and nothing else does."""
    V = 1200
    logits = np.linspace(0.0, 3.0, V).astype(np.float32)[::-1].copy()
    p = np.exp(logits.astype(np.float64) - 3.0)
    p /= p.sum()
    cum = np.cumsum(p)
    size = 700
    top_p = float((cum[size - 2] + cum[size - 1]) / 2)  # halfway: no rounding question
    s = Sampler(V, seed=3, top_p=top_p, temperature=1e4)
    assert set(draws(s, logits, 30 * size).tolist()) == set(range(size))
    flat = np.zeros(1000, np.float32)
    s = Sampler(1000, seed=4, top_p=0.1)  # the 100th token's probability ties with all others
    assert len(set(draws(s, flat, 20000).tolist())) == 1000


def test_rwkv_sample_logits_has_the_same_support():
    """The rwkv package's own sample_logits draws inside the support computed above."""
    torch = pytest.importorskip("torch")
    from rwkv.utils import PIPELINE
    pipe = PIPELINE.__new__(PIPELINE)
    np.random.seed(0)
    # (top_p 0.995, not 1: rwkv's float32 cumsum may never reach 1.0, which makes it greedy)
    for opts in (dict(top_p=0.7), dict(top_p=0.6), dict(top_p=0.995, top_k=3),
                 dict(top_p=0.7, top_k=4, temperature=0.7)):
        seen = {pipe.sample_logits(torch.tensor(LOGITS), **opts) for _ in range(400)}
        expected = set(np.flatnonzero(rwkv_probs(LOGITS, **opts)))
        if opts.get("top_k") == 4:
            expected |= {4}  # rwkv breaks the 0.1 tie by argsort order, we by the lower id
        assert seen <= expected and len(seen) >= len(expected) - 1, opts


def test_greedy_is_argmax_after_penalties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        logits = rng.normal(size=300).astype(np.float32)
        s = Sampler(300, temperature=0.0, seed=1)
        assert s.sample(logits) == int(np.argmax(logits))
    tie = np.zeros(50, np.float32)
    tie[[7, 9]] = 3.0
    assert Sampler(50, temperature=0).sample(tie) == 7  # ties: the lowest id
    s = Sampler(50, temperature=0, presence_penalty=1.0)
    s.accept(7)
    assert s.sample(tie) == 9  # the penalty applies before the argmax
    assert Sampler(50, temperature=0, banned_tokens=[7]).sample(tie) == 9


def test_seed_reproducibility():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=1000).astype(np.float32) * 2
    a = Sampler(1000, seed=42, top_p=0.95, temperature=0.9)
    b = Sampler(1000, seed=42, top_p=0.95, temperature=0.9)
    c = Sampler(1000, seed=43, top_p=0.95, temperature=0.9)
    da, db, dc = draws(a, logits, 200), draws(b, logits, 200), draws(c, logits, 200)
    assert np.array_equal(da, db) and not np.array_equal(da, dc)
    a.reset()
    assert np.array_equal(draws(a, logits, 200), da)
    assert a.seed == 42 and a.params["top_p"] == 0.95
    r = Sampler(1000)  # random seed, reported
    assert Sampler(1000, seed=r.seed).sample(logits) == r.sample(logits)


def test_special_logits():
    nan = np.full(6, np.nan, np.float32)
    nan[4] = 0.0
    assert {Sampler(6, seed=i).sample(nan) for i in range(20)} == {4}
    inf = np.zeros(6, np.float32)
    inf[[1, 3]] = np.inf
    assert {Sampler(6, seed=i).sample(inf) for i in range(40)} == {1, 3}
    with pytest.raises(ValueError, match="no token can be sampled"):
        Sampler(6, banned_tokens=range(6)).sample(np.zeros(6, np.float32))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        Sampler(6).sample(np.zeros(7, np.float32))
    # float64 logits are converted; a tiny temperature is greedy, not NaN
    assert Sampler(10, temperature=1e-300).sample(LOGITS.astype(np.float64)) == 0


@pytest.mark.parametrize("kw, msg", [
    (dict(temperature=-0.1), r"temperature must be a finite number >= 0"),
    (dict(temperature=float("nan")), r"temperature must be a finite number >= 0"),
    (dict(temperature=float("inf")), r"temperature must be a finite number >= 0"),
    (dict(top_p=1.5), r"top_p must be in \[0, 1\]"),
    (dict(top_p=-0.1), r"top_p must be in \[0, 1\]"),
    (dict(top_k=-1), r"top_k must be >= 0"),
    (dict(min_p=2.0), r"min_p must be in \[0, 1\]"),
    (dict(presence_penalty=float("inf")), r"presence_penalty .* must be a finite number"),
    (dict(frequency_penalty=float("nan")), r"frequency_penalty .* must be a finite number"),
    (dict(penalty_decay=1.5), r"penalty_decay .* must be in \[0, 1\]"),
    (dict(repetition_penalty=0.0), r"repetition_penalty must be a finite number > 0"),
    (dict(seed=-1), r"seed must be None or an integer in \[0, 2\*\*64\)"),
    (dict(seed=2**64), r"seed must be None or an integer in \[0, 2\*\*64\)"),
    (dict(occurrence_weights=np.ones(3)), r"expected one per token \(10\)"),
])
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Sampler(10, **kw)


def test_bad_tokens():
    with pytest.raises(IndexError, match=r"banned token 10 is outside the vocabulary: expected 0 <= token < 10"):
        Sampler(10, banned_tokens=[10])
    with pytest.raises(IndexError, match="stop token -1"):
        Sampler(10, stop_tokens=[-1])
    with pytest.raises(IndexError, match="accepted token 12"):
        Sampler(10).accept(12)
    with pytest.raises(TypeError):
        Sampler(10, banned_tokens="abc")
    s = Sampler(10, stop_tokens=[3])
    assert s.is_stop(3) and not s.is_stop(4) and not s.is_stop(99)


def test_occurrence_counts_decay():
    w = np.ones(10, np.float32)
    w[5] = 0.0
    s = Sampler(10, presence_penalty=0.5, frequency_penalty=0.25, penalty_decay=0.5, occurrence_weights=w)
    s.accept(1)
    s.accept(1)
    s.accept(5)  # weight 0: seen (pays the presence penalty) but not counted
    assert s.occurrence(1) == pytest.approx((1 * 0.5 + 1) * 0.5)
    assert s.occurrence(5) == 0.0 and s.seen(5) and not s.seen(2)
    adj = s.adjust_logits(np.zeros(10, np.float32))
    assert adj[1] == pytest.approx(-(0.5 + 0.75 * 0.25)) and adj[5] == -0.5 and adj[2] == 0.0
    s.reset()
    assert not s.seen(1) and np.all(s.adjust_logits(np.zeros(10, np.float32)) == 0)
    r = Sampler(4, repetition_penalty=2.0)
    r.accept(0)
    r.accept(1)
    assert r.adjust_logits(np.array([2.0, -2.0, 2.0, -2.0], np.float32)).tolist() == [1.0, -4.0, 2.0, -2.0]


def test_occurrence_weights_of_the_world_vocabulary():
    """The rwkv rule www = 0 if decode([t]) in ' \\t0123456789' applied to the World vocabulary."""
    tok = Tokenizer.world()
    w = _core._occurrence_weights(tok._t, 65536)
    ref = np.ones(65536, np.float32)
    for i in range(tok.vocab_size):
        try:
            text = tok.token_bytes(i).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text in " \t0123456789":
            ref[i] = 0.0
    assert np.array_equal(w, ref)
    assert w[0] == 0.0 and 0 < int((w == 0).sum()) < 100


class _FakeVocab:
    """decode() for the PIPELINE: ids 0..9 are digits, 10 a space, 11 a tab, 12 '' (www = 0)."""

    def encode(self, text):
        return [20, 21, 22]

    def decode(self, ids):
        return "".join("0123456789"[i] if i < 10 else " " if i == 10 else "\t" if i == 11 else "" if i == 12
                       else chr(0x41 + i % 26) for i in ids)


def test_penalties_match_rwkv_pipeline():
    """Token for token, PIPELINE.generate's penalised logits equal Sampler.adjust_logits (greedy
    picks in both, so the histories stay the same), digits / spaces / tabs adding 0 to counts."""
    torch = pytest.importorskip("torch")
    from rwkv.utils import PIPELINE, PIPELINE_ARGS
    V, steps = 40, 60
    rng = np.random.default_rng(5)
    table = (rng.normal(size=(steps + 1, V)) * 1.5).astype(np.float32)
    table[:, :14] += 2.0  # the weight-0 tokens are likely, so they repeat

    class FakeModel:
        i = 0

        def forward(self, tokens, state):
            out = torch.tensor(table[self.i])
            self.i += 1
            return out, state

    recorded = []

    def greedy(logits, temperature=1.0, top_p=0.85, top_k=0):
        recorded.append(logits.numpy().copy())
        return int(torch.argmax(logits))

    pipe = PIPELINE.__new__(PIPELINE)
    pipe.model, pipe.tokenizer = FakeModel(), _FakeVocab()
    pipe.sample_logits = greedy
    args = PIPELINE_ARGS(temperature=1.0, top_p=0.5, alpha_presence=0.4, alpha_frequency=0.3, alpha_decay=0.93,
                         token_ban=[3, 17], token_stop=[])
    pipe.generate("x", token_count=steps, args=args)

    weights = np.array([0.0 if _FakeVocab().decode([i]) in " \t0123456789" else 1.0 for i in range(V)],
                       np.float32)
    s = Sampler(V, temperature=0, presence_penalty=0.4, frequency_penalty=0.3, penalty_decay=0.93,
                banned_tokens=[3, 17], occurrence_weights=weights)
    repeats = 0
    for i in range(steps):
        adj = s.adjust_logits(table[i])
        np.testing.assert_array_equal(adj, recorded[i], err_msg=f"step {i}")
        t = s.sample(table[i])
        assert t == int(np.argmax(recorded[i])), f"step {i}"
        repeats += s.seen(t)
        s.accept(t)
    assert repeats > 10  # the penalties were exercised on repeated tokens


def test_sampling_is_fast_enough_on_a_world_vocabulary():
    """Not a timing assertion: a smoke test that 65536-token sampling with top-p runs (and
    reports nothing odd) many times."""
    logits = np.random.default_rng(0).normal(size=65536).astype(np.float32) * 3
    s = Sampler(65536, seed=0, top_p=0.9, top_k=0, presence_penalty=0.1, frequency_penalty=0.1)
    for _ in range(50):
        s.accept(s.sample(logits))
    assert 0 <= s.sample(logits) < 65536


def test_defaults_agree_with_generate_and_the_rwkv_package():
    """One set of defaults: Sampler, Session.generate and the CLI (top_p 0.85, as the rwkv
    package's PIPELINE_ARGS; penalties 0, where PIPELINE_ARGS has 0.2: docs/GENERATION.md)."""
    import inspect
    from rrwkv_rt import Session
    from rrwkv_rt.cli import build_parser
    sampler = Sampler(10).params
    gen = {k: v.default for k, v in inspect.signature(Session.generate).parameters.items()}
    cli = vars(build_parser().parse_args(["generate", "--prompt", "x"]))
    for name in ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "penalty_decay",
                 "repetition_penalty"):
        assert sampler[name] == gen[name] == cli[name], name
    pipeline = pytest.importorskip("rwkv.utils").PIPELINE_ARGS()
    assert (sampler["temperature"], sampler["top_p"], sampler["top_k"], sampler["penalty_decay"]) == \
        (pipeline.temperature, pipeline.top_p, pipeline.top_k, pipeline.alpha_decay)


def test_logit_bias_is_added_to_the_logits():
    """A biased sampler draws what an unbiased one draws from logits + bias (same seed), the
    bias added before the penalties; adjust_logits shows it."""
    rng = np.random.default_rng(3)
    bias = {3: 2.5, 7: -100.0, 9: 0.75}
    a = Sampler(16, top_p=0.9, presence_penalty=0.4, seed=11, logit_bias=bias)
    b = Sampler(16, top_p=0.9, presence_penalty=0.4, seed=11)
    assert a.params["logit_bias"] == bias
    add = np.zeros(16, dtype=np.float32)
    for t, v in bias.items():
        add[t] = v
    for _ in range(200):
        logits = rng.normal(size=16).astype(np.float32)
        ta, tb = a.sample(logits), b.sample(logits + add)
        assert ta == tb
        a.accept(ta), b.accept(tb)
    np.testing.assert_array_equal(a.adjust_logits(logits), b.adjust_logits(logits + add))
    with pytest.raises(ValueError, match="finite"):
        Sampler(16, logit_bias={1: float("nan")})
    with pytest.raises(IndexError):
        Sampler(16, logit_bias={16: 1.0})


def test_a_mask_is_a_ban_for_one_draw():
    """sample(logits, allowed) draws what a sampler banning the masked-out tokens draws (same
    seed); a mask in the wrong shape or of another type is refused, one of nothing raises."""
    rng = np.random.default_rng(4)
    V = 70  # three mask words, the last one partly used
    allowed_ids = rng.choice(V, 9, replace=False)
    mask = np.zeros(3, dtype=np.int32)  # llguidance's type; uint32 works too
    for t in allowed_ids:
        mask[t // 32] |= np.int32(np.uint32(1 << (t % 32)).view(np.int32))
    masked = Sampler(V, top_p=0.95, seed=2)
    banned = Sampler(V, top_p=0.95, seed=2, banned_tokens=[t for t in range(V) if t not in allowed_ids])
    for _ in range(200):
        logits = rng.normal(size=V).astype(np.float32)
        t = masked.sample(logits, mask)
        assert t == banned.sample(logits) and t in allowed_ids
        masked.accept(t), banned.accept(t)
    assert masked.sample(logits, mask.view(np.uint32)) == banned.sample(logits)
    np.testing.assert_array_equal(masked.adjust_logits(logits, mask), banned.adjust_logits(logits))
    for bad in (np.zeros(2, dtype=np.int32), np.zeros(3, dtype=np.int64), np.zeros((1, 3), dtype=np.int32), [1, 2, 3]):
        with pytest.raises((ValueError, TypeError), match="allowed"):
            masked.sample(logits, bad)
    with pytest.raises(ValueError, match="masked out"):
        masked.sample(logits, np.zeros(3, dtype=np.int32))
