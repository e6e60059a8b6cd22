"""The training loop: resume equals an uninterrupted run, warm starts, the command line."""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.train import checkpointing, data  # noqa: E402
from rrwkv_rt.train.options import TrainConfig  # noqa: E402
from rrwkv_rt.train.loop import lr_factor, train  # noqa: E402
from train_helpers import SMALL_CORPUS, read_metrics, tiny_config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _resume_config(out, **extra):
    opts = dict(resume=str(out), threads=1, quiet=True, **extra)  # --out defaults to the run's directory
    return TrainConfig(**opts, explicit=tuple(sorted(opts)))


def test_resume_equals_an_uninterrupted_run(tmp_path):
    straight = train(tiny_config(tmp_path / "a", steps=8))
    first = train(tiny_config(tmp_path / "b", steps=8, stop_after=4))
    assert first["step"] == 4
    resumed = train(_resume_config(tmp_path / "b"))  # everything else comes from the checkpoint
    assert resumed["step"] == 8
    losses_a, evals_a = read_metrics(tmp_path / "a")
    losses_b, evals_b = read_metrics(tmp_path / "b")
    assert losses_a == losses_b and len(losses_a) == 8
    assert evals_a == evals_b and [s for s, _ in evals_a] == [4, 8]
    a, b = checkpointing.load(tmp_path / "a"), checkpointing.load(tmp_path / "b")
    for name, t in a["model"].items():
        assert torch.equal(t, b["model"][name]), name
    assert a["scheduler"] == b["scheduler"] and a["step"] == b["step"] == 8
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert straight["val_loss"] == resumed["val_loss"]


def test_resume_rejects_a_different_model_and_fresh_runs_keep_old_ones(tmp_path):
    train(tiny_config(tmp_path / "r", steps=2, eval_every=2))
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(tmp_path / "r", steps=2))
    with pytest.raises(ValueError, match="contradicts"):
        train(_resume_config(tmp_path / "r", n_embd=64))
    # a longer schedule on resume is allowed
    more = train(_resume_config(tmp_path / "r", steps=3))
    assert more["step"] == 3


def _first_batch_loss(model, cfg):
    corpus = data.load_corpus(cfg.corpus, cfg.vocab, cfg.val_every)
    x, y = data.train_batch(corpus.train, 0, cfg.seed, cfg.batch_size, cfg.ctx_len)
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1)))


def test_init_from_rwkv4_warm_starts_an_rrwkv(tmp_path):
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.reference import RWKV, warm_start_from_rwkv4
    rwkv4 = RWKV(ModelConfig(arch="rwkv4", n_layer=1, n_embd=32, vocab_size=256), seed=5)
    pth = tmp_path / "rwkv4.pth"
    torch.save(rwkv4.state_dict(), pth)
    cfg = tiny_config(tmp_path / "w", init_from=str(pth), steps=1, medium_interval=4)
    out = train(cfg)
    ckpt = checkpointing.load(tmp_path / "w")
    assert ckpt["config"]["cm_mode"] == "add" and ckpt["config"]["medium_interval"] == 4
    warm = RWKV.from_state_dict(warm_start_from_rwkv4(rwkv4.state_dict(), 4), medium_interval=4)
    losses, _ = read_metrics(tmp_path / "w")
    assert losses[0] == pytest.approx(_first_batch_loss(warm, cfg), abs=1e-5)
    # medium_mix = 0 and time_first_m = -8: the warm start computes (almost) the RWKV-4 model
    assert losses[0] == pytest.approx(_first_batch_loss(rwkv4, cfg), abs=2e-2)
    assert out["step"] == 1


def test_init_from_our_checkpoint_starts_a_new_run(tmp_path):
    train(tiny_config(tmp_path / "src", steps=2, eval_every=2))
    src = checkpointing.load(tmp_path / "src")
    from rrwkv_rt.reference import RWKV
    from rrwkv_rt.config import ModelConfig
    model = RWKV(ModelConfig(**src["config"]), init=None)
    model.load_state_dict(src["model"])
    cfg = tiny_config(tmp_path / "dst", init_from=str(tmp_path / "src" / "ckpt.pt"), steps=1)
    train(cfg)
    losses, _ = read_metrics(tmp_path / "dst")
    assert losses[0] == pytest.approx(_first_batch_loss(model, cfg), abs=1e-5)
    with pytest.raises(ValueError, match="contradicts"):
        train(tiny_config(tmp_path / "dst2", init_from=str(tmp_path / "src"), n_embd=48))


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup=10, min_lr_ratio=0.1)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[-1] == pytest.approx(0.1, abs=1e-3)


def test_command_line(tmp_path, capsys):
    from rrwkv_rt.cli import main
    out = tmp_path / "cli"
    argv = ["train", "--corpus", SMALL_CORPUS, "--n-layer", "1", "--n-embd", "16", "--medium-interval", "4",
            "--ctx-len", "16", "--batch-size", "2", "--steps", "2", "--eval-every", "2", "--eval-windows", "2",
            "--threads", "1", "--out", str(out), "--export", str(out / "m.rrwkv")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "unigram baseline" in printed and "val loss" in printed and "exported" in printed
    import rrwkv_rt
    f = rrwkv_rt.ModelFile(str(out / "m.rrwkv"))
    assert f.config["n_embd"] == 16 and f.config["arch"] == "rrwkv"
    # errors are one line and status 1
    assert main(["train", "--steps", "4", "--stop-after", "5", "--out", str(tmp_path / "x")]) == 1
    assert "--stop-after" in capsys.readouterr().err
    assert main(argv) == 1  # the run directory already has a checkpoint
    assert "--resume" in capsys.readouterr().err


def test_tools_wrapper_and_module_help():
    env = dict(os.environ)
    for cmd in ([sys.executable, os.path.join(REPO, "tools", "train.py"), "--help"],
                [sys.executable, "-m", "rrwkv_rt", "train", "--help"]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO), timeout=120)
        assert r.returncode == 0, r.stderr
        assert "--batch-size" in r.stdout and "torchrun" not in r.stderr


def test_kernels_and_reference_scan_train_like_the_chunked_wkv(tmp_path):
    from rrwkv_rt import _core
    runs = {"chunked": None, "scan": None}
    try:
        import rrwkv_rt.autograd  # noqa: F401
        if hasattr(_core, "wkv_forward"):
            runs["kernels"] = None
    except ImportError:
        pass
    for wkv in runs:
        train(tiny_config(tmp_path / wkv, steps=3, eval_every=3, wkv=wkv))
        runs[wkv] = read_metrics(tmp_path / wkv)
    for wkv, (losses, evals) in runs.items():
        assert losses == pytest.approx(runs["chunked"][0], rel=1e-5), wkv
        assert evals[0][1] == pytest.approx(runs["chunked"][1][0][1], rel=1e-5), wkv
    if "kernels" not in runs:
        pytest.skip("rrwkv_rt.autograd is not available: only the torch implementations were compared")


def test_kernels_flag_without_kernels_is_a_clear_error(tmp_path, monkeypatch):
    from rrwkv_rt import _core
    monkeypatch.delattr(_core, "wkv_forward", raising=False)
    with pytest.raises(ImportError, match="--wkv chunked"):
        train(tiny_config(tmp_path / "k", steps=1, wkv="kernels"))


def test_ctrl_c_saves_the_last_step_says_so_once_and_the_run_resumes(tmp_path):
    import json
    import signal
    import time
    out = tmp_path / "int"
    cmd = [sys.executable, "-m", "rrwkv_rt", "train", "--corpus", SMALL_CORPUS, "--n-layer", "1", "--n-embd", "16",
           "--medium-interval", "4", "--ctx-len", "16", "--batch-size", "2", "--steps", "100000",
           "--eval-every", "100000", "--threads", "1", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 3):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    printed, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    step = checkpointing.load(out)["step"]
    assert step >= 3
    # one line, on stderr, saying what was saved where (not the loop's line and then the CLI's "interrupted")
    said = [line for line in (printed + err).splitlines() if "interrupted" in line]
    assert said == [f"interrupted: saved step {step} to {out / 'ckpt.pt'}; continue with --resume {out}"], \
        (printed, err)
    assert "Traceback" not in err
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert last["step"] >= step
    resumed = train(_resume_config(out, steps=step + 1))
    assert resumed["step"] == step + 1
