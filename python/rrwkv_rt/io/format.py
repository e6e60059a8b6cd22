"""Writing .rrwkv files (docs/FORMAT.md). Reading and validation live in the C++ core
(``rrwkv_rt.ModelFile``), so Python and native programs share one loader.
"""
from __future__ import annotations

import os
import struct
import sys
import zlib
from typing import Iterable, Mapping

import numpy as np

from .. import _core
from ..config import ModelConfig
from .atomic import atomic_write
from .dtypes import DTYPE_CODES, decode, encode

# The format's constants come from the C++ reader, the one source of truth (format/model_file.h).
MAGIC = _core.MAGIC
FORMAT_VERSION = _core.FORMAT_VERSION
PREAMBLE_SIZE = _core.PREAMBLE_SIZE
ALIGN = _core.ALIGNMENT
U64, I64, F64, STR, BYTES = (_core.FIELD_TYPES[k] for k in ("u64", "i64", "f64", "str", "bytes"))


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def _field(key: str, value) -> bytes:
    if isinstance(value, bool):
        raise TypeError(f"header field {key!r}: booleans are not a field type; store 0/1")
    if isinstance(value, int):
        return _str(key) + (struct.pack("<BQ", U64, value) if value >= 0 else struct.pack("<Bq", I64, value))
    if isinstance(value, float):
        return _str(key) + struct.pack("<Bd", F64, value)
    if isinstance(value, str):
        return _str(key) + struct.pack("<B", STR) + _str(value)
    if isinstance(value, (bytes, bytearray)):
        return _str(key) + struct.pack("<BQ", BYTES, len(value)) + bytes(value)
    raise TypeError(f"header field {key!r} has unsupported type {type(value).__name__}")


def header_fields(cfg: ModelConfig, metadata: Mapping[str, str] | None = None,
                  tokenizer: tuple[str, bytes] | None = None) -> dict:
    # the fields the C++ reader expects for this architecture, typed as it reads them
    fields = {"arch": cfg.arch}
    for key, kind, optional in _core.config_fields(cfg.arch):
        value = getattr(cfg, key)
        if optional and not value:
            continue  # absent means 0: files without the feature stay as they were
        fields[key] = float(value) if kind == "f64" else str(value) if kind == "str" else int(value)
    if tokenizer is not None:
        kind, vocab = tokenizer
        fields["tokenizer.kind"] = kind
        fields["tokenizer.vocab"] = bytes(vocab)
    for k, v in (metadata or {}).items():
        fields["meta." + k] = str(v)
    return fields


def _tensor_entry(name: str, dtype: str, shape: tuple, offset: int, nbytes: int, crc: int) -> bytes:
    out = _str(name) + struct.pack("<BB", DTYPE_CODES[dtype], len(shape))
    out += struct.pack(f"<{len(shape)}Q", *shape)
    return out + struct.pack("<QQI", offset, nbytes, crc)


class Encoded:
    """A tensor already in its storage encoding (as ``ModelFile.tensor`` returns it) with its
    logical shape: ``write_model`` copies its bytes unchanged (re-encoding could differ)."""

    def __init__(self, stored: np.ndarray, shape: tuple):
        self.stored, self.shape = np.ascontiguousarray(stored), tuple(shape)


def _logical_shape(a) -> tuple:
    return a.shape if isinstance(a, Encoded) else np.shape(a)


def write_model(path: str | os.PathLike, cfg: ModelConfig, tensors: Mapping[str, tuple[np.ndarray, str]], *,
                metadata: Mapping[str, str] | None = None, tokenizer: tuple[str, bytes] | None = None,
                force: bool = False, progress: bool | None = None, check_readable: bool = False) -> None:
    """Write a .rrwkv file atomically (temporary file in the same folder, then rename).

    ``tensors`` maps runtime-layout names to ``(array, dtype)`` with dtype in f32/f16/bf16/q8_0/q4_1;
    the array is converted (quantized) to that dtype here. An existing ``path`` is kept unless ``force``. The
    config must be within the format's limits. ``check_readable``: open the finished file with
    the reader (all but the tensor checksums, which were just computed) before putting it in
    place, so that a file the runtime would refuse is never left behind (the exporter does; tests
    that write deliberately wrong layouts do not).
    """
    path = os.fspath(path)
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path!r} already exists; pass --force (force=True) to overwrite it")
    try:  # the reader's limits, before anything is written
        _core.check_config(cfg.to_dict())
    except ValueError as e:
        raise ValueError(f"cannot write {path!r}: {e}, which rrwkv_rt could not read back") from None
    stored = {name: (a.stored if isinstance(a, Encoded) else encode(a, dt), dt) for name, (a, dt) in tensors.items()}
    fields = header_fields(cfg, metadata, tokenizer)

    # Entry sizes do not depend on offsets or checksums, so lay the file out first.
    # The table records each tensor's logical shape (a quantized tensor's stored rows are bytes).
    table = [(name, dt, tuple(int(d) for d in _logical_shape(tensors[name][0])), a.nbytes)
             for name, (a, dt) in stored.items()]
    fields_bytes = struct.pack("<I", len(fields)) + b"".join(_field(k, v) for k, v in fields.items())
    table_size = 4 + sum(len(_tensor_entry(n, dt, sh, 0, nb, 0)) for n, dt, sh, nb in table)
    header_size = len(fields_bytes) + table_size
    data_offset = _align(PREAMBLE_SIZE + header_size)
    offsets, cursor = [], data_offset
    for _, _, _, nbytes in table:
        offsets.append(cursor)
        cursor = _align(cursor + nbytes)
    file_size = offsets[-1] + table[-1][3] if table else data_offset

    crcs = [zlib.crc32(a) for a, _ in stored.values()]
    entries = b"".join(_tensor_entry(n, dt, sh, off, nb, crc)
                       for (n, dt, sh, nb), off, crc in zip(table, offsets, crcs))
    header = fields_bytes + struct.pack("<I", len(table)) + entries
    assert len(header) == header_size
    after_crc = struct.pack("<QQQ", file_size, header_size, data_offset) + bytes(24)
    header_crc = zlib.crc32(header, zlib.crc32(after_crc))
    preamble = MAGIC + struct.pack("<II", FORMAT_VERSION, header_crc) + after_crc

    with atomic_write(path, overwrite=force, check=_readable if check_readable else None) as f:
        f.write(preamble)
        f.write(header)
        for (a, _), off in _progress(zip(stored.values(), offsets), len(table), progress):
            f.write(bytes(off - f.tell()))  # zero padding up to the 64-byte boundary
            f.write(a.tobytes(order="C"))


def _readable(path: str) -> None:
    """The file just written passes the reader's structural checks (its checksums were computed
    here, so they are skipped); a file that does not is never put in place."""
    try:
        _core.ModelFile(path, verify_checksums=False)
    except _core.FormatError as e:
        raise _core.FormatError(f"the writer produced a file its own reader refuses, so nothing was written "
                                f"(please report this): {e}") from None


def _progress(items: Iterable, total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return items
    from tqdm import tqdm
    return tqdm(items, total=total, desc="writing", unit="tensor", file=sys.stderr)


def read_tensors(path: str | os.PathLike, verify_checksums: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """(config dict, name -> float32 copy) of a validated .rrwkv file."""
    f = _core.ModelFile(os.fspath(path), verify_checksums)
    return f.config, {t["name"]: decode(f.tensor(t["name"]), t["dtype"], tuple(t["shape"])) for t in f.tensors}
