"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/TARGET/) from real files: small models
written by the project's own writer (every architecture, mode, dtype and tokenizer kind),
excerpts of the shipped World vocabulary, and texts. The state seeds come from the state
fuzzer itself (RRWKV_FUZZ_WRITE_SEEDS, see tools/fuzz.sh), since they must match its model.

    python tools/make_fuzz_seeds.py        # needs rrwkv_rt installed
"""
from __future__ import annotations

import os
import sys

import numpy as np

from rrwkv_rt import ModelConfig, _core
from rrwkv_rt.io.format import write_model
from rrwkv_rt.tokenizer import WORLD_VOCAB

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")


def world_lines() -> list[bytes]:
    with open(WORLD_VOCAB, "rb") as f:
        return f.read().split(b"\n")


def small_vocab(n_extra: int, pick) -> bytes:
    """The 256 single-byte tokens (ids 1..256) and the first `n_extra` other lines `pick` likes,
    with the file's own CRLF line ends."""
    lines = [l for l in world_lines() if l.strip()]
    singles = lines[:256]
    assert all(l.rstrip(b"\r").endswith(b" 1") for l in singles)
    extra = [l for l in lines[256:] if pick(l.rstrip(b"\r"))][:n_extra]
    return b"\n".join(singles + extra) + b"\n"


def models(out: str) -> None:
    rng = np.random.default_rng(0)
    byte_vocab = small_vocab(0, lambda l: False)
    configs = [
        (ModelConfig("rwkv4", n_layer=1, n_embd=4, vocab_size=8, ffn_dim=8), "f32", None),
        (ModelConfig("rwkv4", n_layer=2, n_embd=4, vocab_size=256, ffn_dim=4), "f16", ("bytes", b"")),
        (ModelConfig("rrwkv", n_layer=1, n_embd=4, vocab_size=300, ffn_dim=8, medium_interval=2, cm_mode="add"),
         "bf16", ("world", byte_vocab)),
        (ModelConfig("rrwkv", n_layer=1, n_embd=8, vocab_size=16, ffn_dim=8, medium_interval=3), "f32", None),
    ]
    for i, (cfg, dtype, tok) in enumerate(configs):
        tensors = {name: (rng.standard_normal(shape).astype(np.float32), dtype if is_matrix else "f32")
                   for name, shape, is_matrix in _core.runtime_layout(cfg.to_dict())}
        path = os.path.join(out, f"{i}_{cfg.arch}_{cfg.cm_mode}_{dtype}.rrwkv")
        write_model(path, cfg, tensors, metadata={"source": "seed"}, tokenizer=tok, force=True, progress=False)


def vocabs(out: str) -> None:
    samples = {
        "bytes_only.txt": small_vocab(0, lambda l: False),
        "ascii_words.txt": small_vocab(60, lambda l: l[-2:-1] in b"345" and b"\\" not in l),
        "escapes.txt": small_vocab(40, lambda l: b"\\" in l),
        "unicode.txt": small_vocab(40, lambda l: any(c >= 0x80 for c in l)),
    }
    for name, data in samples.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def texts(out: str) -> None:
    samples = {
        "english": b"\x01The quick brown fox jumps over the lazy dog. " * 4,
        "code": b"\x01def f(x):\n    return {'a': [1, 2, 3]}\r\n\t# comment\n",
        "unicode": "\x01中文 日本語 한국어 emoji 😀 café".encode(),
        "bytes": b"\x01" + bytes(range(256)),
        "ids": b"\x02" + np.arange(0, 70000, 97, dtype=np.int32).tobytes(),
    }
    for name, data in samples.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def tokenizer_jsons(out: str) -> None:
    """Small byte-level BPE tokenizer.json files made by the `tokenizers` library, GPT-NeoX style
    (NFC, added special and whitespace tokens) and plain, with the text to encode after them."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    text = ["def f(x):\n    return {'a': [1, 2, 3]}  # naïve café 日本語 😀\n" * 3, "The quick brown fox. " * 5]
    for name, neox in (("neox_like.json", True), ("plain.json", False)):
        hf = Tokenizer(models.BPE())
        if neox:
            hf.normalizer = normalizers.NFC()
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=not neox)
        hf.decoder = decoders.ByteLevel()
        hf.train_from_iterator(text, trainer=trainers.BpeTrainer(
            vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False))
        if neox:
            hf.add_tokens([AddedToken(" " * k, normalized=True) for k in range(4, 1, -1)])
        with open(os.path.join(out, name), "wb") as f:  # the fuzz target's layout: JSON, NUL, text
            f.write(hf.to_str().encode() + b"\0" + "x = 'e\u0301'  <|endoftext|>\n\t  é".encode())


def main() -> int:
    for target, make in (("model_file", models), ("vocab", vocabs), ("tokenizer", texts),
                         ("tokenizer_json", tokenizer_jsons)):
        out = os.path.join(ROOT, target)
        os.makedirs(out, exist_ok=True)
        make(out)
        print(f"{target}: {len(os.listdir(out))} seeds in {os.path.normpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
