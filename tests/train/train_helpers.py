"""Helpers of the training tests: tiny runs on a small real corpus, one thread each."""
import json
import os
import sysconfig

# A small real corpus: the stdlib's json package (5 files, ~40 KB). Training tests that only check
# plumbing (resume, DDP) use it; the test of learning uses the whole stdlib.
SMALL_CORPUS = os.path.join(sysconfig.get_paths()["stdlib"], "json")


def tiny_config(out, **overrides):
    """A TrainConfig of a tiny, fast run, as if every option had been given on the command line."""
    from rrwkv_rt.train.options import TrainConfig
    opts = dict(arch="rrwkv", n_layer=1, n_embd=32, medium_interval=4, ctx_len=32, batch_size=4, steps=8,
                warmup=2, lr=3e-3, eval_every=4, eval_windows=4, log_every=1000, threads=1, quiet=True,
                corpus=SMALL_CORPUS, out=str(out))
    opts.update(overrides)
    return TrainConfig(**opts, explicit=tuple(sorted(opts)))


def read_metrics(out):
    """(per-step train losses, [(step, val_loss)]) of a run directory."""
    with open(os.path.join(out, "metrics.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    losses = [r["loss"] for r in recs if "loss" in r]
    steps = [r["step"] for r in recs if "loss" in r]
    assert steps == list(range(1, len(steps) + 1)), steps
    return losses, [(r["step"], r["val_loss"]) for r in recs if "val_loss" in r]

