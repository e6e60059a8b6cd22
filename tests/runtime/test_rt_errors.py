"""Bad input: clear exceptions of the documented types, and the session state left unchanged."""
import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, tokens

pytest.importorskip("torch")

V = 131


@pytest.fixture(scope="module")
def paths(model_factory):
    rr = make_config("rrwkv", n_layer=2, n_embd=32, vocab=V, s=3, mode="replace")
    return {
        "rrwkv": model_factory(rr, seed=40)[0],
        "rrwkv_other_weights": model_factory(rr, seed=41)[0],
        "rrwkv_other_s": model_factory(rr.with_(medium_interval=4), seed=40)[0],
        "rwkv4": model_factory(make_config("rwkv4", n_layer=2, n_embd=32, vocab=V), seed=40)[0],
        "rwkv4_wider": model_factory(make_config("rwkv4", n_layer=2, n_embd=48, vocab=V), seed=40)[0],
    }


@pytest.fixture
def sess(paths):
    s = rrwkv_rt.Session(paths["rrwkv"])
    s.forward(tokens(V, 7, seed=1))
    return s


@pytest.mark.parametrize("bad", [-1, V, V + 1000, -(2**40), 2**70])
def test_step_token_out_of_range(sess, bad):
    before = sess.get_state()
    with pytest.raises(IndexError) as e:
        sess.step(bad)
    assert str(bad) in str(e.value) and f"< {V}" in str(e.value) and "0 <=" in str(e.value)
    assert sess.get_state() == before and sess.pos == 7


def test_step_rejects_non_integers(sess):
    with pytest.raises(TypeError):
        sess.step(1.0)
    assert sess.pos == 7


def test_forward_token_out_of_range_anywhere(sess):
    before = sess.get_state()
    toks = tokens(V, 20, seed=2)
    toks[13] = V
    with pytest.raises(IndexError) as e:
        sess.forward(toks)
    assert f"token {V} at index 13" in str(e.value) and f"< {V}" in str(e.value)
    assert sess.get_state() == before and sess.pos == 7


@pytest.mark.parametrize("bad", [[1.5, 2.0], [[1, 2], [3, 4]], "abc"])
def test_forward_rejects_non_integer_or_nested_tokens(sess, bad):
    before = sess.get_state()
    with pytest.raises(ValueError):
        sess.forward(bad)
    assert sess.get_state() == before


def test_forward_empty(sess):
    with pytest.raises(ValueError):
        sess.forward([])
    assert sess.forward([], all_logits=True).shape == (0, V)
    assert sess.pos == 7


def test_state_blob_wrong_size(sess):
    blob = sess.get_state()
    before = blob
    for bad in (blob[:-4], blob + b"\0" * 4, blob[:10], b""):
        with pytest.raises(ValueError):
            sess.set_state(bad)
        assert sess.get_state() == before


def test_state_blob_corrupt(sess):
    blob = bytearray(sess.get_state())
    blob[200] ^= 0xFF
    before = sess.get_state()
    with pytest.raises(ValueError, match="checksum"):
        sess.set_state(bytes(blob))
    with pytest.raises(ValueError, match="not a session state"):
        sess.set_state(b"x" * len(blob))
    assert sess.get_state() == before


@pytest.mark.parametrize("other,words", [
    ("rrwkv_other_weights", "another model of the same shape"),
    ("rrwkv_other_s", "medium_interval=4"),
    ("rwkv4", "rwkv4"),
    ("rwkv4_wider", "n_embd=48"),
])
def test_state_from_another_model_is_refused(paths, sess, other, words):
    foreign = rrwkv_rt.Session(paths[other])
    foreign.forward(tokens(V, 5, seed=3))
    before = sess.get_state()
    with pytest.raises(ValueError) as e:
        sess.set_state(foreign.get_state())
    assert words in str(e.value)
    assert sess.get_state() == before and sess.pos == 7


def test_bad_arguments(paths, tmp_path):
    with pytest.raises(ValueError, match="threads"):
        rrwkv_rt.Session(paths["rwkv4"], threads=0)
    with pytest.raises(FileNotFoundError):
        rrwkv_rt.Model(str(tmp_path / "missing.rrwkv"))
    with pytest.raises(FileNotFoundError):
        rrwkv_rt.Session(tmp_path / "missing.rrwkv")
    (tmp_path / "junk.rrwkv").write_bytes(b"not a model at all" * 10)
    with pytest.raises(rrwkv_rt.FormatError):
        rrwkv_rt.Model(tmp_path / "junk.rrwkv")
    s = rrwkv_rt.Session(paths["rwkv4"])
    for out in (np.zeros(V, np.float64), np.zeros(V + 1, np.float32), np.zeros((2, V), np.float32)[:, 0]):
        with pytest.raises(ValueError):
            s.step(1, out=out)
    assert s.pos == 0
