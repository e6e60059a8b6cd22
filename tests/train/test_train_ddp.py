"""Two gloo processes under torchrun follow the loss curve of one process with the same global batch.

Why they agree: step k's global batch is a function of (seed, k) and each process takes its slice
of it (data.train_batch); every process starts from the same seeded init (and DDP broadcasts rank
0's weights anyway); each process's loss is the mean over its equal-sized slice, so DDP's average
of the gradients is the gradient of the mean over the whole batch; clipping and AdamW then see the
same gradient everywhere. What is left is the order of floating-point sums in the all-reduce.
"""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)

from rrwkv_rt.train import checkpointing  # noqa: E402
from rrwkv_rt.train.loop import train  # noqa: E402
from train_helpers import SMALL_CORPUS, read_metrics, tiny_config  # noqa: E402

OPTS = dict(n_layer=2, n_embd=32, medium_interval=4, ctx_len=32, batch_size=8, steps=10, warmup=2, lr=3e-3,
            eval_every=5, eval_windows=6, seed=3)


def _cli_args(opts):
    args = []
    for k, v in opts.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def test_two_gloo_processes_match_one_process(tmp_path):
    one = tmp_path / "one"
    train(tiny_config(one, **OPTS))

    two = tmp_path / "two"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "rrwkv_rt", "train", *_cli_args(OPTS), "--corpus", SMALL_CORPUS, "--device", "cpu",
           "--threads", "1", "--out", str(two)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "on cpu x2" in r.stdout  # the run really had two processes
    assert r.stdout.count("saved ") == 1  # only rank 0 reports and writes

    l1, e1 = read_metrics(one)
    l2, e2 = read_metrics(two)
    assert len(l1) == len(l2) == OPTS["steps"]
    assert l1[-1] < l1[0] - 0.3  # it did learn something, so the comparison means something
    for a, b in zip(l1, l2):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-6)
    assert [s for s, _ in e1] == [s for s, _ in e2]
    for (_, a), (_, b) in zip(e1, e2):
        assert b == pytest.approx(a, rel=1e-5)
    w1, w2 = checkpointing.load(one)["model"], checkpointing.load(two)["model"]
    for name in w1:
        assert torch.allclose(w1[name], w2[name], rtol=1e-3, atol=1e-5), name
