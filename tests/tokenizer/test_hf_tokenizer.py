"""Hugging Face tokenizer.json (kind "hf"): a byte-level BPE built here with the `tokenizers`
library (the construction of GPT-NeoX 20B's, smaller), its ids identical to the library's on a
large mixed corpus, exact bytes per token, embedded by `export --vocab tokenizer.json`, and
generation on a Pile-style model with it; any object with encode/decode works as a tokenizer."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt.tokenizer import Tokenizer

tokenizers = pytest.importorskip("tokenizers")
torch = pytest.importorskip("torch")

MIXED = ["naïve café – “quotes” ½ €", "日本語のテキストと絵文字 🎉🦀", "Ünïcödé\ttabs\r\nand CRLF", "    indented\n\n\n",
         "emoji joiners 👩‍👩‍👧 and flags 🇫🇷", "\x00\x01 control \x7f", "ÅÄÖ åäö ß ẞ", "한국어 텍스트", "a" * 300]


def corpus() -> list[str]:
    files = sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))[:120]
    texts = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts + MIXED * 20


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    from tokenizers import Tokenizer as HF, decoders, models, pre_tokenizers, trainers
    hf = HF(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    hf.train_from_iterator(corpus()[:40], trainer=trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    hf.save(str(path))
    return str(path)


def test_ids_and_bytes_equal_the_library(tokenizer_json):
    from tokenizers import Tokenizer as HF
    ref = HF.from_file(tokenizer_json)
    ours = Tokenizer.from_spec(tokenizer_json)
    assert ours.kind == "hf" and ours.vocab_size == ref.get_vocab_size()
    total = 0
    for text in corpus():  # ~1.5 MB of source code plus mixed scripts, emoji, controls
        ids = ours.encode(text)
        assert ids == ref.encode(text, add_special_tokens=False).ids
        assert ours.decode_bytes(ids) == text.encode("utf-8") and ours.decode(ids) == text  # lossless
        assert b"".join(ours.token_bytes(i) for i in ids) == text.encode("utf-8")
        total += len(text)
    assert total > 1_000_000


@pytest.fixture(scope="module")
def pile_style_model(tokenizer_json, tmp_path_factory):
    """A random RWKV-4 .pth with this tokenizer's vocabulary, exported with --vocab tokenizer.json."""
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import random_model
    vocab = Tokenizer.from_spec(tokenizer_json).vocab_size
    ref = random_model(ModelConfig("rwkv4", n_layer=2, n_embd=64, vocab_size=vocab), seed=3)
    d = tmp_path_factory.mktemp("pile")
    torch.save(ref.state_dict(), d / "RWKV-4-Pile-tiny.pth")
    out = d / "pile.rrwkv"
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "export", str(d / "RWKV-4-Pile-tiny.pth"), str(out),
                        "--vocab", tokenizer_json], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


def test_export_embeds_it_and_generation_uses_it(pile_style_model, tokenizer_json):
    f = rrwkv_rt.ModelFile(pile_style_model)
    assert f.fields["tokenizer.kind"] == "hf"
    tok = Tokenizer.from_model(pile_style_model)
    s = rrwkv_rt.Session(pile_style_model)
    text = s.generate("def main(", 40, temperature=0)
    s.reset()
    stream = s.generate("def main(", 40, temperature=0, stream=True)
    assert "".join(stream) == text
    greedy = stream.tokens
    # the same tokens by hand: the prompt through the library's ids, then argmax steps
    s.reset()
    logits, want = s.forward(tok.encode("def main(")), []
    eos = tok.stop_token()
    for _ in range(40):
        t = int(np.argmax(logits))
        if t == eos:
            break
        want.append(t)
        logits = s.step(t)
    assert greedy == want and text == tok.decode(want)


def test_any_object_with_encode_and_decode(pile_style_model, tokenizer_json):
    from tokenizers import Tokenizer as HF
    raw = HF.from_file(tokenizer_json)  # encode -> Encoding, decode -> str
    s = rrwkv_rt.Session(pile_style_model)
    a = s.generate("import os", 20, temperature=0, tokenizer=raw)
    s.reset()
    b = s.generate("import os", 20, temperature=0)
    assert isinstance(a, str) and len(a) > 0
    assert a.replace("\ufffd", "") == b.replace("\ufffd", "") or a == b
    with pytest.raises(ValueError, match="encode"):
        s.generate("x", 2, tokenizer=object())


def test_a_bad_tokenizer_json_is_a_clear_error(tmp_path):
    p = tmp_path / "tokenizer.json"
    p.write_text('{"not": "a tokenizer"}')
    with pytest.raises(ValueError, match="tokenizer.json"):
        Tokenizer.from_spec(str(p))
