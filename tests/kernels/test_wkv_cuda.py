"""GPU WKV kernels against the CPU kernels (the reference path), forward and backward, through the
autograd front.

Runs on a real GPU (tensors on "cuda") and on the emulated device of a build with
RRWKV_GPU_EMULATION=ON (CPU tensors inside ``autograd.emulated_gpu()``); tests/conftest.py skips
`cuda`-marked tests where no device exists and `real_gpu` ones under the emulation.
"""
from contextlib import nullcontext

import pytest

torch = pytest.importorskip("torch")

from wkv_helpers import assert_close, wkv_inputs  # noqa: E402
from rrwkv_rt import _core  # noqa: E402
from rrwkv_rt.autograd import emulated_gpu, wkv_scan_kernel  # noqa: E402
from rrwkv_rt.reference import initial_wkv_state, wkv_scan  # noqa: E402

EMULATED = _core.gpu_emulated()
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not EMULATED and not torch.cuda.is_available(), reason="torch sees no CUDA device")]

NAMES = ("w", "u", "k", "v", "wm", "bm", "km", "vm")
# B > 4 exercises several row blocks of the backward, C % 32 != 0 a partial warp, T = 203 three
# checkpoint blocks and a partial sub-block
B, T, C = 11, 203, 45


def _prefix_state(dtype, s):
    """A non-trivial state (after a random prefix), computed with the pure-PyTorch scan on the CPU."""
    w, u, k, v, wm, bm, km, vm = wkv_inputs(B, 13, C, s, torch.float64, seed=9)
    return wkv_scan(w, u, k, v, wm, bm, km, vm, initial_wkv_state(B, C, torch.float64), 0, s)[1]


def _run(ins, state, pos, s, gy, device, io_dtype):
    """y, state and the gradients of every input from the kernels on `device` ("cpu" or "gpu")."""
    where = "cpu" if device == "cpu" or EMULATED else "cuda"
    xs = [None if t is None else t.detach().to(where).requires_grad_() for t in ins]
    xs = [None if t is None else (t.to(io_dtype) if i in (2, 3, 6, 7) else t).detach().requires_grad_()
          for i, t in enumerate(xs)]
    st = type(state)(*(t.to(where) for t in state))
    with emulated_gpu() if device == "gpu" and EMULATED else nullcontext():
        y, st_out = wkv_scan_kernel(*xs, st, pos, s)
    xs = [t for t in xs if t is not None]
    grads = torch.autograd.grad(y, xs, gy.to(device=where, dtype=y.dtype), allow_unused=True)
    return y, st_out, [torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs)]  # km: J = 0


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("medium,s,pos", [(False, 1, 0), (True, 1, 0), (True, 5, 0), (True, 16, 7), (True, 300, 0)])
def test_gpu_matches_cpu(dtype, rtol, medium, s, pos):
    ins = wkv_inputs(B, T, C, s, dtype, medium=medium, seed=s, pos=pos)
    state = initial_wkv_state(B, C, dtype) if pos == 0 else type(_prefix_state(dtype, s))(
        *(t.to(dtype) for t in _prefix_state(dtype, s)))
    gy = torch.randn(B, T, C, generator=torch.Generator().manual_seed(2), dtype=dtype)
    y0, st0, g0 = _run(ins, state, pos, s, gy, "cpu", dtype)
    y1, st1, g1 = _run(ins, state, pos, s, gy, "gpu", dtype)
    assert_close("y", y1, y0, rtol)
    for name, a, b in zip(("aa", "bb", "pp", "ma", "mb", "mp"), st1, st0):
        assert_close(name, a, b, rtol)
    for name, a, b in zip([n for n, t in zip(NAMES, ins) if t is not None], g1, g0):
        assert_close("d" + name, a, b, rtol)


@pytest.mark.parametrize("medium,s", [(False, 1), (True, 16)])
def test_gpu_bfloat16_matches_cpu_float32(medium, s):
    # the same bf16-rounded inputs: the GPU reads bf16 and does f32 math, the CPU gets them as f32
    ins = wkv_inputs(B, T, C, s, torch.float32, medium=medium, seed=3)
    ins = [None if t is None else (t.bfloat16().float() if i in (2, 3, 6, 7) else t) for i, t in enumerate(ins)]
    gy = torch.randn(B, T, C, generator=torch.Generator().manual_seed(2)).bfloat16().float()
    y0, _, g0 = _run(ins, initial_wkv_state(B, C), 0, s, gy, "cpu", torch.float32)
    y1, st1, g1 = _run(ins, initial_wkv_state(B, C, torch.bfloat16), 0, s, gy, "gpu", torch.bfloat16)
    assert y1.dtype == torch.bfloat16 and g1[2].dtype == torch.bfloat16 and g1[0].dtype == torch.float32
    assert_close("y", y1, y0, 1e-2)
    for name, a, b in zip([n for n, t in zip(NAMES, ins) if t is not None], g1, g0):
        assert_close("d" + name, a, b, 1e-2)


def test_gpu_long_sequence_forward_backward():
    Bl, Tl, Cl, s = 2, 5000, 64, 16
    ins = wkv_inputs(Bl, Tl, Cl, s, torch.float32, seed=4)
    gy = torch.randn(Bl, Tl, Cl, generator=torch.Generator().manual_seed(2))
    y0, _, g0 = _run(ins, initial_wkv_state(Bl, Cl), 0, s, gy, "cpu", torch.float32)
    y1, _, g1 = _run(ins, initial_wkv_state(Bl, Cl), 0, s, gy, "gpu", torch.float32)
    assert_close("y", y1, y0, 1e-4)
    for name, a, b in zip(NAMES, g1, g0):
        assert_close("d" + name, a, b, 1e-4)


def test_gpu_calls_from_threads_at_once():
    # the GIL is released around the kernels: four threads run the GPU path at the same time
    from concurrent.futures import ThreadPoolExecutor

    ins = wkv_inputs(3, 70, 40, 5, torch.float32, seed=6)
    gy = torch.randn(3, 70, 40, generator=torch.Generator().manual_seed(2))
    y0, _, g0 = _run(ins, initial_wkv_state(3, 40), 0, 5, gy, "cpu", torch.float32)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _run(ins, initial_wkv_state(3, 40), 0, 5, gy, "gpu", torch.float32),
                                range(4)))
    for y1, _, g1 in results:
        assert_close("y", y1, y0, 1e-4)
        for name, a, b in zip(NAMES, g1, g0):
            assert_close("d" + name, a, b, 1e-4)


@pytest.mark.real_gpu
def test_cuda_runs_on_the_current_stream():
    ins = wkv_inputs(B, T, C, 4, torch.float32, seed=1)
    gy = torch.randn(B, T, C, generator=torch.Generator().manual_seed(2))
    y0, _, g0 = _run(ins, initial_wkv_state(B, C), 0, 4, gy, "gpu", torch.float32)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        y1, _, g1 = _run(ins, initial_wkv_state(B, C), 0, 4, gy, "gpu", torch.float32)
    side.synchronize()
    assert torch.equal(y0, y1) and all(torch.equal(a, b) for a, b in zip(g0, g1))


@pytest.mark.real_gpu
def test_cuda_rejects_host_pointers():
    w, u, k, v, *_ = wkv_inputs(2, 4, 3, 1, torch.float32, medium=False)
    with pytest.raises(ValueError, match="not device memory"):
        _core.wkv_forward(B=2, T=4, C=3, J=0, pos=0, s=1, medium=False, dtype="float32", device=0,
                          stream=0, w=w.data_ptr(), u=u.data_ptr(), k=k.data_ptr(), v=v.data_ptr(),
                          y=torch.empty_like(k).data_ptr())

