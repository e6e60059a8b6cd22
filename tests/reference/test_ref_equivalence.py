"""Invariants 1 and 2 of docs/RRWKV.md §8: parallel == recurrent == chunked == definitional; causality."""
import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.reference import State  # noqa: E402

T = 37  # not a multiple of 3 or 16, and > 2 * 16 so that every s sees at least two mediums
TOL = 1e-10
# chunk lengths summing to T; they cut segments of s = 3 and s = 16 at many offsets
CHUNKINGS = [[T], [5, 1, 14, 17], [16, 16, 5], [2, 7, 0, 11, 4, 13], [1] * 10 + [27]]


def _model(make_model, variant, **kw):
    arch, s, cm = variant
    return make_model(arch, s, cm, **kw)


def _run_chunks(model, tokens, lengths, state=None):
    state = model.initial_state(tokens.shape[0]) if state is None else state
    outs, t0 = [], 0
    for n in lengths:
        out, state = model(tokens[:, t0:t0 + n], state, return_state=True)
        outs.append(out)
        t0 += n
    return torch.cat(outs, dim=1), state


def _state_diff(a: State, b: State) -> float:
    assert a.pos == b.pos
    return max((x - y).abs().max().item() for x, y in zip(a.tensors().values(), b.tensors().values()))


def test_forward_equals_step_loop(make_model, make_tokens, run_steps, diff, variant):
    model = _model(make_model, variant)
    tokens = make_tokens(2, T)
    par, par_state = model(tokens, return_state=True)
    rec, rec_state = run_steps(model, tokens)
    assert par.shape == (2, T, model.cfg.vocab_size)
    assert diff(par, rec) <= TOL
    assert _state_diff(par_state, rec_state) <= TOL
    assert par_state.pos == rec_state.pos == T


@pytest.mark.parametrize("lengths", CHUNKINGS, ids=lambda x: "-".join(map(str, x)))
def test_chunked_prefill_equals_one_call(make_model, make_tokens, diff, variant, lengths):
    model = _model(make_model, variant)
    tokens = make_tokens(2, T)
    full, full_state = model(tokens, return_state=True)
    chunked, chunk_state = _run_chunks(model, tokens, lengths)
    assert diff(full, chunked) <= TOL
    assert _state_diff(full_state, chunk_state) <= TOL


@pytest.mark.parametrize("prefill", [1, 8, 16, 22])
def test_prefill_then_steps(make_model, make_tokens, run_steps, diff, variant, prefill):
    model = _model(make_model, variant)
    tokens = make_tokens(2, T, seed=5)
    full = model(tokens)
    head, state = _run_chunks(model, tokens[:, :prefill], [prefill // 2, prefill - prefill // 2])
    tail, state = run_steps(model, tokens[:, prefill:], state)
    assert state.pos == T
    assert diff(full, torch.cat([head, tail], dim=1)) <= TOL


def test_steps_then_prefill(make_model, make_tokens, run_steps, diff, variant):
    """A chunk that starts at a pos inside a segment, after step-produced state."""
    model = _model(make_model, variant)
    tokens = make_tokens(1, T, seed=6)
    full = model(tokens)
    head, state = run_steps(model, tokens[:, :4])
    tail, state = model(tokens[:, 4:], state, return_state=True)
    assert diff(full, torch.cat([head, tail], dim=1)) <= TOL


def test_forward_equals_definitional(make_model, make_tokens, diff, variant):
    model = _model(make_model, variant)
    tokens = make_tokens(2, T, seed=2)
    assert diff(model(tokens), model.forward_definitional(tokens)) <= TOL


def test_float32_close_to_float64(make_model, make_tokens, variant):
    m64 = _model(make_model, variant)
    m32 = _model(make_model, variant, dtype=torch.float32)  # same seed: the very same parameters
    tokens = make_tokens(2, T, seed=3)
    ref = m64(tokens)
    rel = ((m32(tokens).double() - ref).abs().max() / ref.abs().max()).item()
    assert rel <= 1e-5


def test_causality(make_model, make_tokens, diff, variant):
    model = _model(make_model, variant)
    tokens = make_tokens(2, T, seed=4)
    base = model(tokens)
    for t0 in (0, 5, 17, T - 1):
        changed = tokens.clone()
        changed[:, t0] = (changed[:, t0] + 1) % model.cfg.vocab_size
        out = model(changed)
        assert diff(out[:, :t0], base[:, :t0]) <= 1e-12
        assert diff(out[:, t0:], base[:, t0:]) > 1e-6  # and the change is seen from t0 on
        definitional = model.forward_definitional(changed)
        assert diff(definitional[:, :t0], base[:, :t0]) <= TOL


def test_gradients_match_definitional(make_model, make_tokens, variant):
    """forward is differentiable, and its gradients agree with the definitional form's."""
    model = _model(make_model, variant, n_layer=1, n_embd=8, vocab=20)
    tokens = make_tokens(1, 20, vocab=20, seed=7)
    grads = []
    for fn in (model.forward, model.forward_definitional):
        model.zero_grad()
        (fn(tokens) ** 2).mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        assert torch.isfinite(g).all(), name
        assert (g - grads[1][name]).abs().max().item() <= 1e-9, name


def test_state_not_modified_and_batch_independent(make_model, make_tokens, diff, variant):
    model = _model(make_model, variant)
    tokens = make_tokens(3, 10, seed=8)
    _, state = model(tokens, return_state=True)
    before = state.clone()
    model(tokens, state, return_state=True)
    model.step(tokens[:, 0], state)
    assert state.equal(before)
    # each sequence of a batch evolves on its own
    both = model(tokens, state)
    single = model(tokens[1:2], State(**{n: t[:, 1:2] for n, t in state.tensors().items()}, pos=state.pos))
    assert diff(both[1:2], single) <= 1e-12


def test_wkv_impl_is_the_single_pluggable_point(make_model, make_tokens, diff, variant):
    from rrwkv_rt.reference import wkv_scan
    model = _model(make_model, variant)
    tokens = make_tokens(1, 9)
    calls = []

    def spy(*args):
        calls.append(args[-2:])  # (pos, s)
        return wkv_scan(*args)

    model.wkv_impl = spy
    out, state = model(tokens, return_state=True)
    model(tokens, state)
    assert calls == [(0, model.cfg.medium_interval)] * model.cfg.n_layer + \
        [(9, model.cfg.medium_interval)] * model.cfg.n_layer
    del model.wkv_impl
    assert diff(out, model(tokens)) == 0.0
