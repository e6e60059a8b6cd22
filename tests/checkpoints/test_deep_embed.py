"""RWKV-7 DeepEmbed ("v7a"): per-layer ffn.s_emb (a per-token 32 x 32 table), s_emb_x, s1, s2, s0.
Random checkpoints of that layout, exported and run against the official package with
RWKV_DE_VERSION=1 (its switch for them). Before DeepEmbed was supported such a checkpoint
exported without error and without these tensors, and computed another model."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402

from ckpt_helpers import (add_deep_embed, assert_matches_official, max_abs, official_sd, run_official_on,  # noqa: E402
                          runtime_outputs, save, tokens)

R = 32  # the package's DeepEmbed code is written for 32 x 32 tables
CASES = {
    "L2-C64-h32": ModelConfig("rwkv7", 2, 64, 97, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16),
    "L3-C64-h64-F160": ModelConfig("rwkv7", 3, 64, 150, head_size=64, lora_decay=13, lora_a=7, lora_v=5,
                                   lora_gate=11, ffn_dim=160),
}


def deep_embed_sd(cfg: ModelConfig, seed: int) -> dict:
    """An official-layout RWKV-7 checkpoint with DeepEmbed tensors."""
    return add_deep_embed(official_sd(cfg, seed=seed), cfg, seed, R)


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deepembed")
    sds = {case: deep_embed_sd(cfg, seed=i) for i, (case, cfg) in enumerate(CASES.items())}
    toks = {case: tokens(cfg.vocab_size, seed=30 + i) for i, (case, cfg) in enumerate(CASES.items())}
    outs = run_official_on("rwkv7", sds, toks, folder, deep_embed=True)
    paths = {}
    for case, sd in sds.items():
        paths[case] = folder / f"{case}.rrwkv"
        assert export(save(sd, folder / f"{case}-src.pth"), paths[case]) == CASES[case].with_(deep_embed=R)
    return folder, sds, toks, outs, paths


@pytest.mark.parametrize("case", list(CASES))
def test_matches_the_package_with_deep_embed_on(deep, case):
    _, _, toks, outs, paths = deep
    assert_matches_official(paths[case], toks[case], outs[case])


def test_the_file_records_deep_embed_and_the_model_differs_without_it(deep, tmp_path):
    _, sds, toks, outs, paths = deep
    case = "L2-C64-h32"
    f = rrwkv_rt.ModelFile(str(paths[case]))
    assert f.config["deep_embed"] == R and f.fields["deep_embed"] == R
    names = {t["name"]: t for t in f.tensors}
    assert names["blocks.1.ffn.s_emb"]["shape"] == (97, R * R) and names["blocks.1.ffn.s1"]["shape"] == (R, 64)
    assert not any("s_emb_x" in n for n in names)  # folded into s_emb at export
    # the same checkpoint without its DeepEmbed tensors is a different model
    plain = {k: v for k, v in sds[case].items() if ".s_emb" not in k and not k.endswith((".s0", ".s1", ".s2"))}
    export(save(plain, tmp_path / "plain.pth"), tmp_path / "plain.rrwkv")
    _, seq = runtime_outputs(tmp_path / "plain.rrwkv", toks[case])
    assert max_abs(seq, outs[case]["seq"].numpy()) > 0.1
    assert "deep_embed" not in rrwkv_rt.ModelFile(str(tmp_path / "plain.rrwkv")).fields  # absent when 0


def test_batched_rows_equal_sessions_and_half_precision_stays_close(deep, tmp_path):
    _, sds, toks, outs, paths = deep
    case = "L3-C64-h64-F160"
    model = rrwkv_rt.Model(str(paths[case]))
    batch = rrwkv_rt.Batch(model, capacity=3)
    sessions = [rrwkv_rt.Session(model, threads=1) for _ in range(3)]
    rows = []
    for i, s in enumerate(sessions):
        r = batch.add()
        if i:
            batch.forward(r, toks[case][:5 * i])
            s.forward(toks[case][:5 * i])
        rows.append(r)
    for t in toks[case][20:26]:
        got = batch.step(rows, [t, (t + 1) % 150, (t + 7) % 150])
        for i, s in enumerate(sessions):
            np.testing.assert_array_equal(got[i], s.step([t, (t + 1) % 150, (t + 7) % 150][i]))
    export(save(sds[case], tmp_path / "src.pth"), tmp_path / "h.rrwkv", dtype="f16")
    f = rrwkv_rt.ModelFile(str(tmp_path / "h.rrwkv"))
    assert {t["dtype"] for t in f.tensors if t["name"].endswith(".s_emb")} == {"f16"}
    _, seq = runtime_outputs(tmp_path / "h.rrwkv", toks[case])
    assert max_abs(seq, outs[case]["seq"].numpy()) < 3e-2


def test_quantized_export_keeps_the_tables_f16_by_default(deep, tmp_path):
    _, sds, _, _, _ = deep
    export(save(sds["L2-C64-h32"], tmp_path / "src.pth"), tmp_path / "q.rrwkv", dtype="q8_0")
    dtypes = {t["name"]: t["dtype"] for t in rrwkv_rt.ModelFile(str(tmp_path / "q.rrwkv")).tensors}
    assert dtypes["blocks.0.ffn.s_emb"] == "f16" and dtypes["blocks.0.ffn.key.weight"] == "q8_0"


def test_a_missing_deep_embed_tensor_is_named(deep, tmp_path):
    _, sds, _, _, _ = deep
    sd = dict(sds["L2-C64-h32"])
    del sd["blocks.1.ffn.s_emb_x.weight"]
    sd["blocks.0.ffn.s2"] = torch.zeros(R, 100)
    with pytest.raises(rrwkv_rt.FormatError) as e:
        export(save(sd, tmp_path / "bad.pth"), tmp_path / "bad.rrwkv")
    assert "missing tensor 'blocks.1.ffn.s_emb_x.weight' (expected shape (1024, 64))" in str(e.value)
    assert "tensor 'blocks.0.ffn.s2' has shape (32, 100), expected (32, 256)" in str(e.value)
    assert not (tmp_path / "bad.rrwkv").exists()
