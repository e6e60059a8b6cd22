"""Conversions between numpy arrays and the element types of .rrwkv tensors.

numpy has no bfloat16, so bf16 tensors travel as their raw uint16 bit patterns; the quantized
types (q8_0, q4_1: ``quant.py``) as the raw bytes of their rows.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from . import quant

DTYPE_CODES = {name: code for name, (code, _, _) in _core.DTYPES.items()}  # from the C++ dtype table
# "fp16" -> "f16", "int8" -> "q8_0", ...: the C++ table's aliases of the storable types
ALIASES = {alias: name for alias, name in _core.DTYPE_ALIASES.items() if name in DTYPE_CODES}


def canonical_dtype(name: str) -> str:
    """'fp16' -> 'f16', 'int8' -> 'q8_0' etc.; raises ValueError naming the valid choices."""
    name = ALIASES.get(name, name)
    if name not in DTYPE_CODES:
        raise ValueError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPE_CODES)} "
                         "(or fp32, fp16, bfloat16, int8, int4)")
    return name


def is_quantized(dtype: str) -> bool:
    return dtype in quant.QUANTIZED


def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest, ties to even; NaN stays NaN) and return the uint16 bits."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> 16) & 1))) >> 16
    nan = np.isnan(a)
    if nan.any():
        rounded = np.where(nan, (bits >> 16) | 0x40, rounded)  # keep a quiet NaN
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def encode(a: np.ndarray, dtype: str) -> np.ndarray:
    """The array as contiguous little-endian storage of ``dtype`` (quantized: uint8 rows)."""
    a = np.asarray(a)
    if is_quantized(dtype):
        return quant.encode(a, dtype)
    if dtype == "f32":
        return np.ascontiguousarray(a, dtype="<f4")
    if dtype == "f16":
        return np.ascontiguousarray(a.astype(np.float32), dtype="<f2")
    if dtype == "bf16":
        return np.ascontiguousarray(f32_to_bf16_bits(a.astype(np.float32)), dtype="<u2")
    raise ValueError(f"unknown dtype {dtype!r}")


def decode(stored: np.ndarray, dtype: str, shape: tuple | None = None) -> np.ndarray:
    """Stored tensor -> float32 copy (quantized types need the tensor's logical ``shape``)."""
    if is_quantized(dtype):
        return quant.decode(stored, dtype, shape[-1]).reshape(shape)
    if dtype == "bf16":
        return bf16_bits_to_f32(stored)
    return np.asarray(stored, dtype=np.float32).copy()
