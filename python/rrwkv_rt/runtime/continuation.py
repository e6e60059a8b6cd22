"""The logits a session's last ``generate()`` ended with, so that an empty prompt continues the
text (``generate("")``) without feeding any token again.

They live beside the session, not in the C++ state blob, keyed by a checksum of the state they
belong to: any step / forward / set_state / reset since then changes the state, and the entry no
longer applies. State files and pickled sessions carry them (``state_file.py``).
"""
from __future__ import annotations

import weakref
import zlib

import numpy as np

_LAST_LOGITS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _state_key(blob: bytes) -> int:
    return zlib.crc32(blob)


def remember(session, logits: np.ndarray, blob: bytes | None = None) -> None:
    """Record `logits` as the continuation of the session's current state (`blob`, if known)."""
    blob = bytes(session.get_state()) if blob is None else blob
    _LAST_LOGITS[session] = (_state_key(blob), np.array(logits, dtype=np.float32, copy=True))


def recall(session, blob: bytes | None = None) -> np.ndarray | None:
    """A copy of the recorded logits if they still belong to the session's state, else None."""
    entry = _LAST_LOGITS.get(session)
    if entry is None:
        return None
    blob = bytes(session.get_state()) if blob is None else blob
    return entry[1].copy() if entry[0] == _state_key(blob) else None
