"""The command line speaks to the person at it: errors name their paths and options, not the
program's internals (hidden temporary files, Python calls, options that do not apply), and --help
shows every default and names every architecture."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rrwkv_rt

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rrwkv_rt", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def error_line(r, command: str) -> str:
    assert r.returncode == 1 and "Traceback" not in r.stderr, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rrwkv {command}: error: "), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """An RWKV-4 .pth, an RRWKV file and an RWKV-7 .pth with one tensor missing."""
    torch = pytest.importorskip("torch")
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import MODEL_CLASSES, random_model
    d = tmp_path_factory.mktemp("wording")
    torch.save(random_model(ModelConfig("rwkv4", n_layer=1, n_embd=32, vocab_size=300), seed=1).state_dict(),
               d / "r4.pth")
    rr = ModelConfig("rrwkv", n_layer=1, n_embd=32, vocab_size=300, medium_interval=4)
    from rrwkv_rt.io.export import export_state_dict
    export_state_dict(random_model(rr, seed=2).state_dict(), rr, d / "rr.rrwkv")
    cfg7 = ModelConfig("rwkv7", n_layer=1, n_embd=64, vocab_size=300, head_size=32, lora_decay=8, lora_a=8, lora_v=8,
                       lora_gate=8)
    sd = MODEL_CLASSES["rwkv7"](cfg7, init="random", seed=0).state_dict()
    del sd["blocks.0.att.k_k"]
    torch.save(sd, d / "r7_broken.pth")
    return d


def test_export_into_a_missing_folder_names_the_users_path(checkpoints, tmp_path):
    dst = tmp_path / "no" / "such" / "dir" / "model.rrwkv"
    line = error_line(cli("export", checkpoints / "r4.pth", dst), "export")
    assert str(dst) in line and "does not exist" in line and ".tmp" not in line, line


def test_a_broken_rwkv7_checkpoint_is_not_told_to_pass_arch(checkpoints, tmp_path):
    line = error_line(cli("export", checkpoints / "r7_broken.pth", tmp_path / "x.rrwkv"), "export")
    assert "rwkv7" in line and "k_k" in line and "--arch" not in line, line


def test_generate_with_an_empty_prompt_speaks_of_options(checkpoints, tmp_path):
    model = rrwkv_rt.default_model_path()
    line = error_line(cli("generate", model, "--prompt", ""), "generate")
    assert "--prompt is empty" in line and "--state-in" in line and "generate()" not in line, line
    # a state saved by --state-out continues from an empty prompt; one saved otherwise is named
    r = cli("generate", model, "--prompt", "import", "--max-new-tokens", 3, "--seed", 1, "--state-out",
            tmp_path / "a.state")
    assert r.returncode == 0, r.stderr
    assert cli("generate", model, "--prompt", "", "--max-new-tokens", 3, "--state-in", tmp_path / "a.state").returncode == 0
    s = rrwkv_rt.Session(model)
    s.forward([65, 66])
    s.save_state(tmp_path / "b.state")
    line = error_line(cli("generate", model, "--prompt", "", "--state-in", tmp_path / "b.state"), "generate")
    assert "b.state" in line and "generate()" not in line, line


def test_help_shows_the_max_new_tokens_default_and_every_architecture():
    gen = cli("generate", "--help").stdout
    assert "--max-new-tokens N, --max-tokens N" in gen and "(default 200)" in gen, gen
    assert "(default 500)" in cli("chat", "--help").stdout
    export = " ".join(cli("export", "--help").stdout.split())
    for name in ("RWKV-4", "RWKV-5.2", "RWKV-6", "RWKV-7"):
        assert name in export, export


def test_info_prints_the_rrwkv_fields_only_for_rrwkv(checkpoints, tmp_path):
    assert cli("export", checkpoints / "r4.pth", tmp_path / "r4.rrwkv").returncode == 0
    r4 = cli("info", tmp_path / "r4.rrwkv").stdout
    rr = cli("info", checkpoints / "rr.rrwkv").stdout
    assert "arch:             rwkv4" in r4 and "medium_interval" not in r4 and "cm_mode" not in r4, r4
    assert "medium_interval:  4" in rr and "cm_mode:" in rr, rr


def test_bench_help_shows_each_default_once():
    bench = ROOT / "tools" / "bench.py"
    if not bench.exists():
        pytest.skip("needs the source tree (tools/bench.py)")
    text = subprocess.run([sys.executable, str(bench), "--help"], capture_output=True, text=True, check=True).stdout
    assert "(default: None)" not in text and text.count("all CPUs") == 1, text
