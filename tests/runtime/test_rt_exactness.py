"""Logits of the CPU runtime against independent implementations (max |Δlogit| <= 1e-4):
the official `rwkv` package (RWKV-4, 'cpu fp32') and the reference model's parallel form
(RWKV-4 and RRWKV in both channel-mix modes, several s, lengths that are not multiples of s).
"""
import os

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt.runtime.state_file import state_arrays

from rt_helpers import make_config, max_abs, reference_logits, tokens

torch = pytest.importorskip("torch")

TOL = 1e-4
N = 70  # >= 64 tokens, not a multiple of 3 or 16


@pytest.fixture(scope="module")
def official_rwkv():
    os.environ["RWKV_JIT_ON"] = "0"  # read at import time: no TorchScript, no CUDA kernel
    os.environ["RWKV_CUDA_ON"] = "0"
    pytest.importorskip("rwkv")
    from rwkv.model import RWKV as OfficialRWKV
    return OfficialRWKV


@pytest.mark.parametrize("shape", [(2, 64, 211, 0), (3, 96, 500, 200)], ids=["L2-C64", "L3-C96-F200"])
def test_rwkv4_matches_official_package(model_factory, official_rwkv, tmp_path, shape):
    n_layer, n_embd, vocab, ffn = shape
    path, ref = model_factory(make_config("rwkv4", n_layer, n_embd, vocab, ffn_dim=ffn), seed=3)
    pth = tmp_path / "model.pth"
    torch.save({k: v.detach().clone().contiguous() for k, v in ref.state_dict().items()}, pth)
    official = official_rwkv(str(pth), "cpu fp32", verbose=False)
    toks = tokens(vocab, N, seed=1).tolist()
    with torch.no_grad():
        theirs = []
        state = None
        for t in toks:
            out, state = official.forward([t], state)
            theirs.append(out.numpy())
    theirs = np.stack(theirs)

    s = rrwkv_rt.Session(path)
    stepped = np.stack([s.step(t) for t in toks])
    assert max_abs(stepped, theirs) <= TOL
    s.reset()
    assert max_abs(s.forward(toks, all_logits=True), theirs) <= TOL
    # the official state (att_x, aa, bb, pp, ffn_x per layer) after the last token agrees as well
    fields = state_arrays(s.model, s.get_state())
    for i in range(n_layer):
        for j, name in enumerate(("att_x", "aa", "bb", "pp", "ffn_x")):  # the official state's order
            np.testing.assert_allclose(fields[name][i], state[5 * i + j].numpy(), rtol=1e-4, atol=1e-4)


CASES = [("rwkv4", 1, "replace")] + [("rrwkv", s, m) for s in (1, 3, 16) for m in ("replace", "add")]


@pytest.mark.parametrize("arch,s,mode", CASES, ids=[f"{a}-s{s}-{m}" for a, s, m in CASES])
def test_matches_reference_parallel_form(model_factory, arch, s, mode):
    cfg = make_config(arch, n_layer=2, n_embd=64, vocab=211, s=s, mode=mode)
    path, ref = model_factory(cfg, seed=5)
    toks = tokens(cfg.vocab_size, N, seed=2)
    expected = reference_logits(ref, toks)
    sess = rrwkv_rt.Session(path)
    assert max_abs(sess.forward(toks, all_logits=True), expected) <= TOL
    sess.reset()
    assert max_abs(np.stack([sess.step(int(t)) for t in toks]), expected) <= TOL
    assert sess.pos == N


def test_long_prompt_spans_several_prefill_chunks(model_factory):
    cfg = make_config("rrwkv", n_layer=1, n_embd=32, vocab=97, s=7, mode="add")
    path, ref = model_factory(cfg, seed=8)
    toks = tokens(cfg.vocab_size, 300, seed=4)  # > 2 internal chunks of 128
    expected = reference_logits(ref, toks)
    sess = rrwkv_rt.Session(path)
    assert max_abs(sess.forward(toks, all_logits=True), expected) <= TOL
    sess.reset()
    assert max_abs(sess.forward(toks), expected[-1]) <= TOL


def test_ragged_shapes(model_factory):
    """Sizes that are not multiples of any SIMD width or task block."""
    cfg = make_config("rrwkv", n_layer=2, n_embd=37, vocab=101, s=5, mode="replace", ffn_dim=83)
    path, ref = model_factory(cfg, seed=9)
    toks = tokens(cfg.vocab_size, 41, seed=5)
    expected = reference_logits(ref, toks)
    sess = rrwkv_rt.Session(path)
    assert max_abs(sess.forward(toks, all_logits=True), expected) <= TOL
    sess.reset()
    assert max_abs(np.stack([sess.step(int(t)) for t in toks]), expected) <= TOL
