"""Model files the server tests serve besides the shipped one (imported by name)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def nan_row_model(path, byte: int) -> str:
    """The shipped model with the embedding row of `byte` set to NaN: it loads fine, and any
    text that holds that byte gives NaN logits, so nothing can be sampled after it."""
    import rrwkv_rt
    from rrwkv_rt.io.format import read_tensors, write_model
    from rrwkv_rt.config import ModelConfig

    src = rrwkv_rt.default_model_path()
    f = rrwkv_rt.ModelFile(src)
    dtypes = {t["name"]: t["dtype"] for t in f.tensors}
    config, tensors = read_tensors(src)
    tensors["emb.weight"][byte] = np.nan
    write_model(path, ModelConfig(**config), {n: (a, dtypes[n]) for n, a in tensors.items()},
                tokenizer=(f.fields["tokenizer.kind"], f.fields["tokenizer.vocab"]))
    return os.fspath(path)


def pile_style_model(folder, byte_level: bool = True) -> str:
    """A random RWKV-4 whose file carries a byte-level BPE tokenizer.json with <|endoftext|> (as
    the RWKV-4 Pile models carry the GPT-NeoX one), trained here on the package's sources.
    byte_level=False: a BPE over whitespace-split words instead, a kind the native reader leaves
    to the `tokenizers` library."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    from rrwkv_rt.reference import random_model

    hf = Tokenizer(models.BPE(unk_token=None if byte_level else "<unk>"))
    if byte_level:
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
    else:
        hf.pre_tokenizer = pre_tokenizers.Whitespace()
    text = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "python" / "rrwkv_rt").rglob("*.py"))]
    hf.train_from_iterator(text, trainer=trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<|endoftext|>"] + ([] if byte_level else ["<unk>"]),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if byte_level else []))
    cfg = ModelConfig("rwkv4", n_layer=2, n_embd=64, vocab_size=hf.get_vocab_size())
    sd = {k: v.numpy() for k, v in random_model(cfg, seed=11).state_dict().items()}
    path = os.path.join(folder, f"pile{'' if byte_level else '_words'}.rrwkv")
    write_model(path, cfg, to_runtime_layout(sd, cfg, "f32"), tokenizer=("hf", hf.to_str().encode()))
    return path


def world_model(folder) -> str:
    """A random one-layer RWKV-4 with the RWKV World tokenizer (65k tokens of up to 128 bytes,
    id 0 its end-of-text) in its file."""
    import rrwkv_rt
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    from rrwkv_rt.reference import random_model

    tok = rrwkv_rt.Tokenizer.world()
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=32, vocab_size=65536)
    sd = {k: v.numpy() for k, v in random_model(cfg, seed=5).state_dict().items()}
    path = os.path.join(folder, "world.rrwkv")
    write_model(path, cfg, to_runtime_layout(sd, cfg, "f32"), tokenizer=tok.header)
    return path
