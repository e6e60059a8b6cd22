"""Hyper-parameters of a training run and the ``train`` command line that fills them.

No torch here: ``python -m rrwkv_rt --help`` must not pay for importing it.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, fields

from ..config import CM_MODES, RWKV4_FAMILY as ARCHES  # the trainer trains RWKV-4 and RRWKV

# Fields that fix the model's shape: a resumed run takes them from the checkpoint, and an explicit
# different value on the command line is an error.
MODEL_FIELDS = ("arch", "n_layer", "n_embd", "ffn_dim", "medium_interval", "cm_mode")
# Fields that belong to one invocation, never taken from a checkpoint.
RUN_FIELDS = ("out", "resume", "init_from", "export", "export_dtype", "force", "stop_after", "device", "threads",
              "wkv", "quiet")
WKV_CHOICES = ("chunked", "kernels", "scan")


@dataclass
class TrainConfig:
    # model (ignored with --resume / --init-from, which bring their own)
    arch: str = "rrwkv"
    n_layer: int = 4
    n_embd: int = 256
    ffn_dim: int = 0                 # 0: 4 * n_embd
    medium_interval: int = 16
    cm_mode: str = "replace"
    # data
    corpus: str = "stdlib"           # "stdlib" or a file / directory of text files
    vocab: str = "bytes"             # "bytes", "world" or a vocabulary file (rrwkv_rt.tokenizer)
    val_every: int = 50              # every val_every-th file (in sorted order) is validation data
    ctx_len: int = 256
    # optimisation
    batch_size: int = 16             # global: windows per step over all processes
    grad_accum: int = 1              # micro-steps per step on each process
    steps: int = 2000                # length of the learning-rate schedule
    lr: float = 1e-3
    min_lr_ratio: float = 0.1        # cosine decay ends at lr * min_lr_ratio
    warmup: int = 100
    weight_decay: float = 0.1        # on weight matrices only
    grad_clip: float = 1.0           # max global grad norm; 0 disables
    beta1: float = 0.9
    beta2: float = 0.99
    # evaluation, logging, checkpoints
    eval_every: int = 200
    eval_windows: int = 64           # fixed validation windows of ctx_len tokens
    log_every: int = 50
    save_every: int = 0              # 0: at every evaluation
    seed: int = 0
    # this invocation
    out: str = "runs/train"
    resume: str | None = None
    init_from: str | None = None
    export: str | None = None
    export_dtype: str = "f32"
    force: bool = False              # --export may overwrite an existing file
    stop_after: int | None = None    # stop at this step (the schedule still spans `steps`)
    device: str = "auto"
    threads: int = 0                 # CPU threads per process; 0: torch's default
    wkv: str = "chunked"
    quiet: bool = False
    explicit: tuple = field(default=(), repr=False, compare=False)  # names given on the command line

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise ValueError(f"--arch must be one of {ARCHES}, got {self.arch!r}")
        if self.cm_mode not in CM_MODES:
            raise ValueError(f"--cm-mode must be one of {CM_MODES}, got {self.cm_mode!r}")
        if self.wkv not in WKV_CHOICES:
            raise ValueError(f"--wkv must be one of {WKV_CHOICES}, got {self.wkv!r}")
        positive = ("n_layer", "n_embd", "medium_interval", "ctx_len", "batch_size", "grad_accum", "steps",
                    "eval_every", "eval_windows", "log_every", "val_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "weight_decay", "grad_clip", "save_every", "min_lr_ratio", "ffn_dim", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.stop_after is not None and not 0 < self.stop_after <= self.steps:
            raise ValueError(f"--stop-after must be in 1..--steps ({self.steps}), got {self.stop_after}")
        if self.resume and self.init_from:
            raise ValueError("--resume continues a run and --init-from starts a new one from weights; pass one")

    def to_dict(self) -> dict:
        """Everything except the bookkeeping of which options were explicit (for checkpoints)."""
        d = asdict(self)
        d.pop("explicit")
        return d

    @property
    def end_step(self) -> int:
        return self.stop_after or self.steps


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``train`` options. Defaults are SUPPRESSed so that :func:`from_args` knows which were given."""
    S = argparse.SUPPRESS
    d = TrainConfig()
    m = p.add_argument_group("model (from scratch; --resume and --init-from bring their own)")
    m.add_argument("--arch", choices=ARCHES, default=S, help=f"architecture (default {d.arch})")
    m.add_argument("--n-layer", type=int, default=S, help=f"blocks (default {d.n_layer})")
    m.add_argument("--n-embd", type=int, default=S, help=f"channels C (default {d.n_embd})")
    m.add_argument("--ffn-dim", type=int, default=S, help="channel-mix width (default 4C)")
    m.add_argument("--medium-interval", type=int, default=S, metavar="S",
                   help=f"RRWKV medium interval s (default {d.medium_interval})")
    m.add_argument("--cm-mode", choices=CM_MODES, default=S, help=f"RRWKV channel-mix mode (default {d.cm_mode})")

    g = p.add_argument_group("data")
    g.add_argument("--corpus", default=S, metavar="stdlib|PATH",
                   help="'stdlib' (this Python's standard library sources, no download) or a text file or "
                        "a directory of text files (default stdlib)")
    g.add_argument("--vocab", default=S, metavar="bytes|world|PATH",
                   help="tokenizer: byte-level (256 ids), the RWKV World vocabulary or a vocabulary file "
                        "(default bytes)")
    g.add_argument("--val-every", type=int, default=S, metavar="N",
                   help=f"every N-th file is held out for validation (default {d.val_every})")
    g.add_argument("--ctx-len", type=int, default=S, help=f"tokens per training window (default {d.ctx_len})")

    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=int, default=S,
                   help=f"GLOBAL windows per step, split over all processes (default {d.batch_size})")
    o.add_argument("--grad-accum", type=int, default=S,
                   help="micro-steps per step on each process, to save memory (default 1)")
    o.add_argument("--steps", type=int, default=S, help=f"optimizer steps of the schedule (default {d.steps})")
    o.add_argument("--lr", type=float, default=S, help=f"peak learning rate (default {d.lr})")
    o.add_argument("--min-lr-ratio", type=float, default=S,
                   help=f"cosine decay ends at lr x this (default {d.min_lr_ratio})")
    o.add_argument("--warmup", type=int, default=S, help=f"linear warm-up steps (default {d.warmup})")
    o.add_argument("--weight-decay", type=float, default=S,
                   help=f"AdamW weight decay of the weight matrices (default {d.weight_decay})")
    o.add_argument("--grad-clip", type=float, default=S, help=f"max gradient norm, 0: off (default {d.grad_clip})")
    o.add_argument("--seed", type=int, default=S, help="init and data order (default 0)")

    e = p.add_argument_group("evaluation, checkpoints, export")
    e.add_argument("--eval-every", type=int, default=S, help=f"steps between evaluations (default {d.eval_every})")
    e.add_argument("--eval-windows", type=int, default=S,
                   help=f"validation windows per evaluation (default {d.eval_windows})")
    e.add_argument("--log-every", type=int, default=S, help=f"steps between log lines (default {d.log_every})")
    e.add_argument("--save-every", type=int, default=S, help="steps between checkpoints (default: every eval)")
    e.add_argument("--out", default=S, metavar="DIR",
                   help=f"run directory: ckpt.pt and metrics.jsonl (default {d.out})")
    e.add_argument("--resume", default=S, metavar="CKPT",
                   help="continue a run from its checkpoint (or run directory), optimizer and step included")
    e.add_argument("--init-from", default=S, metavar="CKPT",
                   help="start a new run from weights: our checkpoint (or run directory), or an official RWKV-4 .pth "
                        "(with --arch rrwkv: warm-started into an `add`-mode RRWKV)")
    e.add_argument("--export", default=S, metavar="PATH", help="write the final model as .rrwkv here")
    e.add_argument("--export-dtype", default=S, choices=["f32", "f16", "bf16"],
                   help="matrix storage type of --export (default f32)")
    e.add_argument("--force", action="store_true", default=S,
                   help="let --export overwrite an existing file (without it, that is an error before training "
                        "starts, as `rrwkv export` refuses without --force)")
    e.add_argument("--stop-after", type=int, default=S, metavar="STEP",
                   help="stop (and checkpoint) at this step; the schedule still spans --steps")

    r = p.add_argument_group("hardware")
    r.add_argument("--device", default=S, help="auto, cpu, cuda or cuda:N (default auto; torchrun: cuda:LOCAL_RANK)")
    r.add_argument("--threads", type=int, default=S,
                   help="CPU threads per process (default: torch's choice; on a busy machine 1 can be much faster)")
    r.add_argument("--wkv", choices=WKV_CHOICES, default=S,
                   help="WKV implementation: chunked (parallel torch, default), kernels (the C++/CUDA "
                        "kernels of rrwkv_rt.autograd), scan (the reference, slow)")
    r.add_argument("--kernels", dest="wkv", action="store_const", const="kernels", default=S,
                   help="same as --wkv kernels")
    r.add_argument("--quiet", action="store_true", default=S, help="no progress bar and no log lines")


def from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)} - {"explicit"}
    given = {k: v for k, v in vars(args).items() if k in names}
    return TrainConfig(**given, explicit=tuple(sorted(given)))


def merged_with_checkpoint(cli: TrainConfig, saved: dict) -> TrainConfig:
    """The config of a resumed run: the checkpoint's, with the options given on the command line.

    Model-shape options that contradict the checkpoint raise ValueError.
    """
    known = {f.name for f in fields(TrainConfig)} - {"explicit"}
    base = {k: v for k, v in saved.items() if k in known and k not in RUN_FIELDS}
    for k in MODEL_FIELDS:
        if k in cli.explicit and k in base and getattr(cli, k) != base[k]:
            raise ValueError(f"--{k.replace('_', '-')} {getattr(cli, k)} contradicts the checkpoint being resumed "
                             f"({k} = {base[k]}); a resumed run keeps its model: drop the option")
    for k in cli.explicit:
        if k not in MODEL_FIELDS:
            base[k] = getattr(cli, k)
    for k in RUN_FIELDS:
        base[k] = getattr(cli, k)
    return TrainConfig(**base, explicit=cli.explicit)
