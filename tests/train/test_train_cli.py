"""`rrwkv train --export` and `rrwkv export` on a run directory: one overwrite rule (--force), checked
before any training time is spent; a run directory names its checkpoint for both."""
import pytest

pytest.importorskip("torch")

import rrwkv_rt  # noqa: E402
from rrwkv_rt.cli import main  # noqa: E402
from rrwkv_rt.train import checkpointing  # noqa: E402
from train_helpers import SMALL_CORPUS  # noqa: E402

TINY = ["--corpus", SMALL_CORPUS, "--n-layer", "1", "--n-embd", "16", "--medium-interval", "4", "--ctx-len", "16",
        "--batch-size", "2", "--eval-every", "2", "--eval-windows", "2", "--threads", "1", "--quiet"]


def test_train_export_refuses_an_existing_file_before_training_unless_force(tmp_path, capsys):
    out, model = tmp_path / "run", tmp_path / "m.rrwkv"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out), "--export", str(model)]) == 0
    before = model.read_bytes()
    capsys.readouterr()
    # resuming with the same --export: an error at once, nothing trained, the file kept
    assert main(["train", "--resume", str(out), "--steps", "4", "--threads", "1", "--quiet",
                 "--export", str(model)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists; pass --force" in err, err
    assert checkpointing.load(out)["step"] == 2 and model.read_bytes() == before
    # a new run too, before its run directory is made
    assert main(["train", *TINY, "--steps", "2", "--out", str(tmp_path / "new"), "--export", str(model)]) == 1
    assert "--force" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert main(["train", "--resume", str(out), "--steps", "4", "--threads", "1", "--quiet",
                 "--export", str(model), "--force"]) == 0
    assert checkpointing.load(out)["step"] == 4 and model.read_bytes() != before  # the step-4 weights


def test_export_takes_a_run_directory_like_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", str(out), str(tmp_path / "d.rrwkv")]) == 0  # out/ckpt.pt, as train --resume out
    assert "wrote" in capsys.readouterr().out
    f = rrwkv_rt.ModelFile(str(tmp_path / "d.rrwkv"))
    assert f.config["n_embd"] == 16 and f.fields["tokenizer.kind"] == "bytes"
    assert main(["export", str(tmp_path), str(tmp_path / "e.rrwkv")]) == 1  # no ckpt.pt in it
    assert "without a ckpt.pt" in capsys.readouterr().err
