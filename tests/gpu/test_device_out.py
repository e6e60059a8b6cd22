"""Logits written into a CUDA array (`out=` anything with __cuda_array_interface__: a torch CUDA
tensor, a CuPy array) by Session.step and Batch.step on a GPU engine, device to device. Under the
emulation device memory is host memory, so a NumPy buffer described by the interface stands in
for a CUDA array and the values can be read back; the `real_gpu` test does it with torch on a GPU.
The interface's contract is checked on a GPU engine: wrong dtype, shape, strides, a read-only or
masked array, stream 0, and a CUDA array given to a CPU engine each raise a ValueError that says
what was expected, and leave the session's state untouched."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

import rrwkv_rt  # noqa: E402

from rt_helpers import make_config, tokens  # noqa: E402

CFG = make_config("rwkv4", n_layer=2, n_embd=64, vocab=211)


class CudaArray:
    """A stand-in for a CUDA array: the interface (version 3) over a NumPy buffer, with any field
    overridable to build a bad one."""

    def __init__(self, array: np.ndarray, **fields):
        self.array = array
        self.__cuda_array_interface__ = {
            "shape": array.shape, "typestr": array.dtype.str, "data": (array.ctypes.data, False),
            "strides": None, "version": 3, **fields}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    pytest.importorskip("torch")
    from rrwkv_rt.io.export import export_state_dict
    from rrwkv_rt.reference import random_model

    path = tmp_path_factory.mktemp("device_out") / "rwkv4.rrwkv"
    export_state_dict(random_model(CFG, seed=3).state_dict(), CFG, path, dtype="f32")
    return rrwkv_rt.Model(str(path))


@pytest.mark.cuda
def test_session_and_batch_write_logits_into_a_cuda_array(model):
    toks = tokens(CFG.vocab_size, 6, seed=1)
    host = rrwkv_rt.Session(model, threads=1, device="cuda")
    dev = rrwkv_rt.Session(model, threads=1, device="cuda")
    buf = np.full(CFG.vocab_size, np.nan, np.float32)
    out = CudaArray(buf, stream=1)  # the legacy default stream, waited for before the call
    for t in toks:
        want = host.step(t)
        assert dev.step(t, out=out) is out
        np.testing.assert_array_equal(buf, want)

    batch = rrwkv_rt.Batch(model, capacity=3, threads=1, device="cuda")
    rows = [batch.add() for _ in range(3)]
    alone = [rrwkv_rt.Session(model, threads=1, device="cuda") for _ in rows]
    buf2 = np.full((3, CFG.vocab_size), np.nan, np.float32)
    out2 = CudaArray(buf2, strides=(4 * CFG.vocab_size, 4))  # explicit C-contiguous strides are fine
    for i in range(3):
        step = [int(toks[(i + r) % len(toks)]) for r in range(3)]
        assert batch.step(rows, step, out=out2) is out2
        for r, s in enumerate(alone):
            np.testing.assert_array_equal(buf2[r], s.step(step[r]))


BAD = {
    "float64": (lambda a: CudaArray(a.astype(np.float64)), "typestr '<f8'"),
    "shape": (lambda a: CudaArray(a[:-1]), "shape (210,)"),
    "strides": (lambda a: CudaArray(a, strides=(8,)), "strided view"),
    "read-only": (lambda a: CudaArray(a, data=(a.ctypes.data, True)), "read-only"),
    "masked": (lambda a: CudaArray(a, mask=object()), "masked"),
    "stream 0": (lambda a: CudaArray(a, stream=0), "stream 0"),
}


@pytest.mark.cuda
@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_cuda_array_is_refused_before_anything_runs(model, case):
    make, words = BAD[case]
    s = rrwkv_rt.Session(model, threads=1, device="cuda")
    s.step(5)
    before = s.get_state()
    with pytest.raises(ValueError, match=re.escape(words)):
        s.step(7, out=make(np.zeros(CFG.vocab_size, np.float32)))
    assert s.get_state() == before and s.pos == 1


def test_a_cpu_engine_refuses_a_cuda_array(model):
    s = rrwkv_rt.Session(model, threads=1)
    b = rrwkv_rt.Batch(model, capacity=1, threads=1)
    row = b.add()
    out = CudaArray(np.zeros(CFG.vocab_size, np.float32))
    with pytest.raises(ValueError, match="runs on the CPU; pass a NumPy array"):
        s.step(3, out=out)
    with pytest.raises(ValueError, match="runs on the CPU; pass a NumPy array"):
        b.step([row], [3], out=CudaArray(np.zeros((1, CFG.vocab_size), np.float32)))
    assert s.pos == 0


@pytest.mark.real_gpu
def test_a_torch_cuda_tensor_gets_the_logits_on_the_gpu(model):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.fail("a GPU is present for rrwkv_rt but torch has no CUDA; install torch with CUDA to run this test")
    cpu = rrwkv_rt.Session(model, threads=1)
    gpu = rrwkv_rt.Session(model, threads=1, device="cuda")
    out = torch.empty(CFG.vocab_size, device="cuda")
    for t in tokens(CFG.vocab_size, 5, seed=2):
        want = torch.from_numpy(cpu.step(t))
        assert gpu.step(t, out=out) is out
        assert out.is_cuda and (out.cpu() - want).abs().max().item() < 1e-4
