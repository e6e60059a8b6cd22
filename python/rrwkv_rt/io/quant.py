"""The quantized weight types in numpy: encoding (quantization) and decoding, in the row layout
the C++ kernels read (csrc/kernels/cpu/quant.h, docs/FORMAT.md). Rows are the last dimension
and a whole number of blocks of 32 elements.

* ``q8_0``: per block an f16 scale ``d = max|x| / 127`` and int8 ``q = round(x / d)``: x ≈ d q.
* ``q4_1``: per block an f16 scale ``d = (max - min) / 15`` and offset ``m = min``, and 4-bit
  ``q = round((x - m) / d)`` in 0..15: x ≈ d q + m.

Scales are rounded to f16 *before* the values are quantized against them, so the decoded value
is the nearest representable one for the stored scale (the round-trip error is at most d / 2 per
element, d / 2 plus the offset's rounding for q4_1).
"""
from __future__ import annotations

import numpy as np

BLOCK = 32
QUANTIZED = ("q8_0", "q4_1")


def row_blocks(cols: int) -> int:
    if cols % BLOCK:
        raise ValueError(f"a quantized row needs a multiple of {BLOCK} elements, got {cols}")
    return cols // BLOCK


def _f16(a: np.ndarray, what: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = a.astype(np.float16)
    if not np.isfinite(h).all():
        raise ValueError(f"{what} overflows f16 (|value| up to {float(np.abs(a).max()):.3g}); these weights cannot "
                         "be quantized: keep this tensor in f16/f32")
    return h


def encode(a: np.ndarray, dtype: str) -> np.ndarray:
    """float array (..., cols) -> uint8 array (rows, row bytes) in the file's layout."""
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("cannot quantize non-finite weights (NaN or inf)")
    cols = a.shape[-1]
    nb = row_blocks(cols)
    blocks = a.reshape(-1, nb, BLOCK)
    rows = blocks.shape[0]
    if dtype == "q8_0":
        d = _f16(np.abs(blocks).max(axis=2) / 127.0, "a q8_0 scale")
        df = d.astype(np.float64)
        q = np.where(df[..., None] > 0, np.rint(blocks / np.where(df > 0, df, 1.0)[..., None]), 0.0)
        q = np.clip(q, -127, 127).astype(np.int8)
        return np.concatenate([d.view(np.uint8).reshape(rows, 2 * nb), q.view(np.uint8).reshape(rows, cols)], axis=1)
    if dtype == "q4_1":
        lo, hi = blocks.min(axis=2), blocks.max(axis=2)
        m = _f16(lo, "a q4_1 offset")
        d = _f16((hi - m.astype(np.float64)) / 15.0, "a q4_1 scale")
        df, mf = d.astype(np.float64), m.astype(np.float64)
        q = np.where(df[..., None] > 0, np.rint((blocks - mf[..., None]) / np.where(df > 0, df, 1.0)[..., None]), 0.0)
        q = np.clip(q, 0, 15).astype(np.uint8)  # (rows, nb, 32)
        packed = (q[..., :16] | (q[..., 16:] << 4)).reshape(rows, 16 * nb)
        return np.concatenate([d.view(np.uint8).reshape(rows, 2 * nb), m.view(np.uint8).reshape(rows, 2 * nb), packed],
                              axis=1)
    raise ValueError(f"not a quantized dtype: {dtype!r}")


def decode(stored: np.ndarray, dtype: str, cols: int) -> np.ndarray:
    """uint8 (rows, row bytes) -> float32 (rows, cols): the values the kernels compute with."""
    raw = np.ascontiguousarray(stored, dtype=np.uint8).reshape(-1, stored.shape[-1] if stored.ndim else 0)
    rows, nb = raw.shape[0], row_blocks(cols)
    d = raw[:, :2 * nb].copy().view(np.float16).astype(np.float32)  # (rows, nb)
    if dtype == "q8_0":
        q = raw[:, 2 * nb:].copy().view(np.int8).astype(np.float32).reshape(rows, nb, BLOCK)
        return (q * d[..., None]).reshape(rows, cols)
    if dtype == "q4_1":
        m = raw[:, 2 * nb:4 * nb].copy().view(np.float16).astype(np.float32)
        packed = raw[:, 4 * nb:].reshape(rows, nb, 16)
        q = np.concatenate([packed & 15, packed >> 4], axis=2).astype(np.float32)
        # fused multiply-add, as the kernels: d * q + m rounded once (float64 is exact here)
        return (q.astype(np.float64) * d[..., None] + m[..., None]).astype(np.float32).reshape(rows, cols)
    raise ValueError(f"not a quantized dtype: {dtype!r}")


def row_bytes(dtype: str, cols: int) -> int:
    return row_blocks(cols) * (34 if dtype == "q8_0" else 20)
