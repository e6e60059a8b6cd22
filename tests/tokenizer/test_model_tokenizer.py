"""`Model.tokenizer` and `Session.tokenizer`: the tokenizer the file carries, for every kind (World
trie, bytes, a Hugging Face tokenizer.json), or None when it has none; encode(str) -> ids,
decode(ids) -> str and decode_bytes(ids) -> bytes, checked against an independent tokenizer of
the same kind (the rwkv package's TRIE_TOKENIZER, the bytes themselves, the `tokenizers` library)."""
from __future__ import annotations

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt.config import ModelConfig
from rrwkv_rt.io.format import write_model

TEXT = "def naïve(x):\n    return '日本語 🎉' * 3\n"


def tiny_model(path, vocab_size: int, tokenizer) -> str:
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=vocab_size)
    rng = np.random.default_rng(0)
    tensors = {name: (rng.standard_normal(shape).astype(np.float32), "f32")
               for name, shape, _ in rrwkv_rt._core.runtime_layout(cfg.to_dict())}
    write_model(path, cfg, tensors, tokenizer=tokenizer, progress=False)
    return str(path)


def hf_json(tmp_path) -> str:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers
    hf = tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator([TEXT * 5, "import os\nprint('hello world')\n"], trainer=trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path / "tokenizer.json"
    hf.save(str(path))
    return str(path)


def reference(kind: str, tmp_path):
    """(encode(str) -> ids, vocab size, header) of an independent implementation of the kind."""
    if kind == "world":
        rwkv_tokenizer = pytest.importorskip("rwkv.rwkv_tokenizer")
        import os
        ref = rwkv_tokenizer.TRIE_TOKENIZER(os.path.join(os.path.dirname(rwkv_tokenizer.__file__),
                                                         "rwkv_vocab_v20230424.txt"))
        return ref.encode, 65536, rrwkv_rt.Tokenizer.world().header
    if kind == "bytes":
        return (lambda s: list(s.encode("utf-8"))), 256, ("bytes", b"")
    from tokenizers import Tokenizer as HF
    path = hf_json(tmp_path)
    ref = HF.from_file(path)
    with open(path, "rb") as f:
        return (lambda s: ref.encode(s, add_special_tokens=False).ids), ref.get_vocab_size(), ("hf", f.read())


@pytest.mark.parametrize("kind", ["world", "bytes", "hf"])
def test_model_and_session_carry_the_files_tokenizer(kind, tmp_path):
    encode, vocab, header = reference(kind, tmp_path)
    model = rrwkv_rt.Model(tiny_model(tmp_path / "m.rrwkv", vocab, header))
    session = rrwkv_rt.Session(model, threads=1)
    tok = model.tokenizer
    assert tok is not None and tok.kind == kind and session.tokenizer is tok  # the same cached object
    ids = tok.encode(TEXT)
    assert ids == encode(TEXT) and all(isinstance(i, int) for i in ids)
    text = tok.decode(ids)
    assert isinstance(text, str) and text == TEXT
    assert tok.decode_bytes(ids) == TEXT.encode("utf-8")
    # bytes in, exact bytes out; a cut character decodes to U+FFFD as text
    cut = tok.encode("é".encode("utf-8")[:1])
    assert tok.decode_bytes(cut) == b"\xc3" and tok.decode(cut) == "\ufffd"
    # what generate() reads the prompt with
    session.generate(TEXT, 2, seed=0)
    assert session.pos == len(ids) + 2 or session.pos == len(ids) + 1  # (a drawn stop token is not fed)


def test_none_when_the_file_has_no_tokenizer(tmp_path):
    model = rrwkv_rt.Model(tiny_model(tmp_path / "none.rrwkv", 300, None))
    assert model.tokenizer is None and rrwkv_rt.Session(model).tokenizer is None


def test_a_file_whose_tokenizer_is_broken_raises_instead_of_none(tmp_path):
    path = tiny_model(tmp_path / "bad.rrwkv", 300, ("world", b"not a vocabulary\n"))
    model = rrwkv_rt.Model(path)
    with pytest.raises(rrwkv_rt.FormatError, match="tokenizer"):
        model.tokenizer
