"""The runtime: :class:`Model`, :class:`Session` and :class:`Batch` (C++ classes, csrc/engine).

    model = rrwkv_rt.Model("model.rrwkv")   # mmapped, validated, immutable
    s = rrwkv_rt.Session(model)             # threads=None: every available CPU
    logits = s.forward(prompt_tokens)       # sequence mode; the last token's logits (vocab,)
    logits = s.step(next_token)             # one token, float32 (vocab,)
    blob = s.get_state(); s.set_state(blob); s2 = s.clone(); s.reset()

Contracts:

* A ``Model`` is never modified after it is opened: any number of sessions on any number of
  threads may share one. A ``Session`` owns only its recurrent state and scratch; calls on one
  session are serialised, and the GIL is released while it computes, so sessions stepped from
  several Python threads run in parallel (and give exactly their sequential results).
* ``step`` and ``forward`` agree to ~1e-6 whatever the chunking (``forward`` projects all tokens
  with matrix-matrix products, then runs the recurrence); a saved, restored or cloned state
  continues bit for bit. Results do not depend on the thread count.
* f16 / bf16 weights are converted to f32 on the fly with f32 accumulation: exact up to the
  rounding of the weights themselves (on random models with unit-scale logits, max |Δlogit| vs
  the f32 model is ~2e-3 for f16 and ~2e-2 for bf16; tests/runtime/test_rt_dtypes.py).
* Bad input raises ``IndexError`` (a token outside [0, vocab)), ``StateMismatchError`` (a
  ValueError: an intact state of another model), ``FormatError`` (a corrupt state) or
  ``ValueError`` (bad arguments); the session state is unchanged.
* ``Batch.step`` computes each row exactly as ``Session.step`` would alone (bit for bit).

A :class:`Batch` holds up to ``capacity`` sequences (rows) that are stepped together, reading the
weights once for all of them::

    b = rrwkv_rt.Batch(model, capacity=8)
    r0, r1 = b.add(), b.add()               # rows join (add) and leave (remove) between calls
    logits = b.step([r0, r1], [tok0, tok1])  # (2, vocab): one token per row, rows at any position
    b.forward(r1, prompt)                   # many tokens of one row (prefill)

Prefill matrix products use the OpenBLAS of the ``scipy-openblas32`` wheel when present
(``rrwkv_rt._core.blas_info()``; ``RRWKV_BLAS`` overrides, see ``blas.py``); without it they
run on the built-in kernels.

``Model.tokenizer`` / ``Session.tokenizer`` is the tokenizer the file carries (None if it has
none): ``encode(text)`` gives ids, ``decode(ids)`` text, ``decode_bytes(ids)`` the exact bytes.

Generation (``generate.py``) and state files (``state_file.py``) are written in Python on top
and attached to ``Session`` here, so every Session has them (clones and sessions made by
``_core`` included).
"""
from __future__ import annotations

from .. import _core
from . import blas, chat_api as _chat_api, generate as _generate, state_file as _state_file

blas.configure()

Model = _core.Model
Session = _core.Session
Batch = _core.Batch
for _cls in (Model, Session, Batch):
    _cls.__module__ = "rrwkv_rt"

Model.tokenizer = Session.tokenizer = property(_generate.tokenizer_property)
Session.generate = _generate.generate
Session.chat = _chat_api.chat
Session.save_state = _state_file.save_state
Session.load_state = _state_file.load_state
Session.__reduce__ = _state_file.reduce_session  # pickle: the model's path and the state file bytes
Session.__copy__ = Session.__deepcopy__ = _state_file.copy_session

__all__ = ["Batch", "Model", "Session"]
