"""Train one model on MQAR and measure it: Zoology's recipe (AdamW, cosine to 0, loss on answers only).

Differences from Zoology that a CPU budget forces, all recorded in the result: examples are drawn
fresh each step instead of 64 epochs over a fixed 100k set, the number of training examples is a
parameter (``steps * batch``), and the test set is ``eval_examples`` fixed examples (same for every
run of a task). The head is applied only at the answer positions (the loss ignores every other
position, so this changes nothing but speed).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, asdict

import numpy as np
import torch
import torch.nn.functional as F

from rrwkv_rt.autograd import use_kernels

from .mqar import MqarTask, batch_rng, make_batch
from .variants import LongRangeModel, Variant

TEST_SEED = 20231208  # one test set per task, shared by all runs
EARLY_STOP_ACC = 0.99  # Zoology's early-stopping threshold


@dataclass(frozen=True)
class Budget:
    steps: int
    batch: int = 64
    eval_every: int = 0          # 0: only at the end
    eval_examples: int = 1000
    weight_decay: float = 0.01   # torch AdamW's default, which Zoology uses

    def to_dict(self) -> dict:
        return asdict(self)


def _answers(model: LongRangeModel, tokens: np.ndarray, where: np.ndarray) -> torch.Tensor:
    dev = model.device
    h = model.features(torch.from_numpy(tokens).to(dev))
    idx = torch.from_numpy(where).to(dev)[..., None].expand(-1, -1, h.shape[-1])
    return model.head(torch.gather(h, 1, idx))  # (B, N, V)


DISTANCE_EDGES = (0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


@torch.no_grad()
def evaluate(model: LongRangeModel, task: MqarTask, examples: int, batch: int = 100, detail: bool = False):
    """(accuracy, mean cross-entropy) over the answers of ``examples`` fixed test examples.

    With ``detail``, also a dict of accuracy by pair index (the order of the pair in the context),
    by distance from the pair's key to its query, in buckets [DISTANCE_EDGES[i], [i+1]), and the
    share of predictions that are one of the example's values.
    """
    model.eval()
    right = total = 0
    loss = 0.0
    hits, dists, pairs, in_ctx = [], [], [], []
    for i in range(math.ceil(examples / batch)):
        b = min(batch, examples - i * batch)
        tokens, where, ans = make_batch(task, b, batch_rng(TEST_SEED, f"test{task.seq_len}x{task.num_pairs}", i))
        logits = _answers(model, tokens, where)
        target = torch.from_numpy(ans).to(logits.device)
        pred = logits.argmax(-1).cpu().numpy()
        ok = pred == ans
        right += int(ok.sum())
        total += target.numel()
        loss += F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum").item()
        if detail:
            hits.append(ok.ravel())
            in_ctx.append((pred[:, :, None] == ans[:, None, :]).any(-1).ravel())
            pairs.append(np.broadcast_to(np.arange(task.num_pairs), ok.shape).ravel())
            dists.append((where - 2 * np.arange(task.num_pairs)[None, :]).ravel())
    model.train()
    if not detail:
        return right / total, loss / total
    hits, dists, pairs = np.concatenate(hits), np.concatenate(dists), np.concatenate(pairs)
    by_dist = []
    for lo, hi in zip(DISTANCE_EDGES[:-1], DISTANCE_EDGES[1:]):
        m = (dists >= lo) & (dists < hi)
        if m.any():
            by_dist.append({"lo": lo, "hi": hi, "n": int(m.sum()), "acc": float(hits[m].mean())})
    by_pair = [float(hits[pairs == j].mean()) for j in range(task.num_pairs)]
    # share of predictions that are one of the example's N values (right or wrong): a model that
    # knows the answer is "some value of this context" but not which one scores 1/N with this at 1
    pred_in_context = float(np.concatenate(in_ctx).mean())
    return right / total, loss / total, {"acc_by_distance": by_dist, "acc_by_pair": by_pair,
                                         "pred_in_context": pred_in_context}


def train_mqar(variant: Variant, task: MqarTask, lr: float, seed: int, budget: Budget,
               log=None, device: str = "cpu") -> dict:
    """Train from scratch and return the result record (a JSON-able dict)."""
    torch.manual_seed(seed)
    model = use_kernels(LongRangeModel(variant, seed=seed).to(device))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=budget.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, budget.steps) / budget.steps)))
    curve, train_s, losses = [], 0.0, []
    best = 0.0
    step = 0
    stopped_early = False
    while step < budget.steps:
        t0 = time.perf_counter()
        tokens, where, ans = make_batch(task, budget.batch, batch_rng(seed, "train", step))
        logits = _answers(model, tokens, where)
        loss = F.cross_entropy(logits.flatten(0, 1), torch.from_numpy(ans).to(logits.device).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        train_s += time.perf_counter() - t0
        losses.append(loss.item())
        step += 1
        if not math.isfinite(losses[-1]):
            break
        if budget.eval_every and step % budget.eval_every == 0 and step < budget.steps:
            acc, vloss = evaluate(model, task, budget.eval_examples)
            best = max(best, acc)
            curve.append({"step": step, "acc": acc, "loss": vloss})
            if log:
                log(f"  step {step}/{budget.steps} train loss {np.mean(losses[-50:]):.3f} test acc {acc:.3f}")
            if acc >= EARLY_STOP_ACC:
                stopped_early = True
                break
    acc, vloss, detail = evaluate(model, task, budget.eval_examples, detail=True)
    best = max(best, acc)
    curve.append({"step": step, "acc": acc, "loss": vloss})
    return {**detail,
        "variant": variant.to_dict(), "model": variant.name, "seq_len": task.seq_len,
        "num_pairs": task.num_pairs, "vocab": task.vocab_size, "lr": lr, "seed": seed,
        "budget": budget.to_dict(), "steps_done": step, "examples": step * budget.batch,
        "stopped_early": stopped_early, "acc": acc, "best_acc": best, "test_loss": vloss,
        "train_loss_last": float(np.mean(losses[-50:])) if losses else None,
        "diverged": not all(map(math.isfinite, losses[-1:])),
        "curve": curve, "n_params": model.n_params(), "state_bytes": variant.state_bytes(),
        "train_s": train_s, "train_tokens_per_s": step * budget.batch * task.seq_len / max(train_s, 1e-9),
        "threads": torch.get_num_threads(), "device": str(model.device),
    }
