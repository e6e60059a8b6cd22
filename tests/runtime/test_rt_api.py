"""The Python surface of Model and Session."""
import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, max_abs, tokens

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def path(model_factory):
    return model_factory(make_config("rrwkv", n_layer=2, n_embd=32, vocab=97, s=4, mode="add"), seed=50)[0]


def test_model_info(path):
    m = rrwkv_rt.Model(path)
    info = m.info
    assert info["arch"] == "rrwkv" and info["n_layer"] == 2 and info["n_embd"] == 32
    assert info["vocab_size"] == 97 and info["medium_interval"] == 4 and info["cm_mode"] == "add"
    assert info["ffn_dim"] == 128 and info["dtype"] == "f32" and info["path"] == path
    assert info["header_crc32"] == rrwkv_rt.ModelFile(path).header_crc32
    assert 0 < info["decode_bytes_per_token"] < info["file_size"]
    assert "rrwkv" in repr(m)


def test_session_from_path_or_model(path):
    m = rrwkv_rt.Model(path)
    a, b = rrwkv_rt.Session(m, threads=1), rrwkv_rt.Session(path)
    assert a.model == m and a.threads == 1 and b.threads >= 1
    toks = tokens(97, 9, seed=1)
    np.testing.assert_array_equal(a.forward(toks), b.forward(toks))


def test_step_and_forward_outputs(path):
    s = rrwkv_rt.Session(path)
    assert s.pos == 0
    logits = s.step(3)
    assert logits.dtype == np.float32 and logits.shape == (97,) and s.pos == 1
    out = np.empty(97, np.float32)
    assert s.step(np.int64(4), out=out) is out and s.pos == 2
    last = s.forward(np.array([5, 6, 7], dtype=np.int32))
    assert last.shape == (97,) and s.pos == 5
    allx = s.forward((8, 9), all_logits=True)
    assert allx.shape == (2, 97) and allx.dtype == np.float32 and s.pos == 7
    blob = s.get_state()
    assert isinstance(blob, bytes)
    s.set_state(bytearray(blob))  # any bytes-like object
    s.set_state(memoryview(blob))
    assert s.pos == 7


def test_sampling_loop_in_python(path):
    """The intended use: prefill, then sample step by step."""
    s = rrwkv_rt.Session(path)
    logits = s.forward(tokens(97, 12, seed=2))
    gen = []
    for _ in range(10):
        tok = int(np.argmax(logits))
        gen.append(tok)
        logits = s.step(tok)
    s2 = rrwkv_rt.Session(path)
    again = s2.forward(np.concatenate([tokens(97, 12, seed=2), gen]), all_logits=True)
    assert max_abs(again[-1], logits) <= 1e-5


def test_diagnostics():
    assert rrwkv_rt._core.cpu_isa() in ("avx512", "avx2", "scalar")
    assert isinstance(rrwkv_rt._core.blas_info(), str)
    assert rrwkv_rt._core.read_bandwidth(8 << 20, threads=1, repeats=1) > 1e8
