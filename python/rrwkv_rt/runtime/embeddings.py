"""Embeddings: a text's vector is the model's final hidden state after its last token, ln_out(x)
(the vector the head turns into logits), scaled to length 1. An RWKV model reads a text into a
fixed-size recurrent state, and the last token's hidden state is what that state makes of the
whole text (the next-token prediction is read from it): "last-token pooling", which is what a
recurrent model offers in place of averaging over positions. Texts whose meaning the model
represents alike get vectors with a high cosine similarity (their dot product); how well that
works depends on the model (a language model is not trained as an embedding model).

    vectors = rrwkv_rt.embed("model.rrwkv", ["def main():", "class Foo:"])  # (2, n_embd) float32

The server's ``/v1/embeddings`` gives the same vectors bit for bit: each text is read in the same
pieces (``prefill_chunk``) from the model's initial state, alone, whatever else it reads.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

Text = Union[str, bytes, Sequence[int], np.ndarray]


def normalized(hidden: np.ndarray) -> np.ndarray:
    """`hidden` scaled to length 1 (its norm computed in float64); a zero vector stays zero."""
    h = np.asarray(hidden, dtype=np.float64)
    norm = float(np.sqrt(np.dot(h, h)))
    return (h / norm if norm > 0 else h).astype(np.float32)


def embed(model, inputs: Text | Sequence[Text], *, threads: int | None = None,
          prefill_chunk: int = 128) -> np.ndarray:
    """Vectors of `inputs` (a text, token ids, or a list of them): (n, n_embd) float32, or
    (n_embd,) for a single input. `model`: a Model or a path."""
    from . import Batch, Model
    from .generate import _prompt_ids, model_tokenizer
    m = model if isinstance(model, Model) else Model(model)
    single = isinstance(inputs, (str, bytes)) or (len(inputs) > 0 and isinstance(inputs[0], (int, np.integer)))
    items = [inputs] if single else list(inputs)
    tok = model_tokenizer(m) if any(isinstance(x, (str, bytes)) for x in items) else None
    batch = Batch(m, 1, threads=threads, prefill_chunk=prefill_chunk)
    out = np.empty((len(items), int(m.info["n_embd"])), dtype=np.float32)
    for i, item in enumerate(items):
        ids = _prompt_ids(item, tok)
        if ids.size == 0:
            raise ValueError(f"input {i} is empty; an embedding needs at least one token")
        row = batch.add()
        try:
            out[i] = normalized(batch.hidden_state(row, ids))
        finally:
            batch.remove(row)
    return out[0] if single else out


__all__ = ["embed", "normalized"]
