"""Random models of the benchmark shapes, written as .rrwkv (and .pth for the official package)."""
from __future__ import annotations

import contextlib
import os

import numpy as np

SHAPES = {  # name -> (n_layer, n_embd, vocab)
    "169m": (12, 768, 50277),
    "430m": (24, 1024, 50277),
    "1.5b": (24, 2048, 50277),  # the GPU goals' shape (RWKV-4 1.5B; RWKV-7 1.5B's width and depth)
    "tiny": (4, 256, 5000),
}
MEDIUM_INTERVAL = 16  # the RRWKV the benchmarks measure
# The matrix-state generations at the same width: head size 64 and the low-rank sizes of the
# official 0.1B-class models (RWKV-6: 32 for the token shift, 64 for the decay; RWKV-7: decay 64,
# rate 64, value residual 32, gate 128); vocab 50304 as those models' head.
MATRIX = {
    "rwkv5": dict(head_size=64),
    "rwkv6": dict(head_size=64, lora_mix=32, lora_decay=64),
    "rwkv7": dict(head_size=64, lora_decay=64, lora_a=64, lora_v=32, lora_gate=128),
}


def config(arch: str, shape: str):
    from rrwkv_rt.config import ModelConfig
    n_layer, n_embd, vocab = SHAPES[shape]
    if arch in MATRIX:
        return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=50304 if vocab == 50277 else vocab,
                           **MATRIX[arch])
    return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab,
                       medium_interval=MEDIUM_INTERVAL if arch == "rrwkv" else 1)


def random_state_dict(cfg, seed: int = 0) -> dict:
    """Official-layout float32 state dict with every parameter random at a sane scale (the
    matrix-state generations: their reference models' random init)."""
    if cfg.arch in MATRIX:
        from rrwkv_rt.reference import MODEL_CLASSES
        model = MODEL_CLASSES[cfg.arch](cfg, init="random", seed=seed)
        return {k: v.detach().numpy() for k, v in model.state_dict().items()}
    from rrwkv_rt.arch import checkpoint_spec
    rng = np.random.default_rng(seed)
    sd = {}
    for name, shape in checkpoint_spec(cfg).items():
        if len(shape) == 2:
            a = rng.standard_normal(shape, dtype=np.float32)
            if name != "emb.weight":
                a *= np.float32(1.0 / np.sqrt(shape[1]))
        elif ".ln" in name or name.startswith("ln_out."):
            a = (np.ones(shape) if name.endswith(".weight") else np.zeros(shape)).astype(np.float32)
        elif "time_decay" in name:
            a = rng.uniform(-3.0, 1.0, shape).astype(np.float32)
        elif "time_first" in name:
            a = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        else:  # time_mix_*, medium_mix_*
            a = rng.uniform(0.0, 1.0, shape).astype(np.float32)
        sd[name] = a
    return sd


@contextlib.contextmanager
def _atomic(path: str):
    """Write under a temporary name and rename at the end: an interrupted build must not leave a
    truncated file that a later run (reusing the models directory) would take as built."""
    stem, ext = os.path.splitext(path)
    tmp = f"{stem}.partial{ext}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build(workdir: str, shape: str, archs: list[str], dtypes: list[str], want_pth: bool,
          log=lambda msg: None) -> dict:
    """Writes the .rrwkv files (and the .pth for the package) that `workdir` does not hold yet,
    calling `log` before each (a 169M export takes seconds to tens of seconds); returns
    {(arch, dtype): path, ("pth", arch): path}. Only the dtypes asked for are written."""
    from rrwkv_rt.io.export import export_state_dict
    paths: dict = {}
    for arch in archs:
        cfg, sd = config(arch, shape), None
        for dtype in dtypes:
            path = os.path.join(workdir, f"{shape}_{arch}_{dtype}.rrwkv")
            if not os.path.exists(path):
                log(f"building {os.path.basename(path)} (random weights, then export)")
                sd = sd if sd is not None else random_state_dict(cfg)
                # "q4_1+head": the head quantized too (by default a quantized dtype keeps it f16)
                base, _, also = dtype.partition("+")
                with _atomic(path) as tmp:
                    export_state_dict(sd, cfg, tmp, dtype=base, progress=False,
                                      dtype_for={c: base for c in also.split("+") if c})
            paths[(arch, dtype)] = path
        pth = os.path.join(workdir, f"{shape}_{arch}.pth")
        if arch != "rrwkv" and want_pth:  # the official package runs every arch but RRWKV
            if not os.path.exists(pth):
                log(f"writing {os.path.basename(pth)} (the rwkv package's checkpoint)")
                import torch
                sd = sd if sd is not None else random_state_dict(cfg)
                with _atomic(pth) as tmp:
                    torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, tmp)
            paths[("pth", arch)] = pth
    return paths


def evict_from_page_cache(path: str) -> None:
    """Drop a (clean, just written) file from the page cache so that the runtime reads it as it
    would a model on disk: through its mapping, into 2 MiB page-cache folios that the kernel maps
    with huge pages (a file just written sits in small folios; decode then loses ~15% to page
    walks)."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
