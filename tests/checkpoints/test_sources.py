"""What the exporter accepts and refuses, beyond the plain official .pth: tensors no part of the
layout uses are refused by name (or dropped with --drop-unknown, which lists them); layout variants
the rwkv package accepts are read as it reads them; every source keeps its precision; nothing is
written on failure."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import ModelConfig  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402

from ckpt_helpers import assert_matches_official, official_sd, run_official_on, save, tokens  # noqa: E402

V7 = ModelConfig("rwkv7", 2, 64, 97, head_size=32, lora_decay=8, lora_a=8, lora_v=8, lora_gate=16)


def test_unknown_tensors_are_refused_by_name_or_dropped_with_a_list(tmp_path, capsys):
    sd = official_sd(V7)
    sd["blocks.1.ffn.s_something"] = torch.zeros(4, 4)
    sd["extra.weight"] = torch.zeros(3)
    src, dst = save(sd, tmp_path / "m.pth"), str(tmp_path / "m.rrwkv")
    assert main(["export", src, dst]) == 1
    err = capsys.readouterr().err
    assert "holds 2 tensor(s) the rwkv7 layout does not use: 'blocks.1.ffn.s_something', 'extra.weight'" in err
    assert "--drop-unknown" in err and err.count("\n") == 1
    assert not (tmp_path / "m.rrwkv").exists()
    assert main(["export", src, dst, "--drop-unknown"]) == 0
    out = capsys.readouterr().out
    assert "dropped 2 tensor(s) the rwkv7 layout does not use (--drop-unknown): 'blocks.1.ffn.s_something'" in out
    f = rrwkv_rt.ModelFile(dst)
    assert f.fields["meta.dropped"] == "blocks.1.ffn.s_something, extra.weight"
    assert not any(t["name"] == "extra.weight" for t in f.tensors)


@pytest.mark.parametrize("dtype,stored", [(torch.bfloat16, "bf16"), (torch.float16, "f16"), (torch.float32, "f32")])
def test_safetensors_keep_their_precision(tmp_path, dtype, stored):
    """A bf16 .safetensors used to export as f32; it keeps its precision as a .pth does."""
    from safetensors.torch import save_file
    sd = {k: v.to(dtype) for k, v in official_sd(V7).items()}
    save_file(sd, str(tmp_path / "m.safetensors"))
    export(tmp_path / "m.safetensors", tmp_path / "m.rrwkv")
    f = rrwkv_rt.ModelFile(str(tmp_path / "m.rrwkv"))
    assert {t["dtype"] for t in f.tensors if len(t["shape"]) == 2} == {stored}
    assert f.fields["meta.source_layout"] == f"official layout (.safetensors), rwkv7, {stored}"
    head = np.asarray(rrwkv_rt.io.dtypes.decode(f.tensor("head.weight"), stored, (97, 64)))
    np.testing.assert_array_equal(head, sd["head.weight"].float().numpy())


def test_a_missing_safetensors_package_gives_an_install_hint(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_safetensors(name, *args, **kwargs):
        if name == "safetensors" or name.startswith("safetensors."):
            raise ImportError("No module named 'safetensors'")
        return real_import(name, *args, **kwargs)

    (tmp_path / "m.safetensors").write_bytes(b"\0" * 16)
    monkeypatch.setattr(builtins, "__import__", no_safetensors)
    with pytest.raises(ImportError, match=r"needs the safetensors package: pip install 'rrwkv_rt\[torch\]'"):
        export(tmp_path / "m.safetensors", tmp_path / "m.rrwkv")


def test_rwkv5_bonus_stored_as_time_first_is_read_as_the_package_reads_it(tmp_path):
    """Early RWKV-5 checkpoints store the bonus as att.time_first with u = exp(time_first); the
    package accepts them, and so does the exporter (a note says so)."""
    cfg = ModelConfig("rwkv5", 2, 64, 97, head_size=32)
    sd = official_sd(cfg, seed=4)
    g = torch.Generator().manual_seed(1)
    for i in range(cfg.n_layer):
        del sd[f"blocks.{i}.att.time_faaaa"]
        sd[f"blocks.{i}.att.time_first"] = torch.empty(2, 32).uniform_(-1.5, 0.5, generator=g)
    toks = {"m": tokens(cfg.vocab_size, seed=3)}
    outs = run_official_on("rwkv5", {"m": sd}, toks, tmp_path)
    notes = []
    assert export(save(sd, tmp_path / "src.pth"), tmp_path / "m.rrwkv", notes=notes) == cfg
    assert any("att.time_first" in n for n in notes)
    assert_matches_official(tmp_path / "m.rrwkv", toks["m"], outs["m"])


def test_a_package_converted_model_is_refused_with_what_to_do(tmp_path):
    sd = dict(official_sd(V7))
    sd["_strategy"] = "cpu fp32"
    sd["_version"] = "0.7"
    torch.save(sd, tmp_path / "conv.pth")
    with pytest.raises(ValueError, match="converted by the rwkv package for its strategy 'cpu fp32'.*export the "
                                         "original .pth"):
        export(tmp_path / "conv.pth", tmp_path / "c.rrwkv")
    assert not (tmp_path / "c.rrwkv").exists()


def test_a_directory_that_is_neither_a_run_nor_a_folder_says_what_it_expects(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="without a ckpt.pt or a Hugging Face config.json"):
        export(tmp_path / "empty", tmp_path / "e.rrwkv")


def test_a_damaged_safetensors_file_is_named(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{not json at all")
    with pytest.raises(ValueError, match=r"cannot read .*m.safetensors' as a .safetensors file"):
        export(tmp_path / "m.safetensors", tmp_path / "m.rrwkv")
    assert not (tmp_path / "m.rrwkv").exists()
