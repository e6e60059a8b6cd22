"""f16 and bf16 weight matrices, converted to f32 on the fly with f32 accumulation.

Two checks: (1) exact (<= 1e-4) against the reference model whose matrices were rounded the same
way, so the only error is the rounding of the weights; (2) the documented tolerance against the
f32 model on random models with logits of unit scale (max |logit| ~ 4):
    max |Δlogit| <= 1e-2 for f16 and <= 5e-2 for bf16 (observed: ~2e-3 and ~1.6e-2).
"""
import numpy as np
import pytest

import rrwkv_rt

from rt_helpers import make_config, max_abs, reference_logits, tokens

torch = pytest.importorskip("torch")

DOCUMENTED_TOL = {"f16": 1e-2, "bf16": 5e-2}
TORCH_DTYPE = {"f16": torch.float16, "bf16": torch.bfloat16}
CASES = [("rwkv4", 1, "replace"), ("rrwkv", 3, "replace"), ("rrwkv", 16, "add")]


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("arch,s,mode", CASES, ids=[f"{a}-s{s}-{m}" for a, s, m in CASES])
def test_half_weights(model_factory, arch, s, mode, dtype):
    cfg = make_config(arch, n_layer=2, n_embd=80, vocab=211, s=s, mode=mode, ffn_dim=150)
    path32, ref = model_factory(cfg, seed=13)
    path, _ = model_factory(cfg, seed=13, dtype=dtype)
    assert rrwkv_rt.Model(path).info["dtype"] == dtype
    toks = tokens(cfg.vocab_size, 66, seed=3)

    rounded = type(ref)(cfg, init=None)
    rounded.load_state_dict({k: (v.to(TORCH_DTYPE[dtype]).float() if v.ndim == 2 else v)
                             for k, v in ref.state_dict().items()})
    expected = reference_logits(rounded.eval(), toks)
    sess = rrwkv_rt.Session(path)
    fwd = sess.forward(toks, all_logits=True)
    assert max_abs(fwd, expected) <= 1e-4
    sess.reset()
    stepped = np.stack([sess.step(int(t)) for t in toks])
    assert max_abs(stepped, expected) <= 1e-4

    f32 = rrwkv_rt.Session(path32).forward(toks, all_logits=True)
    assert max_abs(fwd, f32) <= DOCUMENTED_TOL[dtype]


def test_half_weights_long_prefill_uses_tiles(model_factory):
    """Prefill long enough for the BLAS path: bf16 weights converted tile by tile, a large head."""
    cfg = make_config("rrwkv", n_layer=1, n_embd=64, vocab=5000, s=5, mode="replace")
    path, ref = model_factory(cfg, seed=14, dtype="bf16")
    toks = tokens(cfg.vocab_size, 140, seed=4)
    rounded = type(ref)(cfg, init=None)
    rounded.load_state_dict({k: (v.to(torch.bfloat16).float() if v.ndim == 2 else v)
                             for k, v in ref.state_dict().items()})
    expected = reference_logits(rounded.eval(), toks)
    assert max_abs(rrwkv_rt.Session(path).forward(toks, all_logits=True), expected) <= 1e-4


def test_mixed_matrix_dtypes(model_factory, tmp_path):
    """The format allows a dtype per tensor: an f32 head with f16 / bf16 layers works too."""
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    cfg = make_config("rwkv4", n_layer=2, n_embd=48, vocab=150)
    _, ref = model_factory(cfg, seed=15)
    arrays = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    tensors = to_runtime_layout(arrays, cfg, "bf16")
    tensors["head.weight"] = (tensors["head.weight"][0], "f32")
    tensors["blocks.1.ffn.value.weight"] = (tensors["blocks.1.ffn.value.weight"][0], "f16")
    path = tmp_path / "mixed.rrwkv"
    write_model(path, cfg, tensors)
    rounded = type(ref)(cfg, init=None)
    sd = {}
    for k, v in ref.state_dict().items():
        if v.ndim == 2 and k != "head.weight":
            v = v.to(torch.float16 if k == "blocks.1.ffn.value.weight" else torch.bfloat16).float()
        sd[k] = v
    rounded.load_state_dict(sd)
    toks = tokens(cfg.vocab_size, 40, seed=6)
    expected = reference_logits(rounded.eval(), toks)
    assert max_abs(rrwkv_rt.Session(str(path)).forward(toks, all_logits=True), expected) <= 1e-4
