"""A model file whose header holds a Hugging Face tokenizer (kind "hf") that is not UTF-8, or not a
tokenizer.json, is a bad file: FormatError naming the field, wherever the tokenizer is read."""
import pytest

import rrwkv_rt
from rrwkv_rt.config import ModelConfig
from rrwkv_rt.tokenizer import Tokenizer

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")


def _model(tmp_path, vocab: bytes) -> str:
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    from rrwkv_rt.reference import random_model
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=32, vocab_size=64)
    sd = {k: v.numpy() for k, v in random_model(cfg, seed=1).state_dict().items()}
    path = tmp_path / "bad_vocab.rrwkv"
    write_model(path, cfg, to_runtime_layout(sd, cfg, "f32"), tokenizer=("hf", vocab))
    return str(path)


@pytest.mark.parametrize("vocab,words", [(b'{"model": "\xff\xfe"}', "UTF-8"),
                                         (b'{"not": "a tokenizer"}', "")])
def test_a_bad_hf_vocabulary_is_a_format_error(tmp_path, vocab, words):
    path = _model(tmp_path, vocab)
    model = rrwkv_rt.Model(path)  # the weights are fine: the tokenizer is read when it is needed
    for read in (lambda: Tokenizer.from_model(path), lambda: rrwkv_rt.Session(model, threads=1).generate("x", 2)):
        with pytest.raises(rrwkv_rt.FormatError, match="tokenizer.vocab") as e:
            read()
        assert words in str(e.value)
