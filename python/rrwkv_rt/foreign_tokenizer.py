"""Tokenizers the C++ core does not implement, behind the same interface as ``Tokenizer``.

* ``HFTokenizer``: a Hugging Face ``tokenizer.json`` of a kind the native encoder does not cover
  (it covers byte-level BPE, e.g. the GPT-NeoX 20B tokenizer of the RWKV-4 Pile models), run by
  the ``tokenizers`` library itself, so ids are exactly its ids. Stored in a .rrwkv header as
  ``tokenizer.kind = "hf"`` with the JSON as ``tokenizer.vocab`` (``export --vocab
  tokenizer.json``); the C API refuses such a file by name.
* ``ForeignTokenizer``: any object with ``encode(text) -> ids`` and ``decode(ids) -> str | bytes``
  passed as ``generate(..., tokenizer=obj)``.

Generation streams the bytes of each token. A byte-level BPE (GPT-2 style, as the 20B one)
maps every byte to a printable character; its tokens' bytes are recovered exactly through that
mapping, so text that a token boundary cuts inside a UTF-8 character still streams right.
Other tokenizers give a token's bytes as the UTF-8 of ``decode([id])``.
"""
from __future__ import annotations

import functools
import json
import os

import numpy as np


@functools.lru_cache(maxsize=1)
def _byte_level_table() -> dict[str, int]:
    """The GPT-2 byte <-> printable character mapping, inverted: char -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _as_str(text) -> str:
    """Tokenizer libraries take str: bytes are read as UTF-8 (invalid sequences replaced)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text).decode("utf-8", errors="replace")
    return text


def _has_byte_level(node) -> bool:
    """Whether a tokenizer.json component (or a Sequence of them) is ByteLevel."""
    if isinstance(node, dict):
        return node.get("type") == "ByteLevel" or any(_has_byte_level(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_byte_level(v) for v in node)
    return False


class ForeignTokenizer:
    """Adapts an object with ``encode``/``decode`` to what generation needs."""

    kind = "foreign"
    _t = None  # no native tokenizer: the sampler gets no per-model policy from it

    def __init__(self, obj, vocab_size: int | None = None):
        if not (callable(getattr(obj, "encode", None)) and callable(getattr(obj, "decode", None))):
            raise TypeError(f"a tokenizer needs encode(text) and decode(ids) methods; {type(obj).__name__} has not")
        self._obj = obj
        self._vocab_size = vocab_size

    @property
    def vocab_size(self) -> int:
        if self._vocab_size is not None:
            return self._vocab_size
        for name in ("vocab_size", "get_vocab_size", "__len__"):
            v = getattr(self._obj, name, None)
            if v is not None:
                return int(v() if callable(v) else v)
        raise ValueError("this tokenizer does not say its vocabulary size")

    def encode(self, text) -> list[int]:
        ids = self._obj.encode(_as_str(text))
        ids = getattr(ids, "ids", ids)  # tokenizers' Encoding
        return [int(i) for i in ids]

    def encode_array(self, text) -> np.ndarray:
        return np.asarray(self.encode(text), dtype=np.int64)

    def token_bytes(self, token_id: int) -> bytes:
        out = self._obj.decode([int(token_id)])
        return out if isinstance(out, bytes) else out.encode("utf-8")

    def decode_bytes(self, ids) -> bytes:
        return b"".join(self.token_bytes(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1))

    def decode(self, ids, errors: str = "replace") -> str:
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    decode_text = decode

    def check_fits(self, vocab_size: int) -> None:
        if self.vocab_size > vocab_size:
            raise ValueError(f"the tokenizer has {self.vocab_size} tokens, but the model's vocab_size is {vocab_size}; "
                             "pick the tokenizer the model was trained with")

    def stop_token(self) -> int | None:
        return None

    def __repr__(self) -> str:
        return f"<rrwkv_rt.ForeignTokenizer of {type(self._obj).__name__}>"


class HFTokenizer(ForeignTokenizer):
    """A Hugging Face ``tokenizer.json`` through the ``tokenizers`` library."""

    kind = "hf"

    def __init__(self, json_text: str, source: str = "tokenizer.json"):
        try:
            from tokenizers import Tokenizer as _HF
        except ImportError:
            raise ImportError("a Hugging Face tokenizer.json needs the `tokenizers` package: "
                              "pip install tokenizers (or rrwkv_rt[hf])") from None
        try:
            hf = _HF.from_str(json_text)
        except Exception as e:  # tokenizers raises its own Exception type for bad JSON
            raise ValueError(f"{source} is not a tokenizer.json the `tokenizers` library can read: {e}") from None
        super().__init__(hf, hf.get_vocab_size(with_added_tokens=True))
        self._json = json_text
        vocab = hf.get_vocab(with_added_tokens=True)
        self._byte_level = _has_byte_level(json.loads(json_text).get("decoder"))
        self._bytes: dict[int, bytes] = {}
        if self._byte_level:  # every token's exact bytes, once
            table = _byte_level_table()
            added = {t.content for t in hf.get_added_tokens_decoder().values()}
            for tok, i in vocab.items():
                self._bytes[i] = tok.encode("utf-8") if tok in added else bytes(table.get(c, 63) for c in tok)
        self._eos = next((vocab[t] for t in ("<|endoftext|>", "</s>", "<eos>") if t in vocab), None)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> HFTokenizer:
        with open(path, encoding="utf-8") as f:
            return cls(f.read(), os.fspath(path))

    @property
    def header(self) -> tuple[str, bytes]:
        return "hf", self._json.encode("utf-8")

    def encode(self, text) -> list[int]:
        # encode_batch releases the GIL while it works (encode holds it throughout): other threads,
        # such as a server's event loop, run meanwhile. The ids are the same.
        return self._obj.encode_batch([_as_str(text)], add_special_tokens=False)[0].ids

    def token_bytes(self, token_id: int) -> bytes:
        if self._byte_level:
            return self._bytes.get(int(token_id), b"")
        return super().token_bytes(token_id)

    def stop_token(self) -> int | None:
        return self._eos

    def __repr__(self) -> str:
        return f"<rrwkv_rt.HFTokenizer vocab_size={self.vocab_size}{' byte-level' if self._byte_level else ''}>"
