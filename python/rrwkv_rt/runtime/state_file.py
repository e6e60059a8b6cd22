"""State files: a session's recurrent state saved to disk, so that a long prompt is ingested once
and reused (attached as ``Session.save_state(path)`` / ``Session.load_state(path)``), and
pickling of sessions, which uses the same bytes.

A state file is the blob ``Session.get_state()`` returns (the C++ format, docs/FORMAT.md: the
model's identity, the position, the state and checksums), followed, when the session's last
``generate()`` left them, by a *continuation section*: the logits that state ended with, so that
``generate("")`` after ``load_state`` continues the text. Files are written atomically (a
temporary file in the same folder, fsync, rename): a crash leaves the old file or the new one.

Loading is checked by the same C++ code as ``set_state``: ``FormatError`` for a file that is not
a state, of another version, truncated or corrupt (the continuation section included);
``StateMismatchError`` (a ValueError) for an intact state saved from another model. The
session's state is unchanged on any error.
"""
from __future__ import annotations

import os
import struct
import weakref
import zlib

import numpy as np

from .. import _core
from ..io.atomic import atomic_write
from . import continuation

# the blob header's size, where it keeps the u64 number of state floats and the u32 CRC-32 of its
# bytes before that (engine/state_blob.h)
BLOB_HEADER_BYTES = _core.STATE_BLOB_LAYOUT["header_bytes"]
_FLOATS_AT = _core.STATE_BLOB_LAYOUT["floats_at"]
_HEADER_CRC_AT = _core.STATE_BLOB_LAYOUT["header_crc_at"]

# The continuation section: magic, u32 version, u32 number of logits (the vocabulary), u32 CRC-32
# of the logits, u32 CRC-32 of the 20 bytes before it; then the logits, f32 little-endian.
LOGITS_MAGIC = b"RRWKVLG\n"
LOGITS_VERSION = 1
_LOGITS_HEADER = struct.Struct("<8sIII")


def state_file_bytes(session) -> bytes:
    """What save_state writes: the state blob, then the continuation section if there is one."""
    blob = bytes(session.get_state())
    logits = continuation.recall(session, blob)
    if logits is None:
        return blob
    data = logits.astype("<f4").tobytes()
    head = _LOGITS_HEADER.pack(LOGITS_MAGIC, LOGITS_VERSION, logits.size, zlib.crc32(data))
    return blob + head + struct.pack("<I", zlib.crc32(head)) + data


def split_state_file(data: bytes, source: str = "state file") -> tuple[bytes, np.ndarray | None]:
    """(the state blob, the continuation logits or None) of a state file's bytes. Only the
    section is checked here; the blob is checked by ``set_state``."""
    data = bytes(data)
    if len(data) < BLOB_HEADER_BYTES:
        return data, None  # set_state names what is wrong
    if struct.unpack_from("<I", data, _HEADER_CRC_AT)[0] != zlib.crc32(data[:_HEADER_CRC_AT]):
        return data, None  # a corrupt blob header: set_state says so
    n_floats = struct.unpack_from("<Q", data, _FLOATS_AT)[0]
    end = BLOB_HEADER_BYTES + 4 * n_floats
    if n_floats > len(data) or len(data) <= end:
        return data, None
    blob, rest = data[:end], data[end:]
    if not rest.startswith(LOGITS_MAGIC):
        return data, None  # padding, not a section: set_state reports the size
    what = f"{source}: the continuation section after the state (at byte {end})"
    size = _LOGITS_HEADER.size + 4
    if len(rest) < size:
        raise _core.FormatError(f"{what} is truncated: expected {size} or more bytes, found {len(rest)}; save the "
                                "state again")
    magic, version, count, crc = _LOGITS_HEADER.unpack_from(rest)
    (head_crc,) = struct.unpack_from("<I", rest, _LOGITS_HEADER.size)
    if head_crc != zlib.crc32(rest[:_LOGITS_HEADER.size]):
        raise _core.FormatError(f"{what} has a header checksum {head_crc:#010x} that does not match its bytes "
                                f"({zlib.crc32(rest[:_LOGITS_HEADER.size]):#010x}): the file is corrupt; save the "
                                "state again")
    if version != LOGITS_VERSION:
        raise _core.FormatError(f"{what} has version {version}, expected {LOGITS_VERSION}: it was written by "
                                "another version of rrwkv_rt")
    data_bytes = rest[size:]
    if len(data_bytes) != 4 * count or zlib.crc32(data_bytes) != crc:
        raise _core.FormatError(f"{what} should hold {count} logits ({4 * count} bytes, CRC-32 {crc:#010x}); found "
                                f"{len(data_bytes)} bytes with CRC-32 {zlib.crc32(data_bytes):#010x}: the file is "
                                "truncated or corrupt; save the state again")
    return blob, np.frombuffer(data_bytes, dtype="<f4").astype(np.float32)


def restore_state_bytes(session, data: bytes, source: str = "state file") -> None:
    """set_state from a state file's bytes, and its continuation logits if it has them."""
    try:
        blob, logits = split_state_file(data, source)
        if logits is not None and logits.size != session.model.vocab_size:
            raise _core.StateMismatchError(
                f"its continuation holds {logits.size} logits but this model's vocabulary has "
                f"{session.model.vocab_size} tokens: the state was saved from another model")
        session.set_state(blob)
    except (_core.FormatError, _core.StateMismatchError) as e:
        message = str(e) if str(e).startswith(source) else f"{source}: {e}"
        raise type(e)(message) from None
    if logits is not None:
        continuation.remember(session, logits, blob)


def save_state(self, path: str | os.PathLike) -> None:
    """Save this session's state (and position, and what generate("") would continue from) to
    `path`, atomically."""
    data = state_file_bytes(self)
    with atomic_write(path) as f:
        f.write(data)


def load_state(self, path: str | os.PathLike) -> int:
    """Restore a state saved by save_state() (or any get_state() blob) and return the position."""
    with open(path, "rb") as f:
        data = f.read()
    restore_state_bytes(self, data, f"state file {os.fspath(path)!r}")
    return self.pos


# ---- pickling ----------------------------------------------------------------------------------

def reduce_session(self):
    """pickle support: a Session travels as its model's path and identity, its settings and its
    state file bytes; unpickling opens the model file again (it must be the same file), once for
    all the sessions unpickled while one of them lives."""
    info = self.model.info
    # every CPU (threads=None) stays "every CPU" on the machine that unpickles it
    threads = None if self.threads == len(os.sched_getaffinity(0)) else self.threads  # as the C++ default
    args = (os.path.abspath(info["path"]), info["header_crc32"], threads, self.prefill_chunk, state_file_bytes(self))
    # a session's own initial state (initial_state=...) travels along, and the fast path's flag
    return _unpickle_session, args + (self.initial_state, self.exact)


def copy_session(self, memo=None):
    """copy.copy / copy.deepcopy: a clone (same model, its own copy of the state), continuation
    logits included."""
    twin = self.clone()
    logits = continuation.recall(self)
    if logits is not None:
        continuation.remember(twin, logits)
    return twin


# Models opened by unpickling, so that the sessions of one pickle (or of many) share one Model,
# opened and verified once, as long as any of them is alive.
_UNPICKLED_MODELS: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_MODEL_OF_SESSION: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # keeps those entries alive


def _model_for(path: str, header_crc32: int):
    model = _UNPICKLED_MODELS.get((path, header_crc32))
    if model is None or model.closed:
        model = _core.Model(path)
        _UNPICKLED_MODELS[(path, model.info["header_crc32"])] = model
    return model


def _pickled_threads(threads) -> int | None:
    """A pickled Session's thread count, as this machine can honour it: None stays "every CPU";
    more threads than the CPUs this process may use become that many (a pickle from a larger
    machine, or a crafted one asking for thousands)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise _core.FormatError(f"a pickled Session's threads must be None or an integer >= 1, got {threads!r}: the "
                                "pickle is corrupt")
    return min(threads, len(os.sched_getaffinity(0)))


def _unpickle_session(path: str, header_crc32: int, threads: int | None, prefill_chunk: int, data: bytes,
                      initial_state=None, exact: bool = True):  # older pickles: exact sessions
    threads = _pickled_threads(threads)
    model = _model_for(path, header_crc32)
    found = model.info["header_crc32"]
    if found != header_crc32:
        raise _core.StateMismatchError(f"a pickled Session of model {path!r} (header crc32 {header_crc32:#010x}) "
                                       f"cannot be restored: that file now holds another model (header crc32 "
                                       f"{found:#010x}); restore it where the original model file is")
    session = _core.Session(model, threads=threads, prefill_chunk=prefill_chunk, initial_state=initial_state,
                            exact=exact)
    restore_state_bytes(session, data, "pickled Session")
    _MODEL_OF_SESSION[session] = model
    return session


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


__all__ = ["load_state", "save_state", "split_state_file", "state_arrays", "state_file_bytes"]
