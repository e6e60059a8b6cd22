"""Training data: a corpus of files, tokenised, split by file, sampled as random windows.

The default corpus is this Python's own standard library sources (``sysconfig.get_paths()["stdlib"]``,
every ``.py`` file outside test directories and site-packages), so it exists on every machine
without a download: about 12 MB for CPython 3.11. Files are taken in sorted order of their path
relative to the root; every ``val_every``-th file is validation data. Each file is preceded by token
0 (NUL, which never occurs in source; World's end-of-text), so a model can be prompted with 0 to
start a new file.

Batches are a pure function of (seed, step): step k draws its global batch of window starts from a
generator seeded with (seed, k), and each process takes its contiguous slice of it. So the data of a
step does not depend on the number of processes, and a resumed run needs no sampler state.
"""
from __future__ import annotations

import hashlib
import math
import os
import sysconfig
from dataclasses import dataclass

import torch

SEPARATOR = 0  # token before every file
EXCLUDED_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}
EVAL_SEED = 20240601  # validation windows are the same for every run (comparable val losses)


def stdlib_root() -> str:
    return sysconfig.get_paths()["stdlib"]


def list_files(corpus: str) -> tuple[str, list[str]]:
    """(root, sorted relative paths) of a corpus: "stdlib", a directory or a single file."""
    if corpus == "stdlib":
        root, suffix = stdlib_root(), ".py"
    elif os.path.isdir(corpus):
        root, suffix = corpus, ""
    elif os.path.isfile(corpus):
        return os.path.dirname(os.path.abspath(corpus)), [os.path.basename(corpus)]
    else:
        raise FileNotFoundError(f"--corpus {corpus!r} is neither 'stdlib' nor an existing file or directory")
    rels = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(suffix) and not name.startswith("."):
                rels.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    rels.sort()
    if not rels:
        raise ValueError(f"corpus {corpus!r} ({root}) has no files")
    return root, rels


def _encode_bytes(data: bytes) -> torch.Tensor:
    if not data:  # torch.frombuffer refuses empty buffers
        return torch.zeros(0, dtype=torch.long)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).long()


def make_tokenizer(vocab: str):
    """(encode: bytes -> 1-D int64 tensor, vocab_size). Byte-level needs nothing from the C++ core."""
    if vocab == "bytes":
        return _encode_bytes, 256
    from ..tokenizer import Tokenizer
    tok = Tokenizer.from_spec(vocab)
    return (lambda data: torch.from_numpy(tok.encode_array(bytes(data)).copy())), tok.vocab_size


@dataclass
class Corpus:
    train: torch.Tensor       # 1-D int64 token ids
    val: torch.Tensor
    vocab_size: int
    tokens_per_byte: float    # of the validation data (1.0 for bytes): converts bits/token to bits/byte
    n_files: int
    n_bytes: int
    fingerprint: str          # sha256 of the file list and contents: identifies the corpus

    def describe(self) -> str:
        return (f"{self.n_files} files, {self.n_bytes / 1e6:.1f} MB, {len(self.train):,} train / "
                f"{len(self.val):,} val tokens, sha256 {self.fingerprint[:12]}")


def load_corpus(corpus: str = "stdlib", vocab: str = "bytes", val_every: int = 50) -> Corpus:
    root, rels = list_files(corpus)
    encode, vocab_size = make_tokenizer(vocab)
    h = hashlib.sha256()
    parts: dict[bool, list[torch.Tensor]] = {False: [], True: []}
    n_bytes, val_bytes = 0, 0
    sep = torch.tensor([SEPARATOR], dtype=torch.long)
    for i, rel in enumerate(rels):
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        h.update(rel.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        n_bytes += len(data)
        is_val = len(rels) > 1 and i % val_every == val_every // 2
        parts[is_val] += [sep, encode(data)]
        val_bytes += (len(data) + 1) * is_val  # the separator counts as a byte
    train, val = (torch.cat(parts[v]) if parts[v] else torch.zeros(0, dtype=torch.long) for v in (False, True))
    if len(rels) == 1 or len(val) == 0:  # a single file: its last 5% is validation
        n = len(train) - max(1, len(train) // 20)
        train, val = train[:n], train[n:]
        val_bytes = n_bytes * len(val) / max(1, len(train) + len(val))
    return Corpus(train, val, vocab_size, len(val) / max(val_bytes, 1), len(rels), n_bytes, h.hexdigest())


def unigram_bits(train: torch.Tensor, val: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (bits/token) of val under train's token frequencies (add-one smoothed): what a
    model that learned nothing but the frequencies scores."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    logp = torch.log2(counts / counts.sum())
    return float(-logp[val].mean())


def _window_starts(n_tokens: int, ctx_len: int, count: int, gen: torch.Generator) -> torch.Tensor:
    high = n_tokens - ctx_len - 1
    if high < 0:
        raise ValueError(f"the data has {n_tokens} tokens, fewer than --ctx-len + 1 = {ctx_len + 1}")
    return torch.randint(0, high + 1, (count,), generator=gen)


def _windows(data: torch.Tensor, starts: torch.Tensor, ctx_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = starts[:, None] + torch.arange(ctx_len + 1)
    w = data[idx]
    return w[:, :-1], w[:, 1:]


def train_batch(data: torch.Tensor, step: int, seed: int, batch_size: int, ctx_len: int,
                rank: int = 0, world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share (inputs, targets), each (batch_size / world_size, ctx_len), of step's batch."""
    if batch_size % world_size:
        raise ValueError(f"--batch-size {batch_size} is not divisible by the {world_size} processes")
    gen = torch.Generator().manual_seed((seed * 1_000_003 + step) % 2**63)
    starts = _window_starts(len(data), ctx_len, batch_size, gen)
    per = batch_size // world_size
    return _windows(data, starts[rank * per:(rank + 1) * per], ctx_len)


def eval_windows(data: torch.Tensor, count: int, ctx_len: int, rank: int = 0,
                 world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of the fixed validation windows (every run evaluates the same ones)."""
    gen = torch.Generator().manual_seed(EVAL_SEED)
    starts = _window_starts(len(data), ctx_len, count, gen)
    return _windows(data, starts[rank::world_size], ctx_len)


def bits(nats: float) -> float:
    return nats / math.log(2)
