"""Merging a LoRA adapter into a checkpoint at export (``export --lora ADAPTER --lora-alpha A``).

The layout is RWKV-PEFT's and RWKV-LM's (what their merge scripts read): beside a base weight
``X.weight`` of shape (out, in) the adapter holds ``X.lora_A`` (r, in) and ``X.lora_B`` (out, r),
and the merged weight is ``X.weight + (A_alpha / r) · B · A`` (computed in float64). Every other
tensor of the adapter (parameters trained in full beside the LoRA, e.g. layer norms or the
state-mixing vectors) replaces the base's tensor of the same name, as those scripts do; one the
base does not have is an error, like a lora_A without its lora_B.
"""
from __future__ import annotations

import os

import numpy as np

SUFFIX_A, SUFFIX_B = ".lora_A", ".lora_B"


def merge_lora(state_dict: dict, adapter_path: str | os.PathLike, alpha: float | None) -> tuple[dict, str]:
    """The state dict with the adapter merged in (a new dict; the input is not changed), and a
    one-line description for the file's metadata. ValueError naming the tensor for anything that
    does not fit."""
    from .checkpoint import load_checkpoint
    adapter_path = os.fspath(adapter_path)
    if alpha is None:
        raise ValueError("--lora needs --lora-alpha: the merge adds (alpha / rank) · B · A and adapter files do not "
                         "record alpha; pass the value the adapter was trained with (RWKV-PEFT's --lora_alpha)")
    if not float(alpha) > 0:
        raise ValueError(f"--lora-alpha must be > 0, got {alpha}")
    adapter, _ = load_checkpoint(adapter_path, what="LoRA adapter")
    out = dict(state_dict)
    problems: list[str] = []
    pairs = sorted(k[: -len(SUFFIX_A)] for k in adapter if k.endswith(SUFFIX_A))
    for k in adapter:
        if k.endswith(SUFFIX_B) and k[: -len(SUFFIX_B)] not in pairs:
            problems.append(f"{k!r} has no {k[: -len(SUFFIX_B)] + SUFFIX_A!r}")
    replaced = []
    for k, v in adapter.items():
        if k.endswith((SUFFIX_A, SUFFIX_B)):
            continue
        if k not in out:
            problems.append(f"{k!r} replaces no tensor of the base model")
        elif tuple(v.shape) != tuple(out[k].shape):
            problems.append(f"{k!r} has shape {tuple(v.shape)}, the base model's {tuple(out[k].shape)}")
        else:
            out[k] = v
            replaced.append(k)
    ranks = set()
    for prefix in pairs:
        a, b, base = adapter[prefix + SUFFIX_A], adapter.get(prefix + SUFFIX_B), prefix + ".weight"
        if b is None:
            problems.append(f"{prefix + SUFFIX_A!r} has no {prefix + SUFFIX_B!r}")
            continue
        if base not in out:
            problems.append(f"{prefix + SUFFIX_A!r} adapts {base!r}, which the base model does not have")
            continue
        w = out[base]
        rank = a.shape[0] if a.ndim == 2 else -1
        if a.ndim != 2 or b.ndim != 2 or w.ndim != 2 or b.shape[1] != rank or (b.shape[0], a.shape[1]) != w.shape:
            problems.append(f"{prefix!r}: lora_B {tuple(b.shape)} · lora_A {tuple(a.shape)} does not fit {base!r} "
                            f"{tuple(w.shape)}; expected (out, r) and (r, in)")
            continue
        ranks.add(rank)
        delta = np.asarray(b, np.float64) @ np.asarray(a, np.float64) * (float(alpha) / rank)
        out[base] = np.asarray(w, np.float64) + delta
    if problems:
        raise ValueError(f"LoRA adapter {adapter_path!r} does not fit the model: {len(problems)} problem(s):\n  "
                         + "\n  ".join(problems))
    if not pairs:
        raise ValueError(f"LoRA adapter {adapter_path!r} has no '*.lora_A' / '*.lora_B' tensors; is it an adapter?")
    desc = (f"{os.path.basename(adapter_path)}: {len(pairs)} matrices, rank {'/'.join(map(str, sorted(ranks)))}, "
            f"alpha {float(alpha):g}")
    if replaced:
        desc += f", {len(replaced)} tensors replaced"
    return out, desc
