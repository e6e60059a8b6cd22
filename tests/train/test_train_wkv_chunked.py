"""The chunked training WKV equals the reference scan: outputs, final state and every gradient."""
import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.reference.wkv import WkvState, initial_wkv_state, segment_end_offsets, wkv_scan  # noqa: E402
from rrwkv_rt.train import wkv_chunked as W  # noqa: E402

# (B, T, C, s, pos, chunk, mediums, fresh state)
CASES = [
    (2, 37, 5, 3, 4, 8, True, False),
    (2, 37, 5, 3, 0, 8, True, True),
    (1, 16, 3, 16, 0, 4, True, True),     # T == s: one medium, folded after the last token
    (2, 20, 4, 1, 7, 32, True, False),    # s = 1, chunk longer than T
    (2, 33, 4, 1, 0, 5, False, True),     # RWKV-4
    (1, 1, 3, 2, 1, 8, True, False),      # one token that completes a segment
    (3, 64, 6, 7, 13, 16, True, False),
]


def _rand(gen, *shape):
    return torch.randn(*shape, dtype=torch.float64, generator=gen)


def _inputs(case, key_scale, seed=0):
    B, T, C, s, pos, chunk, med, fresh = case
    g = torch.Generator().manual_seed(seed)
    w, u = torch.exp(_rand(g, C)), _rand(g, C)
    k, v = _rand(g, B, T, C) * key_scale, _rand(g, B, T, C)
    J = len(segment_end_offsets(pos, T, s))
    wm = bm = km = vm = None
    if med:
        wm, bm = torch.exp(_rand(g, C)), _rand(g, C)
        km, vm = _rand(g, B, J, C) * key_scale, _rand(g, B, J, C)
    if fresh:
        st = initial_wkv_state(B, C, dtype=torch.float64)
    else:
        st = WkvState(_rand(g, B, C), _rand(g, B, C).abs() + 0.5, _rand(g, B, C),
                      _rand(g, B, C), _rand(g, B, C).abs() + 0.5, _rand(g, B, C))
    return [w, u, k, v, wm, bm, km, vm], st, pos, s, chunk


def _absolute(st, ref):
    """The state's sums on the reference's scale (max-trick triples need not be bit-identical)."""
    f = torch.exp(st.pp - ref.pp.detach())
    fm = torch.exp(st.mp - ref.mp.detach())
    return torch.stack([st.aa * f, st.bb * f, st.ma * fm, st.mb * fm])


@pytest.mark.parametrize("key_scale", [1.0, 500.0], ids=["factorised", "wide-key-fallback"])
@pytest.mark.parametrize("case", CASES, ids=[f"B{c[0]}T{c[1]}s{c[3]}pos{c[4]}L{c[5]}" for c in CASES])
def test_chunked_equals_scan(case, key_scale):
    args, st, pos, s, chunk = _inputs(case, key_scale)
    leaves = [a.requires_grad_() for a in args if a is not None]
    y1, s1 = wkv_scan(*args, st, pos, s)
    y2, s2 = W.wkv_chunked(*args, st, pos, s, chunk=chunk)
    assert (y1 - y2).abs().max() < 1e-12
    a1, a2 = _absolute(s1, s1), _absolute(s2, s1)
    assert torch.allclose(a1, a2, rtol=1e-11, atol=1e-12)
    g = torch.randn(y1.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    probe = torch.randn(a1.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g1 = torch.autograd.grad((y1 * g).sum() + (a1 * probe).sum(), leaves)
    g2 = torch.autograd.grad((y2 * g).sum() + (a2 * probe).sum(), leaves)
    for x1, x2 in zip(g1, g2):
        assert torch.allclose(x1, x2, rtol=1e-9, atol=1e-9), (x1 - x2).abs().max()


def test_float32_inputs_give_float32_and_match():
    args, st, pos, s, chunk = _inputs(CASES[0], 1.0)
    args32 = [None if a is None else a.float() for a in args]
    st32 = WkvState(*(t.float() for t in st))
    y64, _ = wkv_scan(*args, st, pos, s)
    y32, s32 = W.wkv_chunked(*args32, st32, pos, s, chunk=chunk)
    assert y32.dtype == torch.float32 and s32.aa.dtype == torch.float32
    assert (y32.double() - y64).abs().max() < 1e-5


def test_empty_chunk_and_wrong_medium_count():
    args, st, pos, s, chunk = _inputs(CASES[0], 1.0)
    w, u, k, v, wm, bm, km, vm = args
    y, st2 = W.wkv_chunked(w, u, k[:, :0], v[:, :0], wm, bm, km[:, :0], vm[:, :0], st, pos, s)
    assert y.shape == (k.shape[0], 0, k.shape[2]) and st2.aa.equal(st.aa)
    with pytest.raises(ValueError, match="mediums given"):
        W.wkv_chunked(w, u, k, v, wm, bm, km[:, :1], vm[:, :1], st, pos, s)


def test_model_with_chunked_wkv_matches_reference():
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import random_model
    cfg = ModelConfig(arch="rrwkv", n_layer=2, n_embd=16, vocab_size=50, medium_interval=3, cm_mode="add")
    tokens = torch.randint(0, 50, (2, 41), generator=torch.Generator().manual_seed(3))
    ref = random_model(cfg, seed=1, dtype=torch.float64)
    fast = random_model(cfg, seed=1, dtype=torch.float64)
    fast.wkv_impl = W.wkv_chunked
    y_ref, st_ref = ref(tokens[:, :20], return_state=True)
    y_fast, st_fast = fast(tokens[:, :20], return_state=True)
    # chunked prefill continues from the state, with a segment boundary inside the chunk
    y_ref2, y_fast2 = ref(tokens[:, 20:], st_ref), fast(tokens[:, 20:], st_fast)
    assert (y_ref - y_fast).abs().max() < 1e-12 and (y_ref2 - y_fast2).abs().max() < 1e-12


@pytest.mark.parametrize("key_scale", [1.0, 60.0], ids=["factorised", "wide-key-fallback"])
def test_float32_arithmetic_is_accurate_too(key_scale):
    args, st, pos, s, chunk = _inputs(CASES[-1], key_scale)
    y64, _ = wkv_scan(*args, st, pos, s)
    f32 = [None if a is None else a.float() for a in args]
    y32, _ = W.wkv_chunked(*f32, WkvState(*(t.float() for t in st)), pos, s, chunk=chunk,
                           compute_dtype=torch.float32)
    assert y32.dtype == torch.float32
    assert (y32.double() - y64).abs().max() < 1e-4
