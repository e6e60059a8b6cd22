"""The C++ WKV kernels on the CPU: gradcheck in float64, and outputs and every gradient against
the pure-PyTorch scan (reference.wkv_scan under autograd) at realistic shapes in float32."""
import pytest

torch = pytest.importorskip("torch")

from wkv_helpers import assert_close, wkv_inputs  # noqa: E402
from rrwkv_rt import _core  # noqa: E402
from rrwkv_rt.autograd import WkvFunction, wkv_scan_kernel  # noqa: E402
from rrwkv_rt.reference import initial_wkv_state, wkv_definitional, wkv_scan  # noqa: E402

NAMES = ("w", "u", "k", "v", "wm", "bm", "km", "vm")


def _state(B, C, dtype, seed=None):
    """The initial state, or (seed given) a state reached by a random prefix, as WkvState."""
    st = initial_wkv_state(B, C, dtype)
    if seed is None:
        return st
    w, u, k, v, wm, bm, km, vm = wkv_inputs(B, 9, C, 4, dtype, seed=seed)
    return wkv_scan(w, u, k, v, wm, bm, km, vm, st, 0, 4)[1]


@pytest.mark.parametrize("medium,s", [(False, 1), (True, 1), (True, 2), (True, 5), (True, 40)])
def test_gradcheck_float64(medium, s):
    # T = 70 spans two checkpoint blocks (interval 64), so the block-wise recomputation is covered
    B, T, C = 2, 70, 3
    ins = wkv_inputs(B, T, C, s, torch.float64, medium=medium, seed=s)
    ins = [None if t is None else t.requires_grad_() for t in ins]
    st = torch.stack(list(initial_wkv_state(B, C, torch.float64)))

    def f(*xs):
        return WkvFunction.apply(*xs, st, 0, s)[0]

    assert torch.autograd.gradcheck(f, tuple(ins), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


@pytest.mark.parametrize("pos,s", [(3, 4), (5, 2), (7, 1)])
def test_gradcheck_from_a_carried_state(pos, s):
    B, T, C = 2, 13, 2
    ins = [t.requires_grad_() for t in wkv_inputs(B, T, C, s, torch.float64, pos=pos, seed=pos)]
    st = torch.stack(list(_state(B, C, torch.float64, seed=11)))
    assert torch.autograd.gradcheck(lambda *xs: WkvFunction.apply(*xs, st, pos, s)[0], tuple(ins),
                                    eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("medium,s", [(False, 1), (True, 1), (True, 16), (True, 3)])
def test_matches_pytorch_autograd_float32(medium, s):
    B, T, C = 2, 200, 96
    ins = [None if t is None else t.requires_grad_() for t in wkv_inputs(B, T, C, s, torch.float32,
                                                                           medium=medium, seed=7)]
    st = initial_wkv_state(B, C)
    gy = torch.randn(B, T, C, generator=torch.Generator().manual_seed(3))
    results = []
    for scan in (wkv_scan, wkv_scan_kernel):
        y, st_out = scan(*ins, st, 0, s)
        grads = torch.autograd.grad(y, [t for t in ins if t is not None], gy)
        results.append((y, st_out, grads))
    (y0, st0, g0), (y1, st1, g1) = results
    assert_close("y", y1, y0, 1e-4)
    for name, a, b in zip(("aa", "bb", "pp", "ma", "mb", "mp"), st1, st0):
        assert_close(name, a, b, 1e-4)
    for name, a, b in zip([n for n, t in zip(NAMES, ins) if t is not None], g1, g0):
        assert_close("d" + name, a, b, 1e-4)


@pytest.mark.parametrize("s", [1, 3, 7])
@pytest.mark.parametrize("chunks", [[50], [1, 20, 29], [17, 33]])
def test_chunks_with_carried_state_equal_definitional(s, chunks):
    B, T, C = 2, 50, 4
    w, u, k, v, wm, bm, km, vm = wkv_inputs(B, T, C, s, torch.float64)
    want = wkv_definitional(w, u, k, v, wm, bm, km, vm, s)
    st, outs, pos, j = initial_wkv_state(B, C, torch.float64), [], 0, 0
    for n in chunks:
        J = _core.wkv_medium_count(pos, n, s)
        out, st = wkv_scan_kernel(w, u, k[:, pos:pos + n], v[:, pos:pos + n], wm, bm, km[:, j:j + J],
                                  vm[:, j:j + J], st, pos, s)
        outs.append(out)
        pos, j = pos + n, j + J
    assert_close("y", torch.cat(outs, 1), want, 1e-12, atol=1e-12)


def test_long_sequence_is_stable_and_matches_float64():
    # far beyond the 1024-token ceiling of the classic RWKV-4 kernel; large keys overflow e^k naively
    B, T, C, s = 1, 6000, 4, 16
    ins64 = [t.requires_grad_() for t in wkv_inputs(B, T, C, s, torch.float64, k_scale=30.0, seed=5)]
    ins32 = [t.detach().float().requires_grad_() for t in ins64]
    gy = torch.randn(B, T, C, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y64, _ = wkv_scan_kernel(*ins64, initial_wkv_state(B, C, torch.float64), 0, s)
    y32, st32 = wkv_scan_kernel(*ins32, initial_wkv_state(B, C), 0, s)
    assert all(torch.isfinite(t).all() for t in st32)
    assert_close("y", y32, y64, 1e-4)
    g64 = torch.autograd.grad(y64, ins64, gy)
    g32 = torch.autograd.grad(y32, ins32, gy.float())
    # float32 loses ~1e-3 of dw over thousands of tokens with w ~ 0.006 (long memory); the pure-PyTorch
    # scan in float32 loses the same (the conditioning of the sum, not the kernel)
    for name, a, b in zip(NAMES, g32, g64):
        assert_close("d" + name, a, b, 1e-2)


def test_other_dtypes_run_in_float32():
    w, u, k, v, wm, bm, km, vm = wkv_inputs(2, 9, 3, 4, torch.float32)
    ref, _ = wkv_scan_kernel(w, u, k, v, wm, bm, km, vm, initial_wkv_state(2, 3), 0, 4)
    kb = k.bfloat16().requires_grad_()
    out, st = wkv_scan_kernel(w, u, kb, v.bfloat16(), wm, bm, km.bfloat16(), vm.bfloat16(),
                              initial_wkv_state(2, 3, torch.bfloat16), 0, 4)
    assert out.dtype == torch.bfloat16 and st.aa.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max().item() < 0.1
    out.float().sum().backward()
    assert kb.grad.dtype == torch.bfloat16


def test_empty_and_degenerate_shapes():
    w, u, k, v, wm, bm, km, vm = wkv_inputs(2, 0, 3, 4, torch.float32)
    st = initial_wkv_state(2, 3)
    out, st2 = wkv_scan_kernel(w, u, k, v, wm, bm, km, vm, st, 0, 4)
    assert out.shape == (2, 0, 3) and all(torch.equal(a, b) for a, b in zip(st, st2))
    # T < s: no medium ever enters, the result is RWKV-4's
    w, u, k, v, wm, bm, km, vm = wkv_inputs(2, 5, 3, 8, torch.float64)
    assert km.shape[1] == 0
    a, _ = wkv_scan_kernel(w, u, k, v, wm, bm, km, vm, initial_wkv_state(2, 3, torch.float64), 0, 8)
    b, _ = wkv_scan_kernel(w, u, k, v, None, None, None, None, initial_wkv_state(2, 3, torch.float64), 0, 1)
    assert torch.equal(a, b)


def test_bad_arguments_raise_value_errors():
    w, u, k, v, wm, bm, km, vm = wkv_inputs(2, 10, 3, 5, torch.float32)
    st = initial_wkv_state(2, 3)
    with pytest.raises(ValueError, match="mediums"):
        wkv_scan_kernel(w, u, k, v, wm, bm, km[:, :1], vm[:, :1], st, 0, 5)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        wkv_scan_kernel(w, u, k, v[:, :4], wm, bm, km, vm, st, 0, 5)
    with pytest.raises(ValueError, match="w must be"):
        wkv_scan_kernel(w[:2], u, k, v, wm, bm, km, vm, st, 0, 5)
    # the raw API checks what it can and names it
    args = dict(B=2, T=10, C=3, pos=0, s=5, medium=True, w=w.data_ptr(), u=u.data_ptr(), wm=wm.data_ptr(),
                bm=bm.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), km=km.data_ptr(), vm=vm.data_ptr(),
                y=torch.empty_like(k).data_ptr())
    with pytest.raises(ValueError, match="expected J=2"):
        _core.wkv_forward(J=3, dtype="float32", **args)
    with pytest.raises(ValueError, match="bfloat16"):
        _core.wkv_forward(J=2, dtype="bfloat16", **args)
    with pytest.raises(ValueError, match="f16 is not supported; expected float32, float64 or bfloat16"):
        _core.wkv_forward(J=2, dtype="float16", **args)
    with pytest.raises(ValueError, match="unknown dtype 'int7'"):
        _core.wkv_forward(J=2, dtype="int7", **args)
    with pytest.raises(ValueError, match="ckpt is a null pointer"):
        _core.wkv_backward(J=2, dtype="float32", ckpt=0, gy=k.data_ptr(), gk=k.data_ptr(), gv=k.data_ptr(),
                           gw=w.data_ptr(), gu=w.data_ptr(), gwm=w.data_ptr(), gbm=w.data_ptr(),
                           gkm=km.data_ptr(), gvm=km.data_ptr(),
                           **{n: a for n, a in args.items() if n != "y"})
    if not _core.cuda_compiled():
        with pytest.raises(RuntimeError, match="no CUDA kernels"):
            _core.wkv_forward(J=2, dtype="float32", device=0, **args)


def test_emulated_gpu_needs_the_emulated_build():
    from rrwkv_rt.autograd import emulated_gpu

    if _core.gpu_emulated():
        with emulated_gpu():
            pass
    else:
        with pytest.raises(RuntimeError, match="RRWKV_GPU_EMULATION"):
            with emulated_gpu():
                pass
