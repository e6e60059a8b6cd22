"""The native byte-level BPE encoder (csrc/tokenizer/bpe_tokenizer.h) against the `tokenizers`
library, on a tokenizer.json built here with the structure of the real GPT-NeoX 20B one (NFC
normalizer; ByteLevel pre-tokenizer, post-processor and decoder; <|endoftext|> and <|padding|>
as special tokens 0 and 1; runs of 2..24 spaces as added, normalized, non-special tokens at the
end): the same ids on the >1 MB corpus of test_hf_tokenizer.py plus mixed scripts, and on every
code point of Unicode in several contexts; files of other kinds
refused by name (and run by the library from Python instead). Exact bytes for any input when the
file has no normalizer."""
from __future__ import annotations

import copy
import json

import pytest

import rrwkv_rt
from rrwkv_rt import _core
from rrwkv_rt.tokenizer import Tokenizer

import tok_corpus
from test_hf_tokenizer import corpus

tokenizers = pytest.importorskip("tokenizers")

# Code points whose normalization differs between Unicode versions: our tables are Unicode 14
# (tools/gen_unicode_tables.py); the library's NFC data predate U+1DF6 (combining class 232 since
# Unicode 14, unassigned before), so it leaves "x\u1df6\u0301" unordered.
UNICODE_VERSION_GAPS = {0x1DF6}


@pytest.fixture(scope="module")
def neox_like(tmp_path_factory):
    """(path, the library's Tokenizer) of a GPT-NeoX-structured byte-level BPE."""
    from tokenizers import AddedToken, Tokenizer as HF, decoders, models, normalizers, pre_tokenizers, processors, trainers
    hf = HF(models.BPE())
    hf.normalizer = normalizers.NFC()
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    hf.post_processor = processors.ByteLevel(trim_offsets=True)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator(corpus()[:40], trainer=trainers.BpeTrainer(
        vocab_size=2000, special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf.add_tokens([AddedToken(" " * k, normalized=True) for k in range(24, 1, -1)])
    path = tmp_path_factory.mktemp("neox") / "20B_tokenizer.json"
    hf.save(str(path))
    return str(path), hf


def library_ids(hf, text: str) -> list[int]:
    return hf.encode(text, add_special_tokens=False).ids


def test_the_structure_is_gpt_neox(neox_like):
    spec = json.loads(open(neox_like[0], encoding="utf-8").read())
    assert spec["normalizer"]["type"] == "NFC" and spec["pre_tokenizer"]["type"] == "ByteLevel"
    assert spec["decoder"]["type"] == "ByteLevel" and spec["post_processor"]["type"] == "ByteLevel"
    added = {t["content"]: t for t in spec["added_tokens"]}
    assert added["<|endoftext|>"]["id"] == 0 and added["<|endoftext|>"]["special"]
    assert added["<|padding|>"]["id"] == 1 and not added["<|endoftext|>"]["normalized"]
    assert added[" " * 24]["normalized"] and not added[" " * 24]["special"]


def test_python_runs_it_natively_with_the_librarys_ids(neox_like):
    path, hf = neox_like
    tok = Tokenizer.from_spec(path)
    assert type(tok) is Tokenizer and tok.kind == "hf" and isinstance(tok._t, _core.Tokenizer)
    assert tok.vocab_size == hf.get_vocab_size() and tok.stop_token() == 0
    texts = corpus() + [data.decode("utf-8") for _, data, is_text in tok_corpus.corpus([], 0.3) if is_text]
    texts += ["a <|endoftext|> b<|padding|><|endoftext|>", "x" + " " * 30 + "y\n\n\n   \t z", "e\u0301 A\u030a \u1100\u1161\u11a8"]
    total = 0
    for text in texts:
        ids = tok.encode(text)
        assert ids == library_ids(hf, text), text[:80]
        assert tok.decode(ids) == hf.decode(ids, skip_special_tokens=False)  # the text in NFC
        total += len(text.encode("utf-8"))
    assert total > 2_000_000


def test_every_code_point_in_context(neox_like):
    """Each scalar value beside letters, digits, spaces and a combining mark: the pattern's
    classes (\\p{L}, \\p{N}, \\s) and NFC agree with the library's for all of them."""
    path, hf = neox_like
    tok = Tokenizer.from_spec(path)
    # all of planes 0 and 1, every 17th code point above (planes 2-16 are CJK blocks and unassigned)
    scalars = [c for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF] + list(range(0x20000, 0x110000, 17))
    differ = set()
    for i in range(0, len(scalars), 4096):
        chunk = scalars[i:i + 4096]
        piece = lambda c: f"x{chr(c)} {chr(c)}1{chr(c)}\u0301 {chr(c)}{chr(c)}\n"  # noqa: E731
        if tok.encode("".join(map(piece, chunk))) != library_ids(hf, "".join(map(piece, chunk))):
            differ |= {c for c in chunk if tok.encode(piece(c)) != library_ids(hf, piece(c))}
    assert differ <= UNICODE_VERSION_GAPS, sorted(map(hex, differ))


def test_any_bytes_round_trip(neox_like):
    """Without a normalizer any bytes (invalid UTF-8 too) come back exactly; with NFC, text comes
    back in NFC."""
    import unicodedata
    nfc = Tokenizer.from_spec(neox_like[0])
    plain = Tokenizer.from_header("hf", edited(neox_like[0], lambda s: s.update(normalizer=None)))
    for name, data, is_text in tok_corpus.corpus([], 0.2):
        assert plain.decode_bytes(plain.encode(data)) == data, name
        if is_text:
            assert nfc.decode(nfc.encode(data)) == unicodedata.normalize("NFC", data.decode("utf-8")), name
    assert nfc.encode(b"") == [] and nfc.decode_bytes([]) == b""


def edited(path: str, edit) -> bytes:
    spec = json.loads(open(path, encoding="utf-8").read())
    edit(spec)
    return json.dumps(spec).encode("utf-8")


OTHER_KINDS = {  # an edit to the NeoX-like file -> what the refusal names
    "a WordPiece model": (lambda s: s["model"].update(type="WordPiece"), "model is of type 'WordPiece'"),
    "a Split pre-tokenizer": (lambda s: s.update(pre_tokenizer={"type": "Split", "pattern": {"Regex": "\\s"},
                                                                "behavior": "Isolated", "invert": False}),
                              "pre_tokenizer is of type 'Split'"),
    "a Lowercase normalizer": (lambda s: s.update(normalizer={"type": "Lowercase"}), "normalizer is of type 'Lowercase'"),
    "BPE dropout": (lambda s: s["model"].update(dropout=0.1), "model.dropout is 0.1"),
    "an lstrip added token": (lambda s: s["added_tokens"][0].update(lstrip=True), "has lstrip true"),
    "truncation": (lambda s: s.update(truncation={"direction": "Right", "max_length": 8, "strategy": "LongestFirst",
                                                  "stride": 0}), "truncation is set"),
}


@pytest.mark.parametrize("what", sorted(OTHER_KINDS))
def test_other_kinds_are_refused_by_name_and_run_by_the_library(neox_like, what):
    edit, named = OTHER_KINDS[what]
    data = edited(neox_like[0], edit)
    with pytest.raises(rrwkv_rt.FormatError) as e:
        _core.Tokenizer.from_header("hf", data, "tokenizer.json 'x'")
    assert named in str(e.value) and "native encoder covers byte-level BPE" in str(e.value), str(e.value)
    try:  # Python falls back to the library where the library can read the file
        from tokenizers import Tokenizer as HF
        ref = HF.from_str(data.decode("utf-8"))
    except Exception:
        return
    tok = Tokenizer.from_header("hf", data)
    assert type(tok).__name__ == "HFTokenizer"
    if what != "BPE dropout":  # (dropout draws its merges at random)
        assert tok.encode("naïve 日本 text") == library_ids(ref, "naïve 日本 text")


@pytest.mark.parametrize("edit,named", [
    (lambda s: s["model"]["merges"].append("zz qq"), "names a token that model.vocab lacks"),
    (lambda s: s["model"]["vocab"].pop("Ġ"), "model.vocab has no token for the byte 32"),
    (lambda s: s["model"]["vocab"].update({"big": 2**40}), "expected 0 <= id <= "),
    (lambda s: s["model"].update(merges=[["a"]]), "model.merges[0] must be"),
    (lambda s: s.pop("decoder"), "has no field 'decoder'"),
])
def test_malformed_files_name_the_field(neox_like, edit, named):
    data = edited(neox_like[0], edit)
    with pytest.raises(rrwkv_rt.FormatError, match="tokenizer.json 'x'") as e:
        _core.Tokenizer.from_header("hf", data, "tokenizer.json 'x'")
    assert named in str(e.value), str(e.value)


@pytest.mark.parametrize("data", [b"", b"{", b'{"model": }', b"[1, 2]", b'{"a": "\xff"}', b"{} trailing"])
def test_bad_json_is_a_format_error(data):
    with pytest.raises(rrwkv_rt.FormatError, match="tokenizer.json 'x'"):
        _core.Tokenizer.from_header("hf", data, "tokenizer.json 'x'")


def test_ids_beyond_the_models_vocabulary_are_refused(neox_like, tmp_path):
    import numpy as np
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.io.format import write_model
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=300)  # the tokenizer has 2023 ids
    tensors = {name: (np.zeros(shape, np.float32), "f32") for name, shape, _ in _core.runtime_layout(cfg.to_dict())}
    path = tmp_path / "small.rrwkv"
    write_model(path, cfg, tensors, tokenizer=("hf", open(neox_like[0], "rb").read()), progress=False)
    with pytest.raises(rrwkv_rt.FormatError, match="the model's vocab_size is 300"):
        Tokenizer.from_model(str(path))
