"""State files: a session's recurrent state saved to disk, so that a long prompt is ingested once
and reused (attached as ``Session.save_state(path)`` / ``Session.load_state(path)``).

Layout, version 1 (little-endian), a 64-byte header then the ``Session.get_state()`` blob:

    0  magic b"RRWKVSF\\n"          8  u32 version (1)          12 u32 header size (64)
    16 u32 model header crc32       20 u8 arch (0 rwkv4, 1 rrwkv)  21 u8 cm_mode (0 replace, 1 add)
    22 u16 reserved (0)             24 u32 n_layer  28 u32 n_embd  32 u32 vocab_size
    36 u32 medium_interval          40 i64 pos                  48 u64 blob size
    56 u32 crc32 of the blob        60 u32 crc32 of bytes 0..60

The model identity (the model file's header crc32, which covers its tensor checksums, plus the
architecture and shape) is checked before the state is touched: a file saved from another model
is refused with ValueError; a truncated or corrupt file raises FormatError. Files are written
atomically (a temporary file in the same folder, fsync, rename), so a crash leaves either the old
file or the new one.
"""
from __future__ import annotations

import os
import struct
import zlib

from . import _core
from .atomic import atomic_write

MAGIC = b"RRWKVSF\n"
VERSION = 1
_HEADER = struct.Struct("<8sIIIBBHIIIIqQI")  # everything but the header's own crc32
HEADER_SIZE = _HEADER.size + 4
assert HEADER_SIZE == 64
_ARCHS = ("rwkv4", "rrwkv")
_CM_MODES = ("replace", "add")


def _identity(info: dict) -> tuple:
    return (info["header_crc32"], _ARCHS.index(info["arch"]), _CM_MODES.index(info["cm_mode"]), info["n_layer"],
            info["n_embd"], info["vocab_size"], info["medium_interval"])


def _describe(crc: int, arch: int, cm: int, n_layer: int, n_embd: int, vocab: int, s: int) -> str:
    name = _ARCHS[arch] if arch < len(_ARCHS) else f"unknown arch {arch}"
    d = f"{name} n_layer={n_layer} n_embd={n_embd} vocab_size={vocab}"
    if name == "rrwkv":
        d += f" medium_interval={s} cm_mode={_CM_MODES[cm] if cm < len(_CM_MODES) else cm}"
    return d + f" (model header crc32 {crc:#010x})"


def encode_state(session) -> bytes:
    """The bytes of a state file holding `session`'s state."""
    blob = session.get_state()
    crc, arch, cm, n_layer, n_embd, vocab, s = _identity(session.model.info)
    head = _HEADER.pack(MAGIC, VERSION, HEADER_SIZE, crc, arch, cm, 0, n_layer, n_embd, vocab, s, session.pos,
                        len(blob), zlib.crc32(blob))
    return head + struct.pack("<I", zlib.crc32(head)) + blob


def decode_state(data: bytes, session, source: str = "state") -> bytes:
    """The get_state() blob inside state-file bytes, after every check against `session`'s model."""
    if len(data) < HEADER_SIZE:
        raise _core.FormatError(f"{source} is truncated: {len(data)} bytes, but a state file has a {HEADER_SIZE}-byte "
                                "header; it was not completely written: save the state again")
    (magic, version, header_size, crc, arch, cm, _reserved, n_layer, n_embd, vocab, s, pos, blob_size,
     blob_crc) = _HEADER.unpack_from(data)
    identity = (crc, arch, cm, n_layer, n_embd, vocab, s)
    if magic != MAGIC:
        raise _core.FormatError(f"{source} is not an rrwkv_rt state file: it starts with {data[:8]!r}, expected "
                                f"{MAGIC!r}; pass a file written by save_state() / --state-out")
    if version > VERSION:
        raise _core.FormatError(f"{source} has state file version {version}, newer than this rrwkv_rt reads "
                                f"({VERSION}); upgrade rrwkv_rt")
    (head_crc,) = struct.unpack_from("<I", data, _HEADER.size)
    if version != VERSION or header_size != HEADER_SIZE or zlib.crc32(data[:_HEADER.size]) != head_crc:
        raise _core.FormatError(f"{source} has a corrupt header (checksum or sizes do not match); the file is "
                                "damaged: save the state again")
    if len(data) != HEADER_SIZE + blob_size:
        raise _core.FormatError(f"{source} should have {HEADER_SIZE + blob_size} bytes ({blob_size}-byte state after "
                                f"the header) but has {len(data)}; it is truncated or damaged: save the state again")
    blob = data[HEADER_SIZE:]
    if zlib.crc32(blob) != blob_crc:
        raise _core.FormatError(f"{source} is corrupt: the checksum of its {blob_size}-byte state does not match; "
                                "save the state again")
    expected = _identity(session.model.info)
    if identity != expected:
        what = ("the same shape but other weights" if identity[1:] == expected[1:] else "another model")
        raise ValueError(f"{source} was saved from {what}: expected {_describe(*expected)} as in "
                         f"{session.model.path!r}, found {_describe(*identity)}; load it into a session on the "
                         "model it was saved from, or recompute the state from its prompt")
    if pos < 0:
        raise _core.FormatError(f"{source} is corrupt: position {pos} is negative; save the state again")
    return blob


def save_state(self, path: str | os.PathLike) -> None:
    """Save this session's state (and position) to `path`, atomically."""
    with atomic_write(path) as f:
        f.write(encode_state(self))


def load_state(self, path: str | os.PathLike) -> int:
    """Restore a state saved by save_state() from a session on the same model; returns the
    position. ValueError for a state of another model, FormatError for a damaged file; the
    session's state is unchanged on any error."""
    with open(path, "rb") as f:
        data = f.read()
    self.set_state(decode_state(data, self, f"state file {os.fspath(path)!r}"))
    return self.pos


__all__ = ["save_state", "load_state", "encode_state", "decode_state"]
