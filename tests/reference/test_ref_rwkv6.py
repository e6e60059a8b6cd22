"""RWKV-6 reference model: checks beyond the official package's (those are in test_ref_matrix_official.py)."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, random_model, tokens  # noqa: E402

ARCH = "rwkv6"


@torch.no_grad()
def test_with_zero_loras_it_is_rwkv5_2():
    """RWKV-6 without its LoRAs (no data-dependent shift or decay) is RWKV-5.2 with μ = 1 - maa: an
    independent check of both models' token shift, decay and layout."""
    from matrix_helpers import max_abs_diff, one_thread
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import RWKV5

    cfg6 = CASES[ARCH]["L2-C64-h32-m13-d7"]
    v6 = random_model(cfg6, seed=1, dtype=torch.float64)
    sd6 = v6.state_dict()
    for name in sd6:
        if name.endswith(("time_maa_w2", "time_decay_w2")):
            sd6[name].zero_()
    H, S = cfg6.n_head, cfg6.head_size
    sd5 = {}
    for name, t in sd6.items():
        prefix, _, leaf = name.rpartition(".")
        if leaf.startswith("time_maa_") and leaf[-1] in "kvrg" and len(leaf) == len("time_maa_k"):
            sd5[f"{prefix}.time_mix_{leaf[-1]}"] = 1 - t
        elif leaf == "time_decay":
            sd5[name] = t.reshape(H, S)
        elif not leaf.startswith(("time_maa_", "time_decay_")):
            sd5[name] = t
    v5 = RWKV5.from_state_dict(sd5, dtype=torch.float64)
    assert v5.cfg == ModelConfig("rwkv5", cfg6.n_layer, cfg6.n_embd, cfg6.vocab_size, ffn_dim=cfg6.ffn_dim,
                                 head_size=S)
    toks = torch.tensor([tokens(cfg6.vocab_size, n=40, seed=3)])
    with one_thread():
        out6, out5 = v6(toks), v5(toks)
    assert out6.std().item() > 0.3
    assert max_abs_diff(out5, out6) <= 1e-10
