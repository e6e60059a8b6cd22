"""Random models of the benchmark shapes, written as .rrwkv (and .pth for the official package)."""
from __future__ import annotations

import os

import numpy as np

SHAPES = {  # name -> (n_layer, n_embd, vocab)
    "169m": (12, 768, 50277),
    "430m": (24, 1024, 50277),
    "tiny": (4, 256, 5000),
}
MEDIUM_INTERVAL = 16  # the RRWKV the benchmarks measure


def config(arch: str, shape: str):
    from rrwkv_rt.config import ModelConfig
    n_layer, n_embd, vocab = SHAPES[shape]
    return ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab,
                       medium_interval=MEDIUM_INTERVAL if arch == "rrwkv" else 1)


def random_state_dict(cfg, seed: int = 0) -> dict:
    """Official-layout float32 state dict with every parameter random at a sane scale."""
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


def build(workdir: str, shape: str, archs: list[str], dtypes: list[str], want_pth: bool) -> dict:
    """Writes the .rrwkv files (and the RWKV-4 .pth); returns {(arch, dtype): path, "pth": path}."""
    from rrwkv_rt.io.export import export_state_dict
    paths: dict = {}
    for arch in archs:
        cfg, sd = config(arch, shape), None
        for dtype in dtypes:
            path = os.path.join(workdir, f"{shape}_{arch}_{dtype}.rrwkv")
            if not os.path.exists(path):
                sd = sd if sd is not None else random_state_dict(cfg)
                export_state_dict(sd, cfg, path, dtype=dtype, progress=False)
            paths[(arch, dtype)] = path
        pth = os.path.join(workdir, f"{shape}_{arch}.pth")
        if arch == "rwkv4" and want_pth:
            if not os.path.exists(pth):
                import torch
                sd = sd if sd is not None else random_state_dict(cfg)
                torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, pth)
            paths["pth"] = pth
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
