"""What generate("") continues from travels with the session: state files carry the logits the
last generate() ended with (a checksummed section after the state blob), pickled and copied
sessions too. A damaged section is a FormatError, a section of another vocabulary a
StateMismatchError, and the session is unchanged either way."""
from __future__ import annotations

import copy
import os
import pickle
import struct

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError, StateMismatchError
from rrwkv_rt.runtime import state_file
from rrwkv_rt.config import ModelConfig

from gen_helpers import write_random_model

PROMPT = "def main(argv):\n    "
KW = dict(temperature=1.0, top_p=0.9)


def _generated(path):
    s = rrwkv_rt.Session(path, threads=1)
    s.generate(PROMPT, 12, seed=1, **KW)
    return s


def test_state_file_continues_an_empty_prompt_bit_for_bit(models, tmp_path):
    s = _generated(models["b"])
    s.save_state(tmp_path / "s.state")
    t = rrwkv_rt.Session(models["b"], threads=1)
    t.load_state(tmp_path / "s.state")
    assert t.generate("", 15, seed=2, **KW).tokens == s.generate("", 15, seed=2, **KW).tokens


def test_a_bare_state_blob_still_loads_but_has_nothing_to_continue(models, tmp_path):
    s = _generated(models["b"])
    (tmp_path / "bare.state").write_bytes(s.get_state())
    t = rrwkv_rt.Session(models["b"], threads=1)
    t.load_state(tmp_path / "bare.state")
    with pytest.raises(ValueError, match="nothing to continue"):
        t.generate("", 5)


def test_the_continuation_is_dropped_once_the_state_changes(models, tmp_path):
    s = _generated(models["b"])
    s.step(5)
    s.save_state(tmp_path / "s.state")
    assert len((tmp_path / "s.state").read_bytes()) == len(s.get_state())  # no section: it no longer applies


def test_pickle_and_copy_continue_bit_for_bit(models):
    s = _generated(models["b"])
    twins = [pickle.loads(pickle.dumps(s)), copy.copy(s), copy.deepcopy(s)]
    assert twins[1].model == s.model and twins[0].model != s.model  # a copy shares the Model; a pickle reopens it
    ref = s.clone()  # clone() copies the state only, not the continuation
    want = s.generate("", 10, seed=3, **KW).tokens
    for t in twins:
        assert t.pos == ref.pos and t.model.path == s.model.path and t is not s
        assert t.generate("", 10, seed=3, **KW).tokens == want
    with pytest.raises(ValueError, match="nothing to continue"):
        ref.generate("", 5)


def test_pickle_of_a_session_whose_model_file_changed_is_refused(models, tmp_path):
    path = tmp_path / "m.rrwkv"
    path.write_bytes(open(models["a"], "rb").read())
    data = pickle.dumps(_generated(path))
    path.write_bytes(open(models["a2"], "rb").read())  # same shape, other weights
    with pytest.raises(StateMismatchError, match="another model"):
        pickle.loads(data)


def _file_with_section(models, tmp_path):
    s = _generated(models["b"])
    s.save_state(tmp_path / "s.state")
    data = (tmp_path / "s.state").read_bytes()
    blob = bytes(s.get_state())
    assert data.startswith(blob) and data[len(blob):].startswith(state_file.LOGITS_MAGIC)
    return data, len(blob)


def test_every_truncation_and_byte_flip_of_the_section_is_a_format_error(models, tmp_path):
    data, at = _file_with_section(models, tmp_path)
    t = rrwkv_rt.Session(models["b"], threads=1)
    t.step(1)
    before = bytes(t.get_state())
    bad = tmp_path / "bad.state"
    cases = [data[:n] for n in range(at + len(state_file.LOGITS_MAGIC), len(data), 97)]
    cases += [data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:] for i in range(at + 8, len(data), 41)]
    cases.append(data + b"\0")  # padding after the section
    for case in cases:
        bad.write_bytes(case)
        with pytest.raises(FormatError, match="state file"):
            t.load_state(bad)
        assert bytes(t.get_state()) == before
    with pytest.raises(ValueError, match="nothing to continue"):
        t.generate("", 3)


def test_a_section_of_another_vocabulary_is_a_state_mismatch(models, tmp_path):
    data, at = _file_with_section(models, tmp_path)
    logits = np.zeros(100, dtype="<f4").tobytes()
    head = struct.pack("<8sIII", state_file.LOGITS_MAGIC, 1, 100, state_file.zlib.crc32(logits))
    forged = data[:at] + head + struct.pack("<I", state_file.zlib.crc32(head)) + logits
    (tmp_path / "forged.state").write_bytes(forged)
    t = rrwkv_rt.Session(models["b"], threads=1)
    with pytest.raises(StateMismatchError, match="100 logits"):
        t.load_state(tmp_path / "forged.state")
    assert t.pos == 0


def test_token_ids_in_and_out_without_a_tokenizer(models, tmp_path):
    cfg = ModelConfig(arch="rwkv4", n_layer=2, n_embd=32, vocab_size=300)
    bare = write_random_model(tmp_path / "bare.rrwkv", cfg, 5, tokenizer=None)
    s = rrwkv_rt.Session(bare, threads=1)
    r = s.generate([1, 2, 3], 8, seed=4, logprobs=True)
    assert isinstance(r, list) and len(r) == 8 == r.usage["completion_tokens"] and r.finish_reason == "length"
    assert r.tokens == list(r) and len(r.logprobs) == 8 and all(0 <= t < 300 for t in r)
    s.reset()
    assert list(s.generate([1, 2, 3], 8, seed=4, stream=True)) == r
    u = copy.deepcopy(s)  # an empty prompt continues in id mode too
    assert s.generate([], 4, seed=5) == u.generate([], 4, seed=5) and s.pos == 3 + 8 + 4
    with pytest.raises(ValueError, match="carries no tokenizer.*token ids"):
        s.generate("text", 3)
    with pytest.raises(ValueError, match="stop strings need a tokenizer"):
        s.generate([1], 3, stop="x")
    # a model with a tokenizer, asked for ids: the same tokens its text result reports
    t = rrwkv_rt.Session(models["b"], threads=1)
    text = t.generate(list(PROMPT.encode()), 10, seed=6)
    t.reset()
    ids = t.generate(list(PROMPT.encode()), 10, seed=6, tokenizer=False)
    assert isinstance(text, str) and text.tokens == list(ids)
    with pytest.raises(ValueError, match="tokenizer must be"):
        t.generate([1], 3, tokenizer=42)


def test_ids_mode_only_for_a_file_without_a_tokenizer(models, tmp_path):
    """A tokenizer that cannot be loaded (here: the file was replaced after the session opened
    it) is an error, not a silent switch to token ids."""
    path = tmp_path / "m.rrwkv"
    path.write_bytes(open(models["a"], "rb").read())
    s = rrwkv_rt.Session(path, threads=1)
    other = tmp_path / "other.rrwkv"
    other.write_bytes(open(models["a2"], "rb").read())
    os.replace(other, path)
    with pytest.raises(ValueError, match="changed on disk"):
        s.generate([72, 105], 3)


def test_a_pickle_of_a_relative_path_restores_from_another_folder(models, tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.rrwkv").write_bytes(open(models["b"], "rb").read())
    monkeypatch.chdir(tmp_path / "a")
    s = _generated("m.rrwkv")
    data = pickle.dumps(s)
    monkeypatch.chdir(tmp_path)
    t = pickle.loads(data)
    assert t.generate("", 6, seed=7) == s.generate("", 6, seed=7)


def test_split_state_file_takes_any_bytes_like(models, tmp_path):
    data, at = _file_with_section(models, tmp_path)
    for form in (data, bytearray(data), memoryview(data)):
        blob, logits = state_file.split_state_file(form)
        assert len(blob) == at and logits is not None and logits.size == 256


def test_unpickled_sessions_share_one_model(models):
    a, b = _generated(models["b"]), _generated(models["b"])
    ta, tb = pickle.loads(pickle.dumps([a, b]))
    tc = pickle.loads(pickle.dumps(a))
    assert ta.model == tb.model == tc.model and ta.model != a.model  # opened once, not per session
    assert ta.generate("", 5, seed=8) == a.generate("", 5, seed=8)
