"""The training loop: AdamW, warm-up + cosine schedule, clipping, evaluation, checkpoints, export."""
from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time

import torch
import torch.nn.functional as F

from . import checkpointing, distributed
from .options import TrainConfig, merged_with_checkpoint
from .data import bits, eval_windows, load_corpus, train_batch, unigram_bits
from .model_setup import check_vocab, from_scratch, from_weights, param_groups, select_wkv
from .progress import Reporter


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of --lr for optimizer step ``step`` (0-based): linear warm-up, then cosine decay to
    ``min_lr_ratio`` at ``steps``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (where supported), full float32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)


@torch.no_grad()
def evaluate(model, xs: torch.Tensor, ys: torch.Tensor, micro: int, device, autocast, d) -> float:
    """Mean validation loss (nats/token) over every process's windows."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(xs), micro):
        x, y = xs[i:i + micro].to(device), ys[i:i + micro].to(device)
        with autocast():
            logits = model(x)
        total += float(loss_fn(logits, y, reduction="sum"))
        count += y.numel()
    total, count = distributed.all_sum([total, float(count)], d, device)
    model.train(was_training)
    return total / count


def _check_export(cfg: TrainConfig) -> None:
    # As `rrwkv export` does, but now, before the training time that an error after it would waste.
    if cfg.export and os.path.exists(cfg.export) and not cfg.force:
        raise FileExistsError(f"--export {cfg.export!r} already exists; pass --force to overwrite it, or choose "
                              "another path")


def _start(cfg: TrainConfig):
    """(config, checkpoint to resume or None) after merging a resumed run's saved config."""
    if cfg.resume:
        path = checkpointing.resolve_path(cfg.resume)
        ckpt = checkpointing.load(path)
        merged = merged_with_checkpoint(cfg, ckpt["train_config"])
        if "out" not in cfg.explicit:  # continue in the run's own directory
            merged.out = os.path.dirname(os.path.abspath(path))
        _check_export(merged)
        return merged, ckpt
    existing = os.path.join(cfg.out, checkpointing.CHECKPOINT_NAME)
    if os.path.exists(existing):
        raise FileExistsError(f"{existing!r} already exists: pass --resume {cfg.out} to continue that run, "
                              "or choose another --out")
    _check_export(cfg)
    return cfg, None


def train(cfg: TrainConfig) -> dict:
    """Run (or continue) a training job; returns a summary of the final state (on every process)."""
    d, device = distributed.init(cfg.device)
    try:
        return _train(cfg, d, device)
    finally:
        distributed.shutdown()


def _train(cfg: TrainConfig, d, device) -> dict:
    cfg, ckpt = _start(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    corpus = load_corpus(cfg.corpus, cfg.vocab, cfg.val_every)
    if ckpt is not None and ckpt["corpus"].get("fingerprint") != corpus.fingerprint:
        print(f"warning: the corpus differs from the one this run started on ({corpus.describe()}); "
              "continuing on this one", file=sys.stderr)
    unigram = unigram_bits(corpus.train, corpus.val, corpus.vocab_size) * corpus.tokens_per_byte
    corpus_info = {"fingerprint": corpus.fingerprint, "description": corpus.describe(),
                   "unigram_bits_per_byte": unigram}

    # model, optimizer, schedule (in this order: see the note on LambdaLR below)
    if ckpt is not None:
        from ..config import ModelConfig
        from ..reference import RWKV
        model = RWKV(ModelConfig(**ckpt["config"]), init=None)
        model.load_state_dict(ckpt["model"])
    elif cfg.init_from:
        model = from_weights(cfg, cfg.init_from)
    else:
        model = from_scratch(cfg, corpus.vocab_size)
    mcfg = model.cfg
    check_vocab(mcfg, corpus.vocab_size, cfg.vocab)
    select_wkv(model, cfg.wkv)
    model.to(device)
    ddp_model = distributed.wrap(model, d, device)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)
    # a closure, not a callable object: LambdaLR then saves only numbers (weights_only-loadable)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, cfg))
    start = 0
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])    # after LambdaLR, which overwrote the lrs
        sched.load_state_dict(ckpt["scheduler"])
        checkpointing.set_rng_state(ckpt["rng"])
        start = int(ckpt["step"])
        del ckpt

    if cfg.batch_size % (d.world_size * cfg.grad_accum):
        raise ValueError(f"--batch-size {cfg.batch_size} must be divisible by processes x --grad-accum = "
                         f"{d.world_size} x {cfg.grad_accum}")
    micro = cfg.batch_size // (d.world_size * cfg.grad_accum)
    val_x, val_y = eval_windows(corpus.val, cfg.eval_windows, cfg.ctx_len, d.rank, d.world_size)
    autocast = autocast_for(device)
    tokens_per_step = cfg.batch_size * cfg.ctx_len
    end = cfg.end_step
    n_params = sum(p.numel() for p in model.parameters())
    rep = Reporter(cfg, d, start, end)
    rep.line(f"{mcfg.arch} {mcfg.n_layer}x{mcfg.n_embd} (ffn {mcfg.ffn_dim}, s {mcfg.medium_interval}, "
             f"{mcfg.cm_mode}), {n_params / 1e6:.2f}M parameters, vocab {mcfg.vocab_size}, on {device} "
             f"x{d.world_size}, wkv {cfg.wkv}")
    rep.line(f"corpus {cfg.corpus}: {corpus.describe()}; unigram baseline {unigram:.3f} bits/byte")
    rep.line(f"steps {start} -> {end} of {cfg.steps}, {cfg.batch_size} x {cfg.ctx_len} tokens per step"
             + (f", resumed from {cfg.resume}" if cfg.resume else ""))

    summary = {"step": start, "train_loss": None, "val_loss": None, "val_bits_per_byte": None,
               "unigram_bits_per_byte": unigram, "tokens_per_s": None}

    def save(step: int) -> str:
        path = os.path.join(cfg.out, checkpointing.CHECKPOINT_NAME)
        if d.is_main:
            metrics = {k: v for k, v in summary.items() if v is not None}
            checkpointing.atomic_save(checkpointing.make_checkpoint(
                model, mcfg, opt, sched, step, cfg, corpus_info, metrics), path)
        return path

    def run_eval(step: int) -> None:
        val = evaluate(model, val_x, val_y, micro, device, autocast, d)
        bpb = bits(val) * corpus.tokens_per_byte
        summary.update(val_loss=val, val_bits_per_byte=bpb)
        rep.eval(step, val, bpb, unigram)

    ddp_model.train()
    step, updating, last_eval = start, False, None
    t_run, tokens_run = time.perf_counter(), 0
    # Ctrl-C (single process): finish the step under way, save it, then stop; a second Ctrl-C
    # stops at once. The update is never cut in half, so the saved step is always complete.
    interrupted = _InterruptAtStepEnd(enabled=not d.enabled)
    try:
        while step < end:
            t0 = time.perf_counter()
            x, y = train_batch(corpus.train, step, cfg.seed, cfg.batch_size, cfg.ctx_len, d.rank, d.world_size)
            loss_sum = 0.0
            for i in range(cfg.grad_accum):
                xm, ym = x[i * micro:(i + 1) * micro].to(device), y[i * micro:(i + 1) * micro].to(device)
                sync = contextlib.nullcontext() if not d.enabled or i == cfg.grad_accum - 1 else ddp_model.no_sync()
                with sync:
                    with autocast():
                        loss = loss_fn(ddp_model(xm), ym)
                    (loss / cfg.grad_accum).backward()
                loss_sum += float(loss.detach())
            if not math.isfinite(loss_sum):
                raise ValueError(f"the loss is {loss_sum} at step {step}; lower --lr (now {cfg.lr}) or "
                                         "check the data")
            updating = True
            if cfg.grad_clip > 0:
                gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
            else:
                gnorm = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()
                                                                    if p.grad is not None])))
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            updating = False
            (train_loss,) = distributed.all_mean([loss_sum / cfg.grad_accum], d, device)
            dt = time.perf_counter() - t0
            tokens_run += tokens_per_step
            tps = tokens_run / (time.perf_counter() - t_run)
            summary.update(step=step, train_loss=train_loss, tokens_per_s=tps)
            rep.step(step, train_loss, lr, gnorm, tokens_per_step / dt, tps)
            if step % cfg.eval_every == 0 or step == end:
                run_eval(step)
                last_eval = step
            if (cfg.save_every and step % cfg.save_every == 0) or (not cfg.save_every and step == last_eval):
                if step != end:
                    save(step)
            if interrupted.requested and step < end:
                raise KeyboardInterrupt
    except KeyboardInterrupt as e:
        saved = None
        if not d.enabled and not updating and step > start:
            saved = save(step)
        # No line here: the exception carries the one line the command line prints (cli.main).
        raise Interrupted(_interrupted_message(cfg, step, saved) if d.is_main else None, saved) from e
    finally:
        interrupted.restore()
        rep.close()

    if last_eval != step:
        run_eval(step)
    path = save(step)
    rep.line(f"saved {path} (step {step})")
    summary["checkpoint"] = path
    if cfg.export and d.is_main:
        summary["export"] = export_checkpoint(path, cfg)
        rep.line(f"exported {cfg.export} ({cfg.export_dtype} matrices, vocab {cfg.vocab})")
    distributed.barrier(d)
    return summary


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped train(). ``message``: one line saying what was saved (None on the non-main processes
    of a torchrun job, which stay silent); ``checkpoint``: the path saved at the interruption, or None."""

    def __init__(self, message: str | None, checkpoint: str | None = None):
        super().__init__(message or "")
        self.message = message
        self.checkpoint = checkpoint


def _interrupted_message(cfg: TrainConfig, step: int, saved: str | None) -> str:
    if saved is not None:
        return f"interrupted: saved step {step} to {saved}; continue with --resume {cfg.out}"
    last = os.path.join(cfg.out, checkpointing.CHECKPOINT_NAME)
    if os.path.exists(last):
        return f"interrupted at step {step}, not saved; the last checkpoint is {last} (--resume {cfg.out})"
    return f"interrupted at step {step}; no checkpoint saved"


def export_checkpoint(ckpt_path: str, cfg: TrainConfig) -> str:
    """Write the checkpoint's model as .rrwkv (with the tokenizer, where the exporter supports it)."""
    import inspect
    from ..io.export import export
    # force: an existing file was refused (or allowed by --force) before training, in _check_export
    kwargs = {"dtype": cfg.export_dtype, "force": True, "progress": False}
    if "vocab" in inspect.signature(export).parameters:
        kwargs["vocab"] = cfg.vocab
    export(ckpt_path, cfg.export, **kwargs)
    return cfg.export


class _InterruptAtStepEnd:
    """While installed (main thread only), the first SIGINT only sets ``requested``; the second
    raises KeyboardInterrupt as usual."""

    def __init__(self, enabled: bool):
        self.requested = False
        self._previous = None
        if enabled and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
