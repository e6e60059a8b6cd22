"""What a run reports: a progress bar (only on a terminal), log lines, and OUT/metrics.jsonl.

Only the main process reports. metrics.jsonl gets one JSON object per step ({"step", "loss", "lr",
"grad_norm", "tokens_per_s"}) and one per evaluation ({"step", "val_loss", "val_bits_per_byte"}).
"""
from __future__ import annotations

import json
import os
import sys

METRICS_NAME = "metrics.jsonl"


class Reporter:
    def __init__(self, cfg, d, start: int, end: int):
        self.on = d.is_main
        self.quiet = cfg.quiet
        self.log_every = cfg.log_every
        self.steps = cfg.steps
        self.bar = None
        self.path = os.path.join(cfg.out, METRICS_NAME)
        if not self.on:
            return
        os.makedirs(cfg.out, exist_ok=True)
        self._truncate_after(start)
        if not self.quiet and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=end, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr)

    def _truncate_after(self, start: int) -> None:
        """Drop records past the step the run (re)starts from: a crashed run's tail is redone."""
        keep = []
        if start > 0 and os.path.exists(self.path):
            with open(self.path) as f:
                keep = [line for line in f if line.strip() and json.loads(line)["step"] <= start]
        with open(self.path, "w") as f:
            f.writelines(keep)

    def _record(self, rec: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def line(self, msg: str) -> None:
        if not self.on or self.quiet:
            return
        if self.bar is not None:
            self.bar.write(msg)
        else:
            print(msg, flush=True)

    def step(self, step: int, loss: float, lr: float, gnorm: float, tps_now: float, tps: float) -> None:
        if not self.on:
            return
        self._record({"step": step, "loss": loss, "lr": lr, "grad_norm": gnorm, "tokens_per_s": tps_now})
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}, {tps:,.0f} tok/s", refresh=False)
        if step % self.log_every == 0:
            self.line(f"step {step}/{self.steps}  loss {loss:.4f}  lr {lr:.2e}  |grad| {gnorm:.3f}  {tps:,.0f} tok/s")

    def eval(self, step: int, val_loss: float, bpb: float, unigram_bpb: float) -> None:
        if not self.on:
            return
        self._record({"step": step, "val_loss": val_loss, "val_bits_per_byte": bpb})
        self.line(f"step {step}/{self.steps}  val loss {val_loss:.4f}  {bpb:.3f} bits/byte "
                  f"(unigram {unigram_bpb:.3f})")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
