"""State files: a session's recurrent state saved to disk, so that a long prompt is ingested once
and reused (attached as ``Session.save_state(path)`` / ``Session.load_state(path)``).

A state file is exactly the blob ``Session.get_state()`` returns (the C++ format, docs/FORMAT.md:
the model's identity, the position, the state and checksums), written atomically (a temporary
file in the same folder, fsync, rename): a crash leaves the old file or the new one. Loading is
checked by the same C++ code as ``set_state``: ``FormatError`` for a file that is not a state, of
another version, truncated or corrupt; ``StateMismatchError`` (a ValueError) for an intact state
saved from another model. The session's state is unchanged on any error.
"""
from __future__ import annotations

import os

import numpy as np

from .. import _core
from ..io.atomic import atomic_write


def save_state(self, path: str | os.PathLike) -> None:
    """Save this session's state (and position) to `path`, atomically."""
    blob = self.get_state()
    with atomic_write(path) as f:
        f.write(blob)


def load_state(self, path: str | os.PathLike) -> int:
    """Restore a state saved by save_state() (or any get_state() blob) and return the position."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        self.set_state(data)
    except (_core.FormatError, _core.StateMismatchError) as e:
        raise type(e)(f"state file {os.fspath(path)!r}: {e}") from None
    return self.pos


BLOB_HEADER_BYTES = 96


def state_arrays(model, blob: bytes) -> dict[str, np.ndarray]:
    """The fields of a state blob by name, each (n_layer, size) float32 (read-only views): the
    architecture's schema, ``model.info["state_fields"]``. For inspection and tests; the blob is
    not validated here (``set_state`` does that)."""
    info = model.info
    fields = info["state_fields"]
    per_layer = sum(size for _, size in fields)
    data = np.frombuffer(blob, dtype=np.float32, offset=BLOB_HEADER_BYTES).reshape(info["n_layer"], per_layer)
    out, at = {}, 0
    for name, size in fields:
        out[name] = data[:, at:at + size]
        at += size
    return out


__all__ = ["save_state", "load_state", "state_arrays"]
