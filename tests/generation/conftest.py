"""Fixtures of the generation tests: small random byte-level models (a tokenizer "bytes" in the
header), written once per test session."""
from __future__ import annotations

import pytest

from rrwkv_rt.config import ModelConfig

from gen_helpers import write_random_model as _write


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """{"a": byte-level rwkv4, "a2": same shape other weights, "b": byte-level rrwkv}: paths."""
    pytest.importorskip("torch")
    d = tmp_path_factory.mktemp("gen_models")
    small = ModelConfig(arch="rwkv4", n_layer=2, n_embd=32, vocab_size=256)
    rr = ModelConfig(arch="rrwkv", n_layer=2, n_embd=32, vocab_size=256, medium_interval=4, cm_mode="add")
    return {"a": _write(d / "a.rrwkv", small, 1), "a2": _write(d / "a2.rrwkv", small, 2),
            "b": _write(d / "b.rrwkv", rr, 3)}

