"""Fixtures for the CPU runtime tests: random models written as .rrwkv files.

Models come from the reference package (`rrwkv_rt.reference.random_model`, every parameter
random at a sane scale) and are cached per test session by (config, seed, dtype).
"""
from __future__ import annotations

import pytest

from rrwkv_rt.config import ModelConfig


@pytest.fixture(scope="session")
def model_factory(tmp_path_factory):
    """factory(cfg, seed=0, dtype="f32") -> (path of the .rrwkv file, reference RWKV in float32)."""
    torch = pytest.importorskip("torch")
    from rrwkv_rt.io.export import export_state_dict
    from rrwkv_rt.reference import random_model

    folder = tmp_path_factory.mktemp("models")
    refs: dict = {}
    paths: dict = {}

    def factory(cfg: ModelConfig, seed: int = 0, dtype: str = "f32"):
        key = (cfg, seed)
        if key not in refs:
            refs[key] = random_model(cfg, seed=seed, dtype=torch.float32).eval()
        if (key, dtype) not in paths:
            path = folder / f"m{len(paths)}_{cfg.arch}_s{cfg.medium_interval}_{cfg.cm_mode}_{dtype}.rrwkv"
            export_state_dict(refs[key].state_dict(), cfg, path, dtype=dtype)
            paths[(key, dtype)] = str(path)
        return paths[(key, dtype)], refs[key]

    return factory
