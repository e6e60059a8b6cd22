"""RWKV-5.2/6/7 reference models in float64: step by step == one sequence == any chunking, and
states that clone, continue and reset exactly."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, max_abs_diff, one_thread, random_model  # noqa: E402
from rrwkv_rt.reference import KeyValueState, ValueKeyState  # noqa: E402

EXACT = 1e-9
# one small shape per arch, two heads so that heads cannot be mixed up silently
CONFIGS = {arch: CASES[arch][case] for arch, case in
           (("rwkv5", "L3-C64-h32"), ("rwkv6", "L2-C64-h32-m13-d7"), ("rwkv7", "L2-C64-h32"))}
ARCHES = list(CONFIGS)
B, T = 2, 70


@pytest.fixture(scope="module", params=ARCHES)
def model(request):
    return random_model(CONFIGS[request.param], seed=3, dtype=torch.float64)


@pytest.fixture(scope="module")
def toks(model):
    return torch.randint(0, model.cfg.vocab_size, (B, T), generator=torch.Generator().manual_seed(9))


def run_chunks(model, toks, size, state=None):
    outs, state = [], model.initial_state(toks.shape[0]) if state is None else state
    for i in range(0, toks.shape[1], size):
        out, state = model(toks[:, i:i + size], state, return_state=True)
        outs.append(out)
    return torch.cat(outs, dim=1), state


def run_steps(model, toks, state):
    outs = []
    for t in range(toks.shape[1]):
        out, state = model.step(toks[:, t], state)
        outs.append(out)
    return torch.stack(outs, dim=1), state


@torch.no_grad()
def test_float64_throughout(model, toks):
    assert all(p.dtype == torch.float64 for p in model.parameters())
    out, state = model(toks[:, :3], return_state=True)
    assert out.dtype == torch.float64
    assert all(t.dtype == torch.float64 for t in state.tensors().values())
    assert model.initial_state(B).dtype == torch.float64


@torch.no_grad()
def test_step_sequence_and_chunkings_agree(model, toks):
    with one_thread():
        full, full_state = model(toks, return_state=True)
        steps, step_state = run_steps(model, toks, model.initial_state(B))
        chunked = {size: run_chunks(model, toks, size) for size in (7, 64)}
    assert full.shape == (B, T, model.cfg.vocab_size)
    assert full.std().item() > 0.3  # not trivially ~0
    assert max_abs_diff(steps, full) <= EXACT
    for size, (out, state) in chunked.items():
        assert max_abs_diff(out, full) <= EXACT, size
        for name, t in state.tensors().items():
            assert max_abs_diff(t, full_state.tensors()[name]) <= EXACT, (size, name)
    assert full_state.pos == step_state.pos == T
    assert max_abs_diff(step_state.wkv, full_state.wkv) <= EXACT
    assert full_state.wkv.abs().max().item() > 0.1  # the matrix state is really used


@torch.no_grad()
def test_batch_rows_are_independent(model, toks):
    with one_thread():
        both = model(toks)
        one = model(toks[1:])
    assert max_abs_diff(both[1:], one) <= EXACT


@torch.no_grad()
def test_state_clone_continues_identically_and_input_state_is_untouched(model, toks):
    with one_thread():
        _, mid = model(toks[:, :40], return_state=True)
        saved = mid.clone()
        a, a_state = model(toks[:, 40:], mid, return_state=True)
        assert mid.equal(saved)  # forward does not modify the state it is given
        b, b_state = model(toks[:, 40:], saved, return_state=True)
        full = model(toks)
    assert torch.equal(a, b) and a_state.equal(b_state)
    assert max_abs_diff(a, full[:, 40:]) <= EXACT
    assert saved.pos == 40 and a_state.pos == T


@torch.no_grad()
def test_reset_and_empty_chunk(model, toks):
    with one_thread():
        _, state = model(toks[:, :5], return_state=True)
        assert not state.equal(model.initial_state(B))
        assert state.reset().equal(model.initial_state(B))
        empty, same = model(toks[:, :0], state, return_state=True)
    assert empty.shape == (B, 0, model.cfg.vocab_size) and same.equal(state)


def test_wrong_state_is_rejected(model, toks):
    with pytest.raises(ValueError, match="state has wkv"):
        model(toks, model.initial_state(B + 1))
    # 5/6 and 7 lay their matrices out transposed to each other: their states do not mix
    other = KeyValueState if model.State is ValueKeyState else ValueKeyState
    with pytest.raises(ValueError, match=f"needs a {model.State.__name__}"):
        model(toks, other.initial(model.cfg, B))
