"""Which storage type each tensor of a model file gets (``export --dtype``, ``rrwkv quantize``).

Vectors (per-channel parameters) are always f32. Matrices fall into classes, and a quantized
``--dtype`` applies only to the classes where it is known to cost little; the others keep f16
unless overridden (``--dtype-for CLASS=DTYPE``):

* ``att``  time-mix (recurrent-path) projections: receptance, key, value, gate, output;
* ``ffn``  channel-mix projections;
* ``emb``  the embedding (read one row per token, so its size costs memory, not time), and RWKV-7
  DeepEmbed's per-token tables;
* ``head`` the output projection (sets every logit directly; the largest single matrix);
* ``lora`` RWKV-6/7 low-rank matrices (small; they shape the decay and the gates), DeepEmbed's
  s1 / s2.

A matrix whose rows are not whole 32-element blocks cannot be quantized and keeps f16 (the
exporter says so).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from .dtypes import canonical_dtype, is_quantized
from .quant import BLOCK

CLASSES = ("att", "ffn", "emb", "head", "lora")
# The classes a quantized --dtype leaves in higher precision unless told otherwise. The 4-bit
# type puts the head in q8_0: it costs no measurable bits/byte (docs/QUANTIZATION.md, +0.00% on
# the 22M model, +0.01% on the shipped one) and the head is a vocabulary-heavy model's largest matrix.
KEPT_BY_DEFAULT = {"emb": "f16", "head": "f16", "lora": "f16"}
DEFAULTS_OF = {"q8_0": KEPT_BY_DEFAULT, "q4_1": {**KEPT_BY_DEFAULT, "head": "q8_0"}}
_PROJECTIONS = ("receptance", "key", "value", "gate", "output")


def tensor_class(name: str) -> str:
    """'blocks.3.att.key.weight' -> 'att'; raises ValueError for a name in no class."""
    if name == "emb.weight":
        return "emb"
    if name == "head.weight":
        return "head"
    parts = name.split(".")
    if len(parts) >= 4 and parts[0] == "blocks" and parts[2] in ("att", "ffn"):
        if parts[3] == "s_emb":  # RWKV-7 DeepEmbed's per-token table: read one row per token
            return "emb"
        if parts[3] in _PROJECTIONS:
            return parts[2]
        return "lora"  # time_maa_w1, w1, a2, g1, ...: the low-rank adapters
    raise ValueError(f"matrix {name!r} belongs to no tensor class ({', '.join(CLASSES)})")


def parse_overrides(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """['head=q8_0', 'att=f16'] (or a dict) -> {'head': 'q8_0', 'att': 'f16'}, checked."""
    if items is None:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else (_split(s) for s in items)
    out = {}
    for cls, dt in pairs:
        if cls not in CLASSES:
            raise ValueError(f"unknown tensor class {cls!r} in a dtype override; expected one of {', '.join(CLASSES)}")
        out[cls] = canonical_dtype(dt)
    return out


def _split(item: str) -> tuple[str, str]:
    cls, sep, dt = item.partition("=")
    if not sep:
        raise ValueError(f"a dtype override is CLASS=DTYPE (e.g. head=q8_0), got {item!r}")
    return cls.strip(), dt.strip()


def plan(layout: Iterable[tuple[str, tuple, bool]], dtype: str,
         overrides: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(name -> storage dtype, notes) for a runtime layout [(name, shape, is_matrix)].

    A plain ``dtype`` applies to every matrix (unless overridden); a quantized one to ``att``
    and ``ffn`` only, the rest following ``DEFAULTS_OF`` (f16, and a q8_0 head with q4_1). Notes say which matrices could
    not take the type they were asked for."""
    dtype = canonical_dtype(dtype)
    per_class = {c: dtype for c in CLASSES}
    if is_quantized(dtype):
        per_class.update(DEFAULTS_OF[dtype])
    per_class.update(overrides or {})
    out, notes, fallbacks = {}, [], []
    for name, shape, is_matrix in layout:
        if not is_matrix:
            out[name] = "f32"
            continue
        want = per_class[tensor_class(name)]
        if is_quantized(want) and shape[-1] % BLOCK:
            fallbacks.append(f"{name} ({shape[-1]} columns)")
            want = "f16"
        out[name] = want
    if fallbacks:
        notes.append(f"kept in f16, as rows of a multiple of {BLOCK} elements are needed to quantize: "
                     + ", ".join(fallbacks))
    return out, notes


def describe(dtypes: Mapping[str, str], layout: Iterable[tuple[str, tuple, bool]]) -> str:
    """'att q4_1, ffn q4_1, emb f16, head f16': the matrix classes' types, for messages."""
    seen: dict[str, set] = {}
    for name, _, is_matrix in layout:
        if is_matrix:
            seen.setdefault(tensor_class(name), set()).add(dtypes[name])
    return ", ".join(f"{c} {'/'.join(sorted(seen[c]))}" for c in CLASSES if c in seen)
