"""Step-by-step == forward in one call == forward in any chunking (<= 1e-5), chunks that cut
segments included; save / restore / clone / reset continue bit-identically; every SIMD kernel
set and the no-BLAS path agree."""
import os
import subprocess
import sys

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import _core

from rt_helpers import make_config, max_abs, reference_logits, tokens

pytest.importorskip("torch")

TOL = 1e-5
CASES = [("rwkv4", 1, "replace"), ("rrwkv", 3, "replace"), ("rrwkv", 16, "add"), ("rrwkv", 1, "add")]
IDS = [f"{a}-s{s}-{m}" for a, s, m in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def model_path(request, model_factory):
    arch, s, mode = request.param
    path, _ = model_factory(make_config(arch, n_layer=2, n_embd=48, vocab=157, s=s, mode=mode), seed=21)
    return path


def run_chunks(sess, toks, chunks):
    """Feed toks in the given chunk sizes (0 = one step() call); returns (T, V) logits."""
    out, i = [], 0
    for c in chunks:
        if c == 0:
            out.append(sess.step(int(toks[i]))[None])
            i += 1
        else:
            out.append(sess.forward(toks[i:i + c], all_logits=True))
            i += c
    assert i == len(toks)
    return np.concatenate(out)


def test_step_equals_forward_in_any_chunking(model_path):
    toks = tokens(157, 75, seed=3)
    whole = rrwkv_rt.Session(model_path).forward(toks, all_logits=True)
    stepped = run_chunks(rrwkv_rt.Session(model_path), toks, [0] * 75)
    assert max_abs(stepped, whole) <= TOL
    rng = np.random.default_rng(0)
    for trial in range(3):
        chunks, left = [], 75
        while left:
            c = int(min(left, rng.choice([0, 1, 2, 4, 5, 7, 8, 13, 17, 40])))
            chunks.append(c)
            left -= max(c, 1)
        got = run_chunks(rrwkv_rt.Session(model_path), toks, chunks)
        assert max_abs(got, whole) <= TOL, chunks
    # last-logits form equals the last row
    assert max_abs(rrwkv_rt.Session(model_path).forward(toks), whole[-1]) <= TOL


def test_save_restore_clone_continue_bit_identically(model_path):
    toks = tokens(157, 60, seed=4)
    a = rrwkv_rt.Session(model_path)
    a.forward(toks[:23])  # stops mid-segment for s = 3 and s = 16
    blob = a.get_state()
    b = a.clone()
    c = rrwkv_rt.Session(model_path)
    c.set_state(blob)
    assert a.pos == b.pos == c.pos == 23
    expected = run_chunks(a, toks[23:], [0, 0, 5, 0, 11, 0, 0, 16])
    for other in (b, c):
        got = run_chunks(other, toks[23:], [0, 0, 5, 0, 11, 0, 0, 16])
        np.testing.assert_array_equal(got, expected)
    assert a.get_state() == b.get_state() == c.get_state()


def test_clone_is_independent(model_path):
    toks = tokens(157, 10, seed=5)
    a = rrwkv_rt.Session(model_path)
    a.forward(toks[:4])
    b = a.clone()
    before = a.get_state()
    b.forward(toks[4:])
    assert a.get_state() == before and a.pos == 4 and b.pos == 10
    assert b.model == a.model


def test_reset_returns_to_the_initial_state(model_path):
    toks = tokens(157, 30, seed=6)
    fresh = rrwkv_rt.Session(model_path)
    initial = fresh.get_state()
    expected = run_chunks(fresh, toks, [0, 3, 0, 25])
    used = rrwkv_rt.Session(model_path)
    used.forward(tokens(157, 19, seed=7))
    used.reset()
    assert used.pos == 0 and used.get_state() == initial
    np.testing.assert_array_equal(run_chunks(used, toks, [0, 3, 0, 25]), expected)


@pytest.mark.parametrize("isa", ["avx2", "scalar"])
def test_every_kernel_set_agrees(model_factory, isa):
    if not _core._isa_supported(isa):
        pytest.skip(f"{isa} kernels not available here")
    cfg = make_config("rrwkv", n_layer=2, n_embd=37, vocab=101, s=4, mode="add", ffn_dim=70)
    path, ref = model_factory(cfg, seed=30)
    toks = tokens(101, 33, seed=8)
    expected = reference_logits(ref, toks)
    default = _core.cpu_isa()
    try:
        _core._set_isa(isa)
        assert _core.cpu_isa() == isa
        sess = rrwkv_rt.Session(path)
        assert max_abs(sess.forward(toks, all_logits=True), expected) <= 1e-4
        sess.reset()
        assert max_abs(np.stack([sess.step(int(t)) for t in toks]), expected) <= 1e-4
    finally:
        _core._set_isa("auto")
    assert _core.cpu_isa() == default


_NO_BLAS_SCRIPT = """
import sys, numpy as np, rrwkv_rt
from rrwkv_rt import _core
assert "built-in" in _core.blas_info() or "disabled" in _core.blas_info(), _core.blas_info()
path, toks, out = sys.argv[1], np.load(sys.argv[2]), sys.argv[3]
np.save(out, rrwkv_rt.Session(path).forward(toks, all_logits=True))
"""


def test_forward_without_blas_and_simd(model_path, tmp_path):
    """The fallback GEMM (matvec kernels) on the portable scalar kernels, in a fresh process."""
    toks = tokens(157, 70, seed=9)
    np.save(tmp_path / "toks.npy", toks)
    env = dict(os.environ, RRWKV_BLAS="0", RRWKV_ISA="scalar")
    subprocess.run([sys.executable, "-c", _NO_BLAS_SCRIPT, model_path, str(tmp_path / "toks.npy"),
                    str(tmp_path / "out.npy")], check=True, env=env, cwd=str(tmp_path))
    got = np.load(tmp_path / "out.npy")
    assert max_abs(got, rrwkv_rt.Session(model_path).forward(toks, all_logits=True)) <= TOL
