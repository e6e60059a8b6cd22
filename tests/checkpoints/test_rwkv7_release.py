"""RWKV-7 checkpoints as released: current RWKV-LM does not create layer 0's value-residual tensors
(v0/v1/v2) and the rwkv package ignores them when present; low-rank sizes differ per width (the
gate's is often larger than a small model's width). Each exports and matches the package."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402
from rrwkv_rt.io.format import read_tensors  # noqa: E402

from ckpt_helpers import assert_matches_official, official_sd, run_official_on, save, tokens  # noqa: E402

# released-like proportions at a small width: gate 128 > C, decay/a 32, v 16; and odd sizes
CASES = {
    "gate-wider-than-C": ModelConfig("rwkv7", 3, 64, 131, head_size=32, lora_decay=32, lora_a=32, lora_v=16,
                                     lora_gate=128),
    "odd-sizes": ModelConfig("rwkv7", 2, 64, 97, head_size=64, lora_decay=13, lora_a=7, lora_v=3, lora_gate=5,
                             ffn_dim=160),
}
LAYER0_V = ("blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """case -> (state dict without layer 0's v0/v1/v2, tokens, the package's outputs on it)."""
    folder = tmp_path_factory.mktemp("v7release")
    sds = {case: {k: v for k, v in official_sd(cfg, seed=3).items() if k not in LAYER0_V}
           for case, cfg in CASES.items()}
    toks = {case: tokens(cfg.vocab_size, seed=i) for i, (case, cfg) in enumerate(CASES.items())}
    return folder, sds, toks, run_official_on("rwkv7", sds, toks, folder)


@pytest.mark.parametrize("case", list(CASES))
def test_layer_0_without_value_residual_matches_the_package(released, case):
    folder, sds, toks, outs = released
    src = save(sds[case], folder / f"{case}-src.pth")
    notes = []
    cfg = export(src, folder / f"{case}.rrwkv", notes=notes)
    assert cfg == CASES[case]  # every low-rank size read back from the shapes
    assert not any("ignored" in n for n in notes)
    assert_matches_official(folder / f"{case}.rrwkv", toks[case], outs[case])


def test_layer_0_value_residual_tensors_are_ignored_whatever_they_hold(released, tmp_path):
    """With v0/v1/v2 in layer 0 (any values, even mis-shaped ones) the file holds the same model
    as without them, and a note says they were ignored."""
    _, sds, _, _ = released
    cfg = CASES["odd-sizes"]
    without = save(sds["odd-sizes"], tmp_path / "without.pth")
    export(without, tmp_path / "without.rrwkv")
    for name, extra in (("official", official_sd(cfg, seed=3)),
                        ("misshaped", {**sds["odd-sizes"], "blocks.0.att.v1": torch.zeros(5, 7)})):
        notes = []
        export(save(extra, tmp_path / f"{name}.pth"), tmp_path / f"{name}.rrwkv", notes=notes)
        assert any("ignored blocks.0.att.v0" in n or "ignored blocks.0.att.v1" in n for n in notes), notes
        _, want = read_tensors(tmp_path / "without.rrwkv")
        _, got = read_tensors(tmp_path / f"{name}.rrwkv")
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_one_layer_model_without_value_residual(tmp_path):
    """With one layer there is no value-residual size to read at all: the model still exports
    (lora_v, unused, is recorded as 1) and matches the package."""
    cfg = ModelConfig("rwkv7", 1, 64, 89, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16)
    sd = {k: v for k, v in official_sd(cfg, seed=5).items() if k not in LAYER0_V}
    toks = {"one": tokens(cfg.vocab_size, seed=9)}
    outs = run_official_on("rwkv7", {"one": sd}, toks, tmp_path)
    got = export(save(sd, tmp_path / "src.pth"), tmp_path / "one.rrwkv")
    assert got == cfg.with_(lora_v=1)
    assert_matches_official(tmp_path / "one.rrwkv", toks["one"], outs["one"])
    assert rrwkv_rt.Model(str(tmp_path / "one.rrwkv")).info["lora_v"] == 1


def test_other_missing_value_residual_tensors_are_still_reported(tmp_path):
    cfg = CASES["odd-sizes"]
    sd = official_sd(cfg, seed=1)
    del sd["blocks.1.att.v2"]
    with pytest.raises(rrwkv_rt.FormatError, match=r"missing tensor 'blocks.1.att.v2' \(expected shape \(3, 64\)\)"):
        export(save(sd, tmp_path / "bad.pth"), tmp_path / "bad.rrwkv")
    assert not (tmp_path / "bad.rrwkv").exists()
