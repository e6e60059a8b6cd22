"""LoRA adapters merged at export (RWKV-PEFT / RWKV-LM layout: X.lora_A (r, in), X.lora_B (out, r)
beside X.weight; W + (alpha / r) B A), against the same merge done by hand in PyTorch; the merged
file against the official package run on the hand-merged checkpoint."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402
from rrwkv_rt.io.format import read_tensors  # noqa: E402

from ckpt_helpers import assert_matches_official, official_sd, run_official_on, save, tokens  # noqa: E402

CFG = ModelConfig("rwkv6", 2, 64, 97, head_size=32, lora_mix=7, lora_decay=13)
ALPHA = 24.0
TARGETS = ("att.receptance", "att.key", "att.value", "att.gate", "att.output", "ffn.key", "ffn.value")


def adapter(cfg: ModelConfig, rank: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    sd = official_sd(cfg)
    out = {}
    for i in range(cfg.n_layer):
        for t in TARGETS:
            o, n = sd[f"blocks.{i}.{t}.weight"].shape
            out[f"blocks.{i}.{t}.lora_A"] = torch.randn(rank, n, generator=g) / n ** 0.5
            out[f"blocks.{i}.{t}.lora_B"] = torch.randn(o, rank, generator=g) * 0.3
    out["blocks.1.ln2.weight"] = torch.rand(cfg.n_embd, generator=g) + 0.5  # trained in full beside the LoRA
    return out


def merged_by_hand(base: dict, lora: dict, alpha: float) -> dict:
    out = {k: v.clone() for k, v in base.items()}
    for k, v in lora.items():
        if not k.endswith((".lora_A", ".lora_B")):
            out[k] = v.clone()
    for k in [k for k in lora if k.endswith(".lora_A")]:
        prefix = k[: -len(".lora_A")]
        a, b = lora[k].double(), lora[prefix + ".lora_B"].double()
        out[prefix + ".weight"] = (base[prefix + ".weight"].double() + b @ a * (alpha / a.shape[0])).float()
    return out


def test_merge_equals_the_hand_merge_and_the_package_on_it(tmp_path):
    base, lora = official_sd(CFG), adapter(CFG, rank=4, seed=1)
    hand = merged_by_hand(base, lora, ALPHA)
    toks = {"m": tokens(CFG.vocab_size, seed=2)}
    outs = run_official_on("rwkv6", {"m": hand}, toks, tmp_path)
    notes = []
    export(save(base, tmp_path / "base.pth"), tmp_path / "m.rrwkv", lora=save(lora, tmp_path / "lora.pth"),
           lora_alpha=ALPHA, notes=notes)
    assert any("merged the LoRA adapter lora.pth: 14 matrices, rank 4, alpha 24, 1 tensors replaced" in n for n in notes)
    export(save(hand, tmp_path / "hand.pth"), tmp_path / "hand.rrwkv")
    _, got = read_tensors(tmp_path / "m.rrwkv")
    _, want = read_tensors(tmp_path / "hand.rrwkv")
    for k in want:  # the same f32 weights, bit for bit
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert_matches_official(tmp_path / "m.rrwkv", toks["m"], outs["m"])
    assert "lora.pth: 14 matrices" in rrwkv_rt.ModelFile(str(tmp_path / "m.rrwkv")).fields["meta.lora"]


def test_bf16_base_keeps_its_precision_and_the_cli_merges(tmp_path, capsys):
    base = {k: v.to(torch.bfloat16) for k, v in official_sd(CFG).items()}
    lora = adapter(CFG, rank=2, seed=3)
    src, ad = save(base, tmp_path / "base.pth"), save(lora, tmp_path / "lora.pth")
    assert main(["export", src, str(tmp_path / "m.rrwkv"), "--lora", ad, "--lora-alpha", "8"]) == 0
    assert "merged the LoRA adapter" in capsys.readouterr().out
    f = rrwkv_rt.ModelFile(str(tmp_path / "m.rrwkv"))
    assert {t["dtype"] for t in f.tensors if len(t["shape"]) == 2} == {"bf16"}
    hand = merged_by_hand({k: v.float() for k, v in base.items()}, lora, 8.0)
    _, got = read_tensors(tmp_path / "m.rrwkv")
    np.testing.assert_array_equal(got["blocks.0.att.key.weight"],
                                  hand["blocks.0.att.key.weight"].to(torch.bfloat16).float().numpy())
    assert main(["export", src, str(tmp_path / "n.rrwkv"), "--lora", ad]) == 1
    assert "--lora needs --lora-alpha" in capsys.readouterr().err
    assert not (tmp_path / "n.rrwkv").exists()


def test_adapters_that_do_not_fit_are_refused_by_name(tmp_path):
    base = official_sd(CFG)
    src = save(base, tmp_path / "base.pth")
    good = adapter(CFG, rank=2, seed=4)
    cases = {
        "missing B": ({k: v for k, v in good.items() if k != "blocks.0.att.key.lora_B"},
                      "'blocks.0.att.key.lora_A' has no 'blocks.0.att.key.lora_B'"),
        "no base": ({**good, "blocks.0.att.nothing.lora_A": torch.zeros(2, 64),
                     "blocks.0.att.nothing.lora_B": torch.zeros(64, 2)},
                    "adapts 'blocks.0.att.nothing.weight', which the base model does not have"),
        "shape": ({**good, "blocks.1.ffn.key.lora_B": torch.zeros(7, 2)},
                  "'blocks.1.ffn.key': lora_B (7, 2) · lora_A (2, 64) does not fit 'blocks.1.ffn.key.weight' (224, 64)"),
        "replaced shape": ({**good, "ln_out.bias": torch.zeros(3)},
                           "'ln_out.bias' has shape (3,), the base model's (64,)"),
        "not an adapter": ({"blocks.0.ln1.weight": torch.ones(64)}, "has no '*.lora_A' / '*.lora_B' tensors"),
    }
    for what, (sd, message) in cases.items():
        with pytest.raises(ValueError) as e:
            export(src, tmp_path / "x.rrwkv", lora=save(sd, tmp_path / "a.pth"), lora_alpha=4)
        assert message in str(e.value), (what, str(e.value))
        assert not (tmp_path / "x.rrwkv").exists()
    with pytest.raises(ValueError, match="--lora-alpha must be > 0"):
        export(src, tmp_path / "x.rrwkv", lora=save(good, tmp_path / "a.pth"), lora_alpha=0)
    with pytest.raises(ValueError, match="without --lora"):
        export(src, tmp_path / "x.rrwkv", lora_alpha=4)
