"""Shared fixtures of the reference-model tests (torch is imported lazily: see importorskip)."""
import pytest

# (arch, medium_interval, cm_mode) of every architecture variant the equivalence tests cover
VARIANTS = [("rwkv4", 1, "replace")] + [("rrwkv", s, cm) for s in (1, 3, 16) for cm in ("replace", "add")]
VARIANT_IDS = [f"{a}-s{s}-{cm}" for a, s, cm in VARIANTS]


@pytest.fixture
def make_model():
    """Factory: a random-init reference model of a small shape (float64 by default)."""
    torch = pytest.importorskip("torch")
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import random_model

    def make(arch="rrwkv", s=3, cm="replace", dtype=torch.float64, seed=0, n_layer=2, n_embd=16,
             vocab=50, ffn_dim=0):
        cfg = ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab, ffn_dim=ffn_dim,
                          medium_interval=s, cm_mode=cm)
        return random_model(cfg, seed=seed, dtype=dtype).eval()

    return make


@pytest.fixture
def make_tokens():
    """Factory: reproducible random token ids of shape (B, T)."""
    torch = pytest.importorskip("torch")

    def make(B, T, vocab=50, seed=1):
        return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))

    return make


@pytest.fixture
def run_steps():
    """Factory: feed (B, T) tokens one at a time through model.step -> logits (B, T, V), final state."""
    torch = pytest.importorskip("torch")

    def run(model, tokens, state=None):
        state = model.initial_state(tokens.shape[0]) if state is None else state
        outs = []
        for t in range(tokens.shape[1]):
            out, state = model.step(tokens[:, t], state)
            outs.append(out)
        return torch.stack(outs, dim=1), state

    return run


def max_abs_diff(a, b) -> float:
    return (a - b).abs().max().item() if a.numel() else 0.0


@pytest.fixture
def diff():
    return max_abs_diff


def pytest_generate_tests(metafunc):
    # a test that takes `variant` runs for every (arch, s, cm_mode) of VARIANTS
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
