"""Tokenizers: text <-> token ids, implemented in the C++ core (csrc/tokenizer/).

The kinds a .rrwkv header stores in ``tokenizer.kind``:

* ``"world"``: the RWKV World tokenizer, greedy longest match over bytes through a trie of the
  vocabulary ``rwkv_vocab_v20230424`` (shipped in ``rrwkv_rt/data``) or any vocabulary file in
  its text format. Ids equal the ``rwkv`` package's ``TRIE_TOKENIZER``.
* ``"bytes"``: token id i is the byte i.
* ``"hf"``: a Hugging Face ``tokenizer.json``. Byte-level BPE files (GPT-2, GPT-NeoX 20B of the
  RWKV-4 Pile models) run natively (csrc/tokenizer/bpe_tokenizer.h, also in the C API), with
  the ids of the ``tokenizers`` library; other kinds, which the native encoder refuses by name,
  run through that library (``foreign_tokenizer.py``).

Encoding works on bytes: a ``str`` is encoded as its UTF-8, and any bytes (invalid UTF-8
included) round-trip, ``decode_bytes(encode(b)) == b`` (a tokenizer.json that normalizes gives
text back in its normal form, NFC); ``decode`` gives text. A Tokenizer is immutable and
thread-safe; encode/decode release the GIL on large inputs.
"""
from __future__ import annotations

import builtins
import functools
import os
from typing import Iterable, Union

import numpy as np

from . import _core

WORLD_VOCAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "rwkv_vocab_v20230424.txt")
KINDS = ("world", "bytes")
# what the native tokenizer.json reader says of a kind it does not implement (csrc/tokenizer/hf_json.cpp)
NOT_COVERED = "the native encoder covers byte-level BPE"

Text = Union[str, builtins.bytes, bytearray, memoryview]


@functools.lru_cache(maxsize=1)
def _world_core() -> _core.Tokenizer:
    with open(WORLD_VOCAB, "rb") as f:
        return _core.Tokenizer.from_header("world", f.read(), f"vocabulary '{WORLD_VOCAB}'")


def _as_ids(ids) -> np.ndarray:
    """A 1-D int64 array of `ids`; TypeError for anything that is not integers."""
    a = np.asarray(ids)
    if a.size == 0:
        return np.empty(0, dtype=np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"expected a 1-D sequence of integer token ids, got {a.ndim}-D {a.dtype} values")
    if a.dtype == np.uint64 and int(a.max()) > np.iinfo(np.int64).max:
        i = int(np.argmax(a > np.iinfo(np.int64).max))
        raise IndexError(f"token id {int(a[i])} (at position {i}) is out of range; expected 0 <= id < 2**63")
    return a


def _hf(native, json: builtins.bytes, source: str):
    """A tokenizer.json: native (`native()`) where the native encoder covers its kind, else the
    `tokenizers` library's. Any other error of the native reader (a malformed file, ids beyond
    the model's vocabulary) is raised."""
    try:
        return Tokenizer(native())
    except _core.FormatError as e:
        if NOT_COVERED not in str(e):
            raise
        native_error = e
    from .foreign_tokenizer import HFTokenizer
    try:
        return HFTokenizer(builtins.bytes(json).decode("utf-8"), source)
    except ImportError as e:
        raise ImportError(f"{native_error}; {e}") from None
    except (ValueError, UnicodeDecodeError):
        raise native_error from None


class NoTokenizerError(ValueError):
    """The model file carries no tokenizer (as opposed to one that cannot be read)."""


class Tokenizer:
    """A tokenizer; build one with ``Tokenizer.world()``, ``Tokenizer.bytes()``,
    ``Tokenizer.from_file(path)``, ``Tokenizer.from_model(path_or_ModelFile)`` or
    ``Tokenizer.from_spec("world" | "bytes" | path)``."""

    __slots__ = ("_t",)

    def __init__(self, core: _core.Tokenizer):
        self._t = core

    # ---- factories ---------------------------------------------------------------------------
    @classmethod
    def world(cls) -> Tokenizer:
        """The RWKV World tokenizer (vocabulary rwkv_vocab_v20230424, 65529 tokens)."""
        return cls(_world_core())

    @classmethod
    def bytes(cls) -> Tokenizer:
        """The byte-level tokenizer: ids 0..255 are the bytes."""
        return cls(_core.Tokenizer.from_header("bytes", b""))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Tokenizer:
        """A "world"-kind tokenizer from a vocabulary file in the rwkv_vocab_v20230424.txt format
        (``<id> <Python str or bytes literal> <byte length>`` per line); FormatError names the
        bad line."""
        with open(path, "rb") as f:
            return cls(_core.Tokenizer.from_header("world", f.read(), f"vocabulary '{os.fspath(path)}'"))

    @classmethod
    def from_header(cls, kind: str, vocab: builtins.bytes) -> Tokenizer:
        """From a .rrwkv header's ``tokenizer.kind`` and ``tokenizer.vocab``."""
        if kind == "hf":
            source = "the header's tokenizer.vocab"
            return _hf(lambda: _core.Tokenizer.from_header("hf", builtins.bytes(vocab), source), vocab, source)
        return cls(_core.Tokenizer.from_header(kind, builtins.bytes(vocab)))

    @classmethod
    def from_model(cls, model) -> Tokenizer:
        """The tokenizer a model file carries: `model` is a path, a ``ModelFile`` or a runtime
        ``Model``. ValueError if the file has none."""
        if not isinstance(model, _core.ModelFile):
            if not isinstance(model, (str, os.PathLike)) and hasattr(model, "path"):
                model = model.path  # a runtime Model: read its file's header
            # The header checksum covers the tokenizer fields; tensor checksums are not needed here.
            model = _core.ModelFile(os.fspath(model), verify_checksums=False)
        if model.fields.get("tokenizer.kind") == "hf":
            return _hf(lambda: _core.Tokenizer.from_model(model), model.fields.get("tokenizer.vocab", b""),
                       f"model file {model.path!r} field tokenizer.vocab")
        core = _core.Tokenizer.from_model(model)
        if core is None:
            raise NoTokenizerError(f"model file {model.path!r} carries no tokenizer; re-export it with "
                             "`python -m rrwkv_rt export ... --vocab world|bytes|PATH`")
        return cls(core)

    @classmethod
    def from_spec(cls, spec: str | os.PathLike) -> Tokenizer:
        """``"world"``, ``"bytes"``, the path of a vocabulary file or of a Hugging Face
        ``tokenizer.json`` (the exporter's --vocab)."""
        if isinstance(spec, str) and spec in KINDS:
            return cls.world() if spec == "world" else cls.bytes()
        if not os.path.exists(spec):
            raise FileNotFoundError(f"--vocab {os.fspath(spec)!r} is neither 'world', 'bytes' nor an existing "
                                    "vocabulary file or tokenizer.json")
        if os.fspath(spec).endswith(".json"):
            with open(spec, "rb") as f:
                data = f.read()
            source = f"tokenizer.json {os.fspath(spec)!r}"
            return _hf(lambda: _core.Tokenizer.from_header("hf", data, source), data, source)
        return cls.from_file(spec)

    # ---- properties --------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self._t.kind

    @property
    def vocab_size(self) -> int:
        """One past the largest token id (65530 for World; id 0, its end-of-text, decodes to b"")."""
        return self._t.vocab_size

    @property
    def header(self) -> tuple[str, builtins.bytes]:
        """``(kind, vocab)`` as ``write_model(..., tokenizer=...)`` stores them."""
        return self._t.kind, self._t.header_vocab

    # ---- encoding and decoding ---------------------------------------------------------------
    def encode(self, text: Text) -> list[int]:
        """Token ids of `text`: a str (as UTF-8) or bytes-like (any bytes)."""
        return self._t.encode(text).tolist()

    def encode_array(self, text: Text) -> np.ndarray:
        """Like encode() but an int64 numpy array (what Session.forward takes), without a list."""
        return self._t.encode(text)

    def decode(self, ids: Iterable[int] | np.ndarray, errors: str = "replace") -> str:
        """The text of `ids`. Tokens may split a character, so by default invalid or cut UTF-8
        becomes U+FFFD (`errors` as for bytes.decode); decode_bytes() gives the exact bytes.
        IndexError names the first id outside [0, vocab_size)."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    decode_text = decode  # the name of decode() before it returned str

    def decode_bytes(self, ids: Iterable[int] | np.ndarray) -> builtins.bytes:
        """The exact bytes of the tokens `ids`."""
        return self._t.decode(_as_ids(ids))

    def token_bytes(self, token_id: int) -> builtins.bytes:
        """The bytes of one token (b"" for an id in range that has no token)."""
        return self._t.token_bytes(int(token_id))

    def stop_token(self) -> int | None:
        """The end-of-text token, generation's default stop token (World: 0), or None."""
        return self._t.end_of_text

    def check_fits(self, vocab_size: int) -> None:
        """ValueError unless every token id of this tokenizer is below a model's `vocab_size`."""
        if self.vocab_size > vocab_size:
            raise ValueError(
                f"the {self.kind} tokenizer uses token ids up to {self.vocab_size - 1}, but the model's vocab_size "
                f"is {vocab_size} (ids 0..{vocab_size - 1}); expected vocab_size >= {self.vocab_size}: pick the "
                "tokenizer the model was trained with (--vocab world|bytes|PATH)")

    def __repr__(self) -> str:
        return f"<rrwkv_rt.Tokenizer kind={self.kind!r} vocab_size={self.vocab_size}>"
