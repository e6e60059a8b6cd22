"""Runs BlinkDL's official `rwkv` package on saved checkpoints, in a process of its own.

The package picks its model class from environment variables read at import time (RWKV_V7_ON=1
replaces the RWKV-4/5/6 class by RWKV-7's) and changes global torch settings, so the tests run it
here rather than in the pytest process. Usage: ``python official_runner.py JOBS.json`` where the
file holds ``[{"model": "x.pth", "tokens": [...], "split": n, "out": "x.out.pt"}, ...]``. For each
job it saves, to ``out``: the logits token by token ("step", (T, V)) and its final state list,
``full_output`` logits of the whole sequence ("seq") and its state, and the sequence fed as two
chunks split at ``split`` ("chunked"). A job may name a state-tuning file (``"time_state"``: a
.pth of blocks.{i}.att.time_state): every run then starts from the state the official demos make
of it (time_state.transpose(1, 2) as the matrix state, zeros elsewhere). RWKV_DE_VERSION=1 in
the environment runs RWKV-7 DeepEmbed checkpoints, as the package's own switch.
"""
import json
import os
import sys

os.environ["RWKV_JIT_ON"] = "0"  # no TorchScript for 4/5/6 (RWKV-7's class always scripts itself)
os.environ["RWKV_CUDA_ON"] = "0"

import torch  # noqa: E402
from rwkv.model import RWKV  # noqa: E402

torch.set_num_threads(1)  # tiny models: one thread is ~50x faster than two on a loaded machine

V7 = os.environ.get("RWKV_V7_ON") == "1"


def load(path: str):
    if V7:  # RWKV_x070(model, strategy) appends ".pth" itself and has no `verbose`
        return RWKV(path[: -len(".pth")], "cpu fp32")
    return RWKV(path, "cpu fp32", verbose=False)


def snapshot(state):
    return [t.detach().clone() for t in state] if state is not None else None


def initial_state(model, job: dict):
    """None (the package's own zeros) or the demos' state built from the job's time_state file."""
    if not job.get("time_state"):
        return None
    ts = torch.load(job["time_state"], map_location="cpu")
    if V7:
        state = model.generate_zero_state()
        for i in range(model.n_layer):
            state[i * 3 + 1] = ts[f"blocks.{i}.att.time_state"].transpose(1, 2).float().contiguous()
        return state
    C = model.args.n_embd
    state = []
    for i in range(model.args.n_layer):
        state += [torch.zeros(C), ts[f"blocks.{i}.att.time_state"].transpose(1, 2).float().contiguous(),
                  torch.zeros(C)]
    return state


@torch.no_grad()
def run(job: dict) -> dict:
    model, tokens, split = load(job["model"]), job["tokens"], job["split"]
    start = initial_state(model, job)
    steps, state = [], snapshot(start)
    for tok in tokens:
        out, state = model.forward([tok], state)
        steps.append(out.detach().clone())
    seq, seq_state = model.forward(list(tokens), snapshot(start), full_output=True)
    seq, seq_state = seq.clone(), snapshot(seq_state)
    a, st = model.forward(list(tokens[:split]), snapshot(start), full_output=True)
    a = a.clone()
    b, _ = model.forward(list(tokens[split:]), st, full_output=True)
    return {"step": torch.stack(steps), "step_state": snapshot(state), "seq": seq, "seq_state": seq_state,
            "chunked": torch.cat([a, b.clone()])}


def main() -> None:
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        torch.save(run(job), job["out"])


if __name__ == "__main__":
    main()
