"""Resumable execution of a grid: one JSON line per finished run, finished runs skipped on restart."""
from __future__ import annotations

import json
import os
import time

from .train_mqar import train_mqar


def run_key(variant, task, lr, seed, budget) -> str:
    """Identity of a run: everything that determines its result."""
    return json.dumps({"variant": variant.to_dict(), "task": [task.seq_len, task.num_pairs, task.vocab_size,
                       task.power_a], "lr": round(lr, 10), "seed": seed, "budget": budget.to_dict()},
                      sort_keys=True)


def finished_keys(path: str) -> set[str]:
    keys = set()
    if not os.path.exists(path):
        return keys
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                keys.add(json.loads(line)["key"])
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut by a crash: that run simply runs again
    return keys


def append_record(path: str, record: dict) -> None:
    """Append one line and fsync, so a finished run is never lost and never half-written twice."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_grid(runs: list, path: str, grid_name: str, log=print, limit: int = 0, device: str = "cpu") -> int:
    """Run every unfinished run of ``runs`` in order, appending to ``path``; returns how many ran."""
    done = finished_keys(path)
    todo = [r for r in runs if run_key(*r) not in done]
    log(f"grid {grid_name}: {len(runs)} runs, {len(runs) - len(todo)} already in {path}, {len(todo)} to go")
    ran = 0
    for variant, task, lr, seed, budget in todo:
        if limit and ran >= limit:
            break
        t0 = time.time()
        log(f"[{ran + 1}/{len(todo)}] {variant.name} d={variant.d} L={task.seq_len}/{task.num_pairs} "
            f"lr={lr:.2e} seed={seed} steps={budget.steps}x{budget.batch}")
        rec = train_mqar(variant, task, lr, seed, budget, log=log, device=device)
        rec.update(key=run_key(variant, task, lr, seed, budget), grid=grid_name, wall_s=time.time() - t0,
                   finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        append_record(path, rec)
        log(f"    acc {rec['acc']:.3f} (best {rec['best_acc']:.3f}) in {rec['wall_s']:.0f} s, "
            f"{rec['train_tokens_per_s']:,.0f} tok/s")
        ran += 1
    return ran
