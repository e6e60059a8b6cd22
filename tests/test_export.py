"""The exporter and the `export` / `info` commands, on official-layout checkpoints."""
import os
import subprocess
import sys

import numpy as np
import pytest


torch = pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt import FormatError, ModelConfig  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.io.dtypes import bf16_bits_to_f32, f32_to_bf16_bits  # noqa: E402
from rrwkv_rt.io.export import export  # noqa: E402
from rrwkv_rt.io.format import read_tensors  # noqa: E402
from rrwkv_rt.arch import checkpoint_spec  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def official_state_dict(cfg, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g).to(dtype) for k, shape in checkpoint_spec(cfg).items()}


def expected_runtime_tensor(name, t):
    """What the exporter must store for official tensor `name` (docs/FORMAT.md, transforms)."""
    a = t.float().numpy()
    if name.endswith(".time_decay") or name.endswith(".time_decay_m"):
        stored = name.replace("time_decay", "decay")
        return stored, np.exp(t.double().numpy()).astype(np.float32)
    return name, a.reshape(-1) if a.ndim == 3 else a


@pytest.mark.parametrize("cfg", [
    ModelConfig("rwkv4", n_layer=2, n_embd=16, vocab_size=50),
    ModelConfig("rwkv4", n_layer=3, n_embd=24, vocab_size=77, ffn_dim=40),
])
def test_official_rwkv4_checkpoint_reads_back_identical(tmp_path, cfg):
    sd = official_state_dict(cfg)
    torch.save(sd, tmp_path / "official.pth")
    out = tmp_path / "m.rrwkv"
    got_cfg = export(tmp_path / "official.pth", out)
    assert got_cfg == cfg
    config, tensors = read_tensors(out)
    assert config == cfg.to_dict()
    assert len(tensors) == len(sd)
    for name, t in sd.items():
        stored, expected = expected_runtime_tensor(name, t)
        np.testing.assert_array_equal(tensors[stored], expected, err_msg=name)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_half_precision_export(tmp_path, dtype):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    sd = official_state_dict(cfg)
    torch.save(sd, tmp_path / "a.pth")
    export(tmp_path / "a.pth", tmp_path / "a.rrwkv", dtype=dtype)
    f = rrwkv_rt.ModelFile(str(tmp_path / "a.rrwkv"))
    tdtype = torch.float16 if dtype == "fp16" else torch.bfloat16
    for t in f.tensors:
        name = t["name"]
        if len(t["shape"]) == 2:
            expected = sd[name].to(tdtype).float().numpy()
            raw = f.tensor(name)
            got = raw.astype(np.float32) if dtype == "fp16" else bf16_bits_to_f32(raw)
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            assert t["dtype"] == "f32"


def test_bf16_source_exports_exactly(tmp_path):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    sd = official_state_dict(cfg, dtype=torch.bfloat16)
    torch.save(sd, tmp_path / "b.pth")
    export(tmp_path / "b.pth", tmp_path / "b.rrwkv", dtype="bf16")
    _, tensors = read_tensors(tmp_path / "b.rrwkv")
    np.testing.assert_array_equal(tensors["head.weight"], sd["head.weight"].float().numpy())
    np.testing.assert_array_equal(tensors["blocks.0.ln1.bias"], sd["blocks.0.ln1.bias"].float().numpy())


def test_rrwkv_state_dict_is_recognised_and_needs_its_interval(tmp_path):
    cfg = ModelConfig("rrwkv", n_layer=2, n_embd=8, vocab_size=20, medium_interval=4, cm_mode="add")
    torch.save(official_state_dict(cfg), tmp_path / "r.pth")
    with pytest.raises(ValueError, match="--medium-interval"):
        export(tmp_path / "r.pth", tmp_path / "r.rrwkv")
    got = export(tmp_path / "r.pth", tmp_path / "r.rrwkv", medium_interval=4)
    assert got == cfg  # arch and add mode both detected from the tensors
    assert rrwkv_rt.ModelFile(str(tmp_path / "r.rrwkv")).config == cfg.to_dict()


def test_training_checkpoint_carries_its_config(tmp_path):
    from rrwkv_rt.io.checkpoint import TRAIN_CHECKPOINT_FORMAT
    cfg = ModelConfig("rrwkv", n_layer=1, n_embd=8, vocab_size=20, medium_interval=5)
    torch.save({"format": TRAIN_CHECKPOINT_FORMAT, "config": cfg.to_dict(), "model": official_state_dict(cfg),
                "step": 10}, tmp_path / "ckpt.pt")
    assert export(tmp_path / "ckpt.pt", tmp_path / "c.rrwkv") == cfg


def test_safetensors_source(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    sd = official_state_dict(cfg)
    safetensors_torch.save_file(sd, str(tmp_path / "m.safetensors"))
    export(tmp_path / "m.safetensors", tmp_path / "m.rrwkv")
    _, tensors = read_tensors(tmp_path / "m.rrwkv")
    np.testing.assert_array_equal(tensors["emb.weight"], sd["emb.weight"].numpy())


def test_every_missing_or_misshaped_tensor_is_reported_at_once(tmp_path):
    cfg = ModelConfig("rwkv4", n_layer=2, n_embd=8, vocab_size=20)
    sd = official_state_dict(cfg)
    del sd["blocks.1.att.key.weight"], sd["ln_out.bias"]
    sd["blocks.0.ffn.value.weight"] = torch.zeros(8, 31)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(FormatError) as e:
        export(tmp_path / "bad.pth", tmp_path / "bad.rrwkv")
    msg = str(e.value)
    assert "3 problem(s)" in msg
    assert "missing tensor 'blocks.1.att.key.weight' (expected shape (8, 8))" in msg
    assert "missing tensor 'ln_out.bias' (expected shape (8,))" in msg
    assert "tensor 'blocks.0.ffn.value.weight' has shape (8, 31), expected (8, 32)" in msg
    assert not (tmp_path / "bad.rrwkv").exists()


@pytest.mark.parametrize("cfg", [
    ModelConfig("rwkv5", n_layer=2, n_embd=16, vocab_size=20, head_size=8),
    ModelConfig("rwkv6", n_layer=2, n_embd=16, vocab_size=20, head_size=8, lora_mix=3, lora_decay=5),
    ModelConfig("rwkv7", n_layer=2, n_embd=16, vocab_size=20, head_size=8, lora_decay=3, lora_a=3, lora_v=3,
                lora_gate=3),
], ids=lambda c: c.arch)
def test_matrix_state_checkpoints_are_recognised_and_exported(tmp_path, cfg):
    """An official RWKV-5.2/6/7 .pth: the architecture is detected from its keys, head and
    low-rank sizes are read from the shapes, and the file holds exactly that config."""
    torch.save(official_state_dict(cfg), tmp_path / "m.pth")
    got = export(tmp_path / "m.pth", tmp_path / "m.rrwkv")
    assert got == cfg
    f = rrwkv_rt.ModelFile(str(tmp_path / "m.rrwkv"))
    assert f.config == cfg.to_dict()
    assert rrwkv_rt.Model(str(tmp_path / "m.rrwkv")).info["architecture"].startswith(f"RWKV-{cfg.arch[-1]}")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="cannot read .* as a PyTorch file"):
        export(tmp_path / "junk.pth", tmp_path / "j.rrwkv")
    with pytest.raises(FileNotFoundError):
        export(tmp_path / "absent.pth", tmp_path / "j.rrwkv")


def test_cli_export_info_force_and_errors(tmp_path, capsys):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    torch.save(official_state_dict(cfg), tmp_path / "m.pth")
    src, dst = str(tmp_path / "m.pth"), str(tmp_path / "m.rrwkv")
    assert main(["export", src, dst, "--dtype", "fp16"]) == 0
    out, err = capsys.readouterr()
    assert "wrote" in out and err == ""  # no progress bar when stderr is not a terminal
    assert main(["info", dst]) == 0
    out, _ = capsys.readouterr()
    assert "arch:             rwkv4" in out and "OK: header, layout and all tensor checksums verified" in out
    mtime = os.path.getmtime(dst)
    assert main(["export", src, dst]) == 1
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "already exists; pass --force" in err
    assert os.path.getmtime(dst) == mtime
    assert main(["export", src, dst, "--force"]) == 0
    with open(dst, "r+b") as f:  # damage the file: info must say so in one line
        f.seek(-3, 2)
        f.write(b"\xff\xff\xff")
    capsys.readouterr()
    assert main(["info", dst]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("rrwkv info: error:") and "checksum" in err and "Traceback" not in err


def test_module_and_tools_wrappers_run(tmp_path):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    torch.save(official_state_dict(cfg), tmp_path / "m.pth")
    dst = str(tmp_path / "m.rrwkv")
    subprocess.run([sys.executable, "-m", "rrwkv_rt", "export", str(tmp_path / "m.pth"), dst], check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "info.py"), dst], capture_output=True, text=True)
    assert r.returncode == 0 and "OK" in r.stdout
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "info", str(tmp_path / "nope.rrwkv")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("source,stored", [(torch.float32, "f32"), (torch.float16, "f16"), (torch.bfloat16, "bf16")])
def test_default_dtype_keeps_the_checkpoints_precision(tmp_path, source, stored):
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=20)
    torch.save(official_state_dict(cfg, dtype=source), tmp_path / "p.pth")
    export(tmp_path / "p.pth", tmp_path / "p.rrwkv")
    f = rrwkv_rt.ModelFile(str(tmp_path / "p.rrwkv"))
    assert {t["dtype"] for t in f.tensors if len(t["shape"]) == 2} == {stored}


def test_tokenizer_detected_where_certain_and_a_note_otherwise(tmp_path):
    from rrwkv_rt.io.checkpoint import TRAIN_CHECKPOINT_FORMAT
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=256)
    torch.save({"format": TRAIN_CHECKPOINT_FORMAT, "config": cfg.to_dict(), "model": official_state_dict(cfg),
                "train_config": {"vocab": "bytes"}}, tmp_path / "ckpt.pt")
    notes = []
    export(tmp_path / "ckpt.pt", tmp_path / "t.rrwkv", notes=notes)
    assert rrwkv_rt.ModelFile(str(tmp_path / "t.rrwkv")).fields["tokenizer.kind"] == "bytes"
    assert any("training checkpoint records it" in n for n in notes)
    # a run directory works like train --resume's
    export(tmp_path, tmp_path / "d.rrwkv")
    cfg = ModelConfig("rwkv4", n_layer=1, n_embd=8, vocab_size=50277)
    torch.save(official_state_dict(cfg), tmp_path / "pile.pth")
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "export", str(tmp_path / "pile.pth"),
                        str(tmp_path / "pile.rrwkv")], capture_output=True, text=True)
    assert r.returncode == 0 and "no tokenizer stored" in r.stdout and "20B_tokenizer.json" in r.stdout
    assert "tokenizer.kind" not in rrwkv_rt.ModelFile(str(tmp_path / "pile.rrwkv")).fields


def test_cli_shape_report_is_one_line_and_verbose_prints_all(tmp_path, capsys):
    cfg = ModelConfig("rwkv4", n_layer=2, n_embd=8, vocab_size=20)
    sd = official_state_dict(cfg)
    del sd["blocks.1.att.key.weight"], sd["ln_out.bias"]
    sd["blocks.0.ffn.value.weight"] = torch.zeros(8, 31)
    torch.save(sd, tmp_path / "bad.pth")
    src, dst = str(tmp_path / "bad.pth"), str(tmp_path / "bad.rrwkv")
    assert main(["export", src, dst]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rrwkv export: error: "), err
    assert "3 tensors missing or mis-shaped, the first: tensor 'blocks.0.ffn.value.weight' has shape (8, 31)" in err
    assert "run with --verbose for the full list" in err
    for argv in (["--verbose", "export", src, dst], ["export", src, dst, "--verbose"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "3 problem(s):\n" in err and "missing tensor 'ln_out.bias'" in err and "--cm-mode" in err, err
    one = official_state_dict(cfg)
    del one["ln_out.bias"]  # one problem: named in full, nothing more to see
    torch.save(one, tmp_path / "bad.pth")
    assert main(["export", src, dst]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing tensor 'ln_out.bias' (expected shape (8,))" in err, err
    assert "--verbose" not in err and "--arch" in err
