"""Checkpoint -> .rrwkv conversion (``python -m rrwkv_rt export``).

The transforms applied here are listed in docs/FORMAT.md; keep the two in step.
"""
from __future__ import annotations

import datetime
import os

import numpy as np

from .. import _core, __version__
from .. import arch
from ..arch import check_against_spec, infer_config
from ..config import RWKV4_FAMILY, ModelConfig
from .checkpoint import load_checkpoint
from . import precision, state_tuning
from .dtypes import canonical_dtype
from .format import write_model
from .lora import merge_lora


def to_runtime_layout(state_dict: dict[str, np.ndarray], cfg: ModelConfig, dtype: str,
                      dtype_for: dict[str, str] | None = None,
                      notes: list[str] | None = None) -> dict[str, tuple[np.ndarray, str]]:
    """Every tensor the runtime needs with its storage type: vectors f32, matrices ``dtype``
    (a quantized one for the projections only: ``precision.plan``), ``dtype_for`` overriding
    per tensor class. ``notes`` (if given) receives what could not be done as asked."""
    module = arch.module_for(cfg.arch)  # the architecture's export transforms
    if hasattr(module, "prepare"):  # those that need several tensors at once (RWKV-7 DeepEmbed)
        state_dict = module.prepare(state_dict, cfg)
    converted = dict(module.to_runtime(k, np.asarray(v)) for k, v in state_dict.items())
    layout = _core.runtime_layout(cfg.to_dict())
    dtypes, planned_notes = precision.plan(layout, dtype, dtype_for)
    if notes is not None:
        notes.extend(planned_notes)
    out = {}
    for name, shape, _ in layout:
        a = converted[name]
        assert tuple(a.shape) == tuple(shape), (name, a.shape, shape)
        out[name] = (a, dtypes[name])
    return out


def resolve_config(shapes: dict, embedded: ModelConfig | None, arch: str = "auto",
                   medium_interval: int | None = None, cm_mode: str | None = None) -> ModelConfig:
    if embedded is not None:
        changes = {k: v for k, v in (("medium_interval", medium_interval), ("cm_mode", cm_mode)) if v is not None}
        if arch not in ("auto", embedded.arch):
            raise ValueError(f"--arch {arch} contradicts the checkpoint's recorded arch {embedded.arch!r}")
        return embedded.with_(**changes)
    cfg = infer_config(shapes, arch=arch, medium_interval=medium_interval, cm_mode=cm_mode)
    runs = [name for name, _ in _core.architectures()]
    if cfg.arch not in runs:
        raise ValueError(f"this is an {cfg.arch} checkpoint (n_layer={cfg.n_layer}, n_embd={cfg.n_embd}); this "
                         f"runtime runs {', '.join(runs)}. Its PyTorch reference model loads it: "
                         "rrwkv_rt.reference.from_state_dict(torch.load(path))")
    if cfg.is_rrwkv and medium_interval is None:
        raise ValueError("this is an RRWKV state dict, whose medium interval cannot be read from its tensors; "
                         "pass --medium-interval S (the s it was trained with)")
    if cfg.is_rrwkv and "blocks.0.att.time_decay_m" not in shapes:
        raise ValueError("--arch rrwkv was asked for, but the checkpoint has no RRWKV tensors (att.time_decay_m); "
                         "it is an RWKV-4 checkpoint: export it with --arch rwkv4, or warm-start an RRWKV "
                         "from it with `python -m rrwkv_rt train`")
    return cfg


SOURCE_WORDS = {"pth": "official layout (.pth)", "safetensors": "official layout (.safetensors)",
                "training checkpoint": "rrwkv_rt training checkpoint"}


def _describe_source(loaded, cfg: ModelConfig) -> str:
    """What the model was exported from, for the file's meta.source_layout (`rrwkv info`)."""
    from .hf import describe
    layout = getattr(loaded, "layout", "pth")
    words = SOURCE_WORDS.get(layout) or f"Hugging Face folder: {describe(layout)}"
    return f"{words}, {cfg.arch}, {getattr(loaded, 'source_dtype', 'f32')}"


def _detected_tokenizer(state_dict, cfg: ModelConfig, notes: list[str]):
    """The tokenizer where it is certain (a Hugging Face folder's tokenizer.json; a training
    checkpoint records it; vocab 65536 is RWKV World's), else None with a note saying what to pass."""
    from ..tokenizer import Tokenizer
    folder_tokenizer = getattr(state_dict, "tokenizer_path", None)
    if folder_tokenizer is not None:
        notes.append(f"stored the folder's tokenizer.json ({folder_tokenizer}); --vocab overrides it")
        return Tokenizer.from_spec(folder_tokenizer)
    spec = getattr(state_dict, "recorded_vocab", None)
    why = "the training checkpoint records it"
    if spec is None and cfg.vocab_size == 65536:
        spec, why = "world", "vocab_size 65536 is the RWKV World vocabulary's"
    if spec is None:
        hint = (" (vocab_size 50277: an RWKV-4 Pile model, whose tokenizer is GPT-NeoX 20B's: "
                "--vocab 20B_tokenizer.json)" if cfg.vocab_size == 50277 else "")
        notes.append("no tokenizer stored: generate/chat will need one; pass --vocab world|bytes|PATH" + hint)
        return None
    notes.append(f"stored the {spec} tokenizer ({why}); --vocab overrides it")
    return Tokenizer.from_spec(spec)


def export_state_dict(state_dict: dict, cfg: ModelConfig, dst: str | os.PathLike, *, dtype: str = "f32",
                      force: bool = False, metadata: dict | None = None, progress: bool | None = None,
                      dtype_for: dict[str, str] | None = None) -> None:
    """Write an in-memory official-layout state dict (numpy arrays or torch tensors) as .rrwkv."""
    from .checkpoint import _to_numpy
    arrays = {k: _to_numpy(v) for k, v in state_dict.items()}
    problems = check_against_spec({k: tuple(v.shape) for k, v in arrays.items()}, cfg, "state dict")
    if problems:
        raise _core.FormatError("state dict does not fit its config: " + "; ".join(problems))
    write_model(dst, cfg, to_runtime_layout(arrays, cfg, canonical_dtype(dtype), precision.parse_overrides(dtype_for)),
                metadata=metadata,
                force=force, progress=progress, check_readable=True)


def export(src: str | os.PathLike, dst: str | os.PathLike, *, dtype: str = "auto", arch: str = "auto",
           medium_interval: int | None = None, cm_mode: str | None = None, force: bool = False,
           progress: bool | None = None, vocab: str | os.PathLike | None = None,
           dtype_for: dict[str, str] | list[str] | None = None, notes: list[str] | None = None,
           lora: str | os.PathLike | None = None, lora_alpha: float | None = None,
           initial_state: str | os.PathLike | None = None, drop_unknown: bool = False) -> ModelConfig:
    """Convert checkpoint ``src`` into the .rrwkv file ``dst``; returns the model's config.

    ``src``: an official .pth, a .safetensors file, a training checkpoint or run directory, or a
    Hugging Face model folder (io/hf.py). ``dtype`` "auto" keeps the source's precision (f32, f16
    or bf16). ``vocab`` ("world", "bytes", a vocabulary file or tokenizer.json) stores that
    tokenizer; without it the tokenizer is detected where certain (a Hugging Face folder's
    tokenizer.json, World models, training checkpoints); ``dtype_for`` ({"head": "q8_0"} or
    ["head=q8_0"]) overrides ``dtype`` per tensor class (io/precision.py). ``lora`` merges that
    adapter first (io/lora.py, with ``lora_alpha``); ``initial_state`` bakes a state-tuning file in
    (io/state_tuning.py; a checkpoint's own time_state tensors are baked too). Tensors the layout
    does not use are refused by name unless ``drop_unknown``. ``notes`` receives what was done
    beyond the plain conversion. Nothing is written unless everything fits."""
    overrides = precision.parse_overrides(dtype_for)
    notes = notes if notes is not None else []
    if os.path.exists(dst) and not force:
        raise FileExistsError(f"{os.fspath(dst)!r} already exists; pass --force to overwrite it")
    tokenizer = None
    if vocab is not None:  # before the checkpoint is loaded, so a bad --vocab fails fast
        from ..tokenizer import Tokenizer
        tokenizer = Tokenizer.from_spec(vocab)
    if lora is None and lora_alpha is not None:
        raise ValueError("--lora-alpha is given without --lora; pass the adapter with --lora ADAPTER")
    state_dict, embedded = load_checkpoint(src)
    loaded = state_dict  # what the source said besides its tensors (checkpoint.StateDict)
    # "auto": the source's own precision, so a bf16 checkpoint is not doubled in size
    dtype = state_dict.source_dtype if dtype == "auto" else canonical_dtype(dtype)
    config_changes = dict(state_dict.config_changes)
    lora_desc = None
    if lora is not None:
        state_dict, lora_desc = merge_lora(state_dict, lora, lora_alpha)
        notes.append(f"merged the LoRA adapter {lora_desc}")
    state_dict, cfg, baked, state_desc = _model_of(state_dict, embedded, arch, medium_interval, cm_mode,
                                                   config_changes, initial_state, notes)
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    problems = check_against_spec(shapes, cfg, os.fspath(src))
    if problems:
        raise _shape_error(src, cfg, problems)
    dropped = _unused(shapes, cfg, src, drop_unknown, notes)
    if tokenizer is None:
        tokenizer = _detected_tokenizer(loaded, cfg, notes)
    metadata = {
        "source": os.path.basename(os.path.normpath(os.fspath(src))),
        "source_layout": _describe_source(loaded, cfg),
        "exporter": f"rrwkv_rt {__version__}",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if lora_desc is not None:
        metadata["lora"] = lora_desc
    if state_desc is not None:
        metadata["initial_state"] = state_desc
    if dropped:
        metadata["dropped"] = ", ".join(dropped)
    if tokenizer is not None:
        tokenizer.check_fits(cfg.vocab_size)
    tensors = to_runtime_layout(state_dict, cfg, dtype, overrides, notes)
    tensors.update({name: (a, "f32") for name, a in baked.items()})
    write_model(dst, cfg, tensors, metadata=metadata, force=force, progress=progress,
                tokenizer=tokenizer.header if tokenizer is not None else None, check_readable=True)
    return cfg


def _model_of(state_dict, embedded, arch_name, medium_interval, cm_mode, config_changes, initial_state, notes):
    """(state dict in this package's layout, config, baked initial-state tensors, their
    description): the architecture detected, its layout variants normalised, the time_state
    tensors taken out (and replaced by ``initial_state`` if given)."""
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    guess = embedded.arch if embedded is not None else arch_name
    if guess == "auto":
        guess = arch.detect_arch(shapes) if "emb.weight" in shapes else "rwkv4"
    state_dict, normalized = arch.normalize(state_dict, guess)
    notes.extend(normalized)
    inside = {k: state_dict[k] for k in state_dict if state_tuning.is_time_state(k)}
    state_dict = {k: v for k, v in state_dict.items() if k not in inside}
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    cfg = resolve_config(shapes, embedded, arch_name, medium_interval, cm_mode)
    if config_changes:
        cfg = cfg.with_(**config_changes)
    states, desc = None, None
    if initial_state is not None:
        states, desc = state_tuning.read(initial_state, cfg)
        if inside:
            notes.append(f"the checkpoint's own initial state ({len(inside)} time_state tensors) is replaced by "
                         f"{desc}")
        notes.append(f"baked the initial state {desc} into the model file")
    elif inside:
        states = state_tuning.check(inside, cfg, "the checkpoint's time_state tensors")
        desc = "the checkpoint's blocks.N.att.time_state"
        notes.append(f"baked the initial state the checkpoint holds ({len(inside)} time_state tensors) into the "
                     "model file; sessions start from it")
    baked = state_tuning.baked_tensors(states, cfg) if states is not None else {}
    return state_dict, cfg, baked, desc


def _shape_error(src, cfg: ModelConfig, problems: list[str]) -> Exception:
    fits = (f"checkpoint {os.fspath(src)!r} does not fit {cfg.arch} (n_layer={cfg.n_layer}, "
            f"n_embd={cfg.n_embd}, vocab={cfg.vocab_size})")
    # --arch and --cm-mode choose between RWKV-4 and RRWKV only; RWKV-5.2/6/7 are told by their keys
    fix = ("fix the checkpoint or pass the right --arch / --cm-mode" if cfg.arch in RWKV4_FAMILY else
           f"fix the checkpoint (its keys are those of {cfg.arch}; no option changes how they are read)")
    err = _core.FormatError(f"{fits}: {len(problems)} problem(s):\n  " + "\n  ".join(problems) + "\n" + fix)
    # the command line's one-line form (cli._error_text); the message keeps the full list
    err.brief = (f"{fits}: {problems[0]}; {fix}"
                 if len(problems) == 1 else
                 f"{fits}: {len(problems)} tensors missing or mis-shaped, the first: {problems[0]}; "
                 "run with --verbose for the full list")
    return err


def _unused(shapes: dict, cfg: ModelConfig, src, drop_unknown: bool, notes: list[str]) -> list[str]:
    """Tensors the layout does not use: the optional ones are ignored (a note says so); any other
    is refused by name, or with ``drop_unknown`` dropped (returned, and a note lists them)."""
    ignored, unknown = arch.unused_tensors(shapes, cfg)
    if ignored:
        notes.append(f"ignored {', '.join(ignored)}: unused by the model (RWKV-7's first layer has no value "
                     "residual), as in the rwkv package")
    if not unknown:
        return []
    listed = ", ".join(repr(k) for k in unknown[:12]) + (f" and {len(unknown) - 12} more" if len(unknown) > 12 else "")
    if not drop_unknown:
        raise ValueError(f"checkpoint {os.fspath(src)!r} holds {len(unknown)} tensor(s) the {cfg.arch} layout does "
                         f"not use: {listed}. Exporting without them would compute another model than the one "
                         "trained; if you know they are not needed, pass --drop-unknown (drop_unknown=True)")
    notes.append(f"dropped {len(unknown)} tensor(s) the {cfg.arch} layout does not use (--drop-unknown): {listed}")
    return unknown
