"""Invariants 3, 4 and 5 of docs/RRWKV.md §8 (limits that reduce RRWKV to RWKV-4; reset)."""
import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.reference import PP_INIT, RWKV, State  # noqa: E402
from rrwkv_rt.reference.state import FIELD_INIT  # noqa: E402

T = 29
SHAPE = dict(n_layer=2, n_embd=16, vocab=50)


def _with(model, **params):
    """Set a parameter of every block (name relative to the block) to a constant, in place."""
    with torch.no_grad():
        for blk in model.blocks:
            for name, value in params.items():
                mod, leaf = name.split(".")
                getattr(getattr(blk, mod), leaf).fill_(value)
    return model


def _rrwkv_from_rwkv4(rwkv4, s, cm, seed=9):
    """An rrwkv model sharing every RWKV-4 weight of `rwkv4`, with random RRWKV extras."""
    cfg = rwkv4.cfg.with_(arch="rrwkv", medium_interval=s, cm_mode=cm)
    from rrwkv_rt.reference import random_model
    model = random_model(cfg, seed=seed, dtype=rwkv4.dtype)
    missing = model.load_state_dict(rwkv4.state_dict(), strict=False).missing_keys
    assert all(k.endswith(("_m", "medium_mix_k", "medium_mix_r")) for k in missing)
    return model


def _all_outputs(model, tokens, run_steps):
    return model(tokens), run_steps(model, tokens)[0], model.forward_definitional(tokens)


@pytest.mark.parametrize("s", [1, 3, 16])
@pytest.mark.parametrize("bm", [float("-inf"), -1e4])
def test_add_mode_without_mediums_is_rwkv4(make_model, make_tokens, run_steps, diff, s, bm):
    rwkv4 = make_model("rwkv4", **SHAPE)
    model = _with(_rrwkv_from_rwkv4(rwkv4, s, "add"), **{"att.time_first_m": bm, "ffn.medium_mix_k": 0.0,
                                                          "ffn.medium_mix_r": 0.0})
    tokens = make_tokens(2, T)
    ref, ours = _all_outputs(rwkv4, tokens, run_steps), _all_outputs(model, tokens, run_steps)
    assert torch.equal(ours[0], ref[0])  # production form: bit for bit
    assert torch.equal(ours[1], ref[1])  # recurrent step: bit for bit
    assert diff(ours[2], ref[2]) <= 1e-12  # definitional: extra zero-weight entries change sum order


def test_mediums_do_matter(make_model, make_tokens, diff):
    """Guard for the test above: with finite bm and η != 0 the output differs from RWKV-4."""
    rwkv4 = make_model("rwkv4", **SHAPE)
    tokens = make_tokens(2, T)
    for cm in ("add", "replace"):
        assert diff(_rrwkv_from_rwkv4(rwkv4, 3, cm)(tokens), rwkv4(tokens)) > 1e-3


def test_replace_mode_s1_channel_mix_is_rwkv4(make_model, make_tokens, run_steps):
    rwkv4 = make_model("rwkv4", **SHAPE)
    model = _with(_rrwkv_from_rwkv4(rwkv4, 1, "replace"), **{"att.time_first_m": float("-inf")})
    tokens = make_tokens(2, T)
    ref, ours = _all_outputs(rwkv4, tokens, run_steps), _all_outputs(model, tokens, run_steps)
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)


def test_replace_mode_s1_channel_mix_module(make_model):
    """The channel-mix block alone, with its medium, equals RWKV-4's token-shift channel-mix."""
    rwkv4 = make_model("rwkv4", **SHAPE)
    model = _rrwkv_from_rwkv4(rwkv4, 1, "replace")
    y = torch.randn(2, 11, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for blk4, blk in zip(rwkv4.blocks, model.blocks):
        assert torch.equal(blk.ffn.forward_definitional(y), blk4.ffn.forward_definitional(y))
        st = State.initial(model.cfg, 2, torch.float64).layer(0)
        assert torch.equal(blk.ffn.forward_seq(y, st, 0)[0], blk4.ffn.forward_seq(y, st, 0)[0])


@pytest.mark.parametrize("cm", ["replace", "add"])
@pytest.mark.parametrize("T_short", [1, 7, 15, 16])
def test_no_medium_before_the_first_segment_ends(make_model, make_tokens, run_steps, cm, T_short):
    """T <= s: outputs equal the same model whose segments never complete (s huge)."""
    model = make_model("rrwkv", 16, cm, **SHAPE)
    never = RWKV.from_state_dict(model.state_dict(), medium_interval=10 ** 9, dtype=torch.float64)
    tokens = make_tokens(2, T_short)
    out, state = model(tokens, return_state=True)
    assert torch.equal(out, never(tokens))
    assert torch.equal(run_steps(model, tokens)[0], run_steps(never, tokens)[0])
    assert torch.equal(model.forward_definitional(tokens), never.forward_definitional(tokens))
    completed = T_short == 16  # position 15 ends segment 0: in the state, but in no output yet
    assert torch.equal(state.mp, torch.full_like(state.mp, PP_INIT)) != completed
    assert torch.equal(state.ffn_med, torch.zeros_like(state.ffn_med)) != completed


def _assert_initial(state: State, cfg: ModelConfig, batch: int):
    assert state.pos == 0
    for name, value in FIELD_INIT.items():
        t = getattr(state, name)
        assert t.shape == (cfg.n_layer, batch, cfg.n_embd), name
        assert torch.equal(t, torch.full_like(t, value)), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reset_returns_every_field_to_initial(make_model, make_tokens, diff, variant, dtype):
    model = make_model(*variant, dtype=dtype)
    _assert_initial(State.initial(model.cfg, 3, dtype), model.cfg, 3)
    tokens = make_tokens(3, 20)
    fresh = model(tokens)
    _, state = model(tokens, return_state=True)
    assert state.pos == 20
    copy = state.clone()
    assert copy.equal(state) and copy.att_x is not state.att_x
    assert state.reset() is state
    _assert_initial(state, model.cfg, 3)
    assert state.dtype == dtype
    assert torch.equal(model(tokens, state), fresh)
    assert copy.pos == 20  # clone is independent of the reset


def test_pp_init_is_finite_in_float32():
    assert torch.isfinite(torch.tensor(PP_INIT, dtype=torch.float32))
    assert torch.isfinite(torch.tensor(PP_INIT, dtype=torch.float32) - 1e3)


def test_state_of_the_wrong_batch_is_rejected(make_model, make_tokens):
    model = make_model("rrwkv", 3, "replace", **SHAPE)
    state = model.initial_state(3)
    with pytest.raises(ValueError, match="state has shape"):
        model(make_tokens(2, 4), state)
    with pytest.raises(ValueError, match="state has shape"):
        model.step(make_tokens(2, 1)[:, 0], state)
