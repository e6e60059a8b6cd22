"""Initialisation schemes (docs/RRWKV.md §7) and the RWKV-4 warm start."""
import math

import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.reference import RWKV, init_weights, random_model, warm_start_from_rwkv4  # noqa: E402
from rrwkv_rt.arch import checkpoint_spec  # noqa: E402

CFG = ModelConfig("rrwkv", n_layer=4, n_embd=32, vocab_size=60, medium_interval=3, cm_mode="add")


def _p(model, name):
    return model.state_dict()[name].double()


def test_paper_schedule_values():
    model = RWKV(CFG, dtype=torch.float64, init="paper", seed=0)
    L, C = CFG.n_layer, CFG.n_embd
    for i in (0, 2, 3):
        r01, r1 = i / (L - 1), 1 - i / L
        for h in (0, 7, C - 1):
            decay = -5 + 8 * (h / (C - 1)) ** (0.7 + 1.3 * r01)
            assert _p(model, f"blocks.{i}.att.time_decay")[h].item() == pytest.approx(decay, abs=1e-6)
            assert _p(model, f"blocks.{i}.att.time_decay_m")[h].item() == pytest.approx(decay, abs=1e-6)
            first = math.log(0.3) + ((h + 1) % 3 - 1) * 0.5
            assert _p(model, f"blocks.{i}.att.time_first")[h].item() == pytest.approx(first, abs=1e-6)
            x = h / C
            mixes = {"att.time_mix_k": x ** r1, "att.time_mix_v": x ** r1 + 0.3 * r01,
                     "att.time_mix_r": x ** (0.5 * r1), "ffn.time_mix_k": x ** r1, "ffn.time_mix_r": x ** r1}
            for name, want in mixes.items():
                assert _p(model, f"blocks.{i}.{name}")[0, 0, h].item() == pytest.approx(want, abs=1e-6), name
        assert torch.allclose(_p(model, f"blocks.{i}.att.time_first_m"), torch.full((C,), math.log(0.3)).double())
        assert torch.equal(_p(model, f"blocks.{i}.ffn.medium_mix_k"), torch.zeros(1, 1, C).double())
    assert _p(model, "blocks.0.att.time_decay")[0].item() == -5 and _p(model, "blocks.0.att.time_decay")[-1] == 3
    emb = _p(model, "emb.weight")
    assert emb.abs().max() <= 1e-4 and emb.abs().max() > 0
    assert torch.equal(_p(model, "blocks.1.ln1.weight"), torch.ones(C).double())
    assert torch.equal(_p(model, "ln_out.bias"), torch.zeros(C).double())
    w = _p(model, "blocks.1.att.value.weight")  # orthogonal, gain 1
    assert torch.allclose(w @ w.T, torch.eye(C).double(), atol=1e-5)
    k = _p(model, "blocks.1.ffn.key.weight")  # (4C, C): orthogonal columns, gain sqrt(4)
    assert torch.allclose(k.T @ k, 4 * torch.eye(C).double(), atol=1e-4)


def test_paper_schedule_single_layer_and_channel():
    RWKV(ModelConfig("rwkv4", 1, 1, 5))  # RWKV-LM divides by n_layer - 1 and C - 1: no crash here


@pytest.mark.parametrize("scheme", ["paper", "random"])
@pytest.mark.parametrize("cm", ["replace", "add"])
def test_schemes_give_finite_nontrivial_logits(scheme, cm, make_tokens):
    cfg = CFG.with_(cm_mode=cm)
    model = RWKV(cfg, init=scheme, seed=3)
    logits = model(make_tokens(2, 20, vocab=cfg.vocab_size))
    assert torch.isfinite(logits).all()
    assert logits.std() > (1e-3 if scheme == "paper" else 0.3)
    if scheme == "random":
        assert logits.abs().max() < 30


def test_random_scheme_ranges_and_determinism():
    a = random_model(CFG, seed=5).state_dict()
    b = random_model(CFG, seed=5, dtype=torch.float64).state_dict()
    c = random_model(CFG, seed=6).state_dict()
    for name, t in a.items():
        assert torch.equal(t.double(), b[name]), name  # same values in both dtypes
        assert not torch.equal(t, c[name]), name
        assert t.std() > 0 if t.numel() > 1 else True, name
    mix = torch.cat([t.flatten() for n, t in a.items() if "time_mix" in n])
    assert 0 < mix.min() and mix.max() < 1
    decay = torch.cat([t for n, t in a.items() if "time_decay" in n])
    assert -3 <= decay.min() and decay.max() <= 1
    ln_w = torch.cat([t for n, t in a.items() if "ln" in n and n.endswith("weight")])
    assert (ln_w - 1).abs().max() <= 0.2
    # an arch's extras don't shift the shared weights: rwkv4 and rrwkv of a seed share them
    rwkv4 = random_model(ModelConfig("rwkv4", 4, 32, 60), seed=5).state_dict()
    assert all(torch.equal(t, a[n]) for n, t in rwkv4.items())


def test_every_random_parameter_influences_the_output(make_tokens):
    cfg = ModelConfig("rrwkv", 2, 8, 20, medium_interval=2, cm_mode="add")
    model = random_model(cfg, seed=1, dtype=torch.float64)
    tokens = make_tokens(1, 12, vocab=20)
    base = model(tokens)
    gen = torch.Generator().manual_seed(0)
    for name, p in model.named_parameters():
        with torch.no_grad():
            delta = 0.01 * torch.randn(p.shape, generator=gen, dtype=p.dtype)  # random: LayerNorm hides constants
            p.add_(delta)
            changed = model(tokens)
            p.sub_(delta)
        assert (changed - base).abs().max() > 1e-7, name


def test_init_weights_reinitialises_in_place():
    model = random_model(CFG, seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert init_weights(model, seed=2, scheme="paper") is model
    assert not torch.equal(model.state_dict()["blocks.0.att.time_decay"], before["blocks.0.att.time_decay"])
    init_weights(model, seed=2, scheme="random")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError):
        init_weights(model, scheme="nope")


@pytest.mark.parametrize("s", [1, 4])
def test_warm_start_from_rwkv4(s, make_tokens):
    rwkv4 = random_model(ModelConfig("rwkv4", 2, 16, 40), seed=8, dtype=torch.float64)
    sd = warm_start_from_rwkv4(rwkv4.state_dict(), medium_interval=s)
    cfg = ModelConfig("rrwkv", 2, 16, 40, medium_interval=s, cm_mode="add")
    assert {k: tuple(v.shape) for k, v in sd.items()} == checkpoint_spec(cfg)
    assert torch.equal(sd["blocks.1.att.time_first_m"], torch.full((16,), -8.0).double())
    assert torch.equal(sd["blocks.0.ffn.medium_mix_r"], torch.zeros(1, 1, 16).double())
    model = RWKV.from_state_dict(sd, medium_interval=s, dtype=torch.float64)
    assert model.cfg == cfg
    tokens = make_tokens(2, 24, vocab=40)
    ref, out = rwkv4(tokens), model(tokens)
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()  # mediums start almost invisible
    with torch.no_grad():
        for blk in model.blocks:
            blk.att.time_first_m.fill_(float("-inf"))
    assert torch.equal(model(tokens), ref)  # and vanish exactly as bm -> -inf
    with pytest.raises(ValueError, match="blocks.0.att.key.weight"):
        warm_start_from_rwkv4({k: v for k, v in rwkv4.state_dict().items() if k != "blocks.0.att.key.weight"}, s)
