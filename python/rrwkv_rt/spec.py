"""Which tensors each architecture needs, in the official BlinkDL checkpoint layout.

One place declares the layout so that loading and exporting can report *every* missing or
mis-shaped tensor at once instead of failing on the first. RWKV-4 and RRWKV are declared here;
RWKV-5.2/6/7 in ``rrwkv_rt.arch``, to which these functions delegate.
"""
from __future__ import annotations

from . import arch as _arch
from .config import ModelConfig


def checkpoint_spec(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of a checkpoint in the official (training) layout."""
    if cfg.has_matrix_state:
        return _arch.module_for(cfg.arch).checkpoint_spec(cfg)
    C, F, V = cfg.n_embd, cfg.ffn_dim, cfg.vocab_size
    spec: dict[str, tuple[int, ...]] = {"emb.weight": (V, C)}
    spec["blocks.0.ln0.weight"] = (C,)
    spec["blocks.0.ln0.bias"] = (C,)
    for i in range(cfg.n_layer):
        p = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            spec[p + ln + ".weight"] = (C,)
            spec[p + ln + ".bias"] = (C,)
        for name in ("time_mix_k", "time_mix_v", "time_mix_r"):
            spec[p + "att." + name] = (1, 1, C)
        spec[p + "att.time_decay"] = (C,)
        spec[p + "att.time_first"] = (C,)
        for name in ("key", "value", "receptance", "output"):
            spec[p + f"att.{name}.weight"] = (C, C)
        spec[p + "ffn.time_mix_k"] = (1, 1, C)
        spec[p + "ffn.time_mix_r"] = (1, 1, C)
        spec[p + "ffn.key.weight"] = (F, C)
        spec[p + "ffn.receptance.weight"] = (C, C)
        spec[p + "ffn.value.weight"] = (C, F)
        if cfg.is_rrwkv:
            spec[p + "att.time_decay_m"] = (C,)
            spec[p + "att.time_first_m"] = (C,)
            if cfg.cm_mode == "add":
                spec[p + "ffn.medium_mix_k"] = (1, 1, C)
                spec[p + "ffn.medium_mix_r"] = (1, 1, C)
    spec["ln_out.weight"] = (C,)
    spec["ln_out.bias"] = (C,)
    spec["head.weight"] = (V, C)
    return spec


def check_against_spec(shapes: dict[str, tuple[int, ...]], cfg: ModelConfig, what: str) -> list[str]:
    """Every problem of ``shapes`` against the spec, one readable line each (empty if none)."""
    expected = checkpoint_spec(cfg)
    problems = []
    for name, shape in expected.items():
        if name not in shapes:
            problems.append(f"missing tensor {name!r} (expected shape {shape})")
        elif tuple(shapes[name]) != shape:
            problems.append(f"tensor {name!r} has shape {tuple(shapes[name])}, expected {shape}")
    return problems


def infer_config(shapes: dict[str, tuple[int, ...]], arch: str = "auto", medium_interval: int | None = None,
                 cm_mode: str | None = None) -> ModelConfig:
    """Guess the config of a checkpoint from its tensor shapes (raises ValueError if it can't).

    ``arch="auto"`` detects it (``arch.detect_arch``). The medium arguments are RRWKV's (which
    checkpoints do not record); other arches accept only their fixed values.
    """
    if arch == "auto" and "emb.weight" in shapes:
        detected = _arch.detect_arch(shapes)
        arch = detected if detected in _arch.MODULES else arch  # RWKV-4 / RRWKV: decided below, as always
    if arch in _arch.MODULES:
        if medium_interval not in (None, 1) or cm_mode not in (None, "replace"):
            raise ValueError(f"{arch} has no mediums: medium_interval / cm_mode do not apply "
                             f"(got {medium_interval!r}, {cm_mode!r})")
        return _arch.module_for(arch).infer_config(shapes)
    if "emb.weight" not in shapes or len(shapes["emb.weight"]) != 2:
        raise ValueError("cannot infer the model shape: the checkpoint has no 2-D 'emb.weight' "
                         "(is this an RWKV-4 / RRWKV state dict?)")
    vocab_size, n_embd = (int(d) for d in shapes["emb.weight"])
    layers = {int(k.split(".")[1]) for k in shapes if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    if not layers:
        raise ValueError("cannot infer the model shape: the checkpoint has no 'blocks.N.*' tensors")
    n_layer = max(layers) + 1
    ffn = shapes.get("blocks.0.ffn.key.weight")
    ffn_dim = int(ffn[0]) if ffn is not None and len(ffn) == 2 else 4 * n_embd
    if arch == "auto":
        arch = "rrwkv" if "blocks.0.att.time_decay_m" in shapes else "rwkv4"
    if cm_mode is None:
        cm_mode = "add" if "blocks.0.ffn.medium_mix_k" in shapes else "replace"
    if medium_interval is None:
        medium_interval = 1
    return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab_size, ffn_dim=ffn_dim,
                       medium_interval=medium_interval, cm_mode=cm_mode)
