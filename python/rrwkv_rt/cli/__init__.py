"""Command line: ``python -m rrwkv_rt COMMAND`` (also installed as ``rrwkv``).

Errors print one line and exit with status 1 (usage errors: 2); ``--verbose`` adds the details of
multi-line errors and argparse's usage. Tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import sys

from .. import _core
from .formatting import DefaultsHelpFormatter


def _cmd_export(args) -> None:
    from ..io.export import export
    from ..io import precision
    notes: list[str] = []
    cfg = export(args.src, args.dst, dtype=args.dtype, arch=args.arch, medium_interval=args.medium_interval,
                 cm_mode=args.cm_mode, force=args.force, vocab=args.vocab, dtype_for=args.dtype_for, notes=notes,
                 lora=args.lora, lora_alpha=args.lora_alpha, initial_state=args.initial_state,
                 drop_unknown=args.drop_unknown)
    for n in notes:
        print(f"note: {n}")
    f = _core.ModelFile(args.dst)
    dtypes = {t["name"]: t["dtype"] for t in f.tensors}
    print(f"wrote {args.dst}: {cfg.arch}, {cfg.n_layer} layers, n_embd {cfg.n_embd}, vocab {cfg.vocab_size}, "
          f"{precision.describe(dtypes, _core.runtime_layout(f.config))}, {f.file_size / 2**20:.1f} MiB")


RRWKV_ONLY = ("medium_interval", "cm_mode")  # the mediums (docs/RRWKV.md); fixed at 1 / replace elsewhere


def _tokenizer_summary(f) -> str:
    """What runs the file's tokenizer: the native one (C and C++ too), or only Python, and why."""
    try:
        t = _core.Tokenizer.from_model(f)
        return f"{t.kind}, ids 0..{t.vocab_size - 1}, native (C and C++ programs encode with it too)"
    except _core.FormatError as e:
        return f"{f.fields['tokenizer.kind']}, not usable by the native runtime: {e}"


def _cmd_info(args) -> None:
    f = _core.ModelFile(args.file)  # validates everything, checksums included
    print(f"file:     {f.path} ({f.file_size} bytes, format version {f.version}, header crc32 {f.header_crc32:#010x})")
    for k, v in f.config.items():
        if k in RRWKV_ONLY and f.config["arch"] != "rrwkv":
            continue  # stored for every RWKV-4-family file, but meaningful for RRWKV only
        print(f"{k + ':':<17} {v}")
    fields = f.fields
    origin = [("exported from", " ".join(x for x in (fields.get("meta.source"), f"({fields['meta.source_layout']})"
                                                     if "meta.source_layout" in fields else None) if x)),
              ("LoRA merged", fields.get("meta.lora")),
              ("initial state", _baked_state(f))]
    for what, text in origin:
        if text:
            print(f"{what + ':':<17} {text}")
    for k, v in fields.items():
        if k.startswith("meta."):
            print(f"{k + ':':<17} {v}")
        elif k.startswith("tokenizer."):
            print(f"{k + ':':<17} {v if isinstance(v, str) else f'<{len(v)} bytes>'}")
    if "tokenizer.kind" in f.fields:
        print(f"{'tokenizer:':<17} {_tokenizer_summary(f)}")
    by_dtype: dict[str, int] = {}
    for t in f.tensors:
        by_dtype[t["dtype"]] = by_dtype.get(t["dtype"], 0) + t["nbytes"]
    summary = ", ".join(f"{d} {n / 2**20:.2f} MiB" for d, n in sorted(by_dtype.items()))
    print(f"tensors:          {len(f.tensors)} ({summary})")
    if args.tensors:
        for t in f.tensors:
            print(f"  {t['name']:<40} {t['dtype']:<5} {str(t['shape']):<16} @{t['offset']}")
    print("OK: header, layout and all tensor checksums verified")


def _baked_state(f) -> str | None:
    """'baked (from ...): sessions start from it' where the file holds initial_state.* tensors."""
    layers = {t["name"].split(".")[1] for t in f.tensors if t["name"].startswith("initial_state.")}
    if not layers:
        return None
    where = f.fields.get("meta.initial_state")
    return (f"baked in the file for {len(layers)} layer(s){f' (from {where})' if where else ''}: sessions start "
            "from it and reset() returns to it")


def _cmd_train(args) -> None:
    from ..train import distributed, options
    from ..train.loop import train
    train(options.from_args(args))
    distributed.end_worker_process()  # under torchrun, the process ends here (see there why)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors, like the CLI's other errors; the usage only with --verbose."""
    verbose = False

    def error(self, message):
        if self.verbose:
            self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


VERBOSE_HELP = "print the details of errors (e.g. every missing tensor) and the usage on usage errors"


def build_parser(verbose: bool = False) -> argparse.ArgumentParser:
    from .. import __version__
    p = _Parser(prog="rrwkv", description="rrwkv_rt: runtime tools for RWKV-4/5/6/7 and RRWKV models",
                epilog="native builds: rrwkv --cmakedir | --includedir | --libdir print the paths "
                       "of the installed CMake package, headers and library")
    p.add_argument("--version", action="version", version=f"rrwkv_rt {__version__}")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = p.add_subparsers(dest="command", required=True)
    from .generate import add_parsers as add_generate_parsers  # generate, chat
    add_generate_parsers(sub)
    from .serve import add_parser as add_serve_parser
    add_serve_parser(sub)
    from .quantize import add_parser as add_quantize_parser
    add_quantize_parser(sub)
    from .bench import add_parser as add_bench_parser
    add_bench_parser(sub)

    e = sub.add_parser("export", help="convert a checkpoint (.pth, .safetensors, Hugging Face folder) into a .rrwkv "
                                      "model file", formatter_class=DefaultsHelpFormatter)
    e.add_argument("src", help="official RWKV-4, RWKV-5.2, RWKV-6 or RWKV-7 .pth (the architecture is recognised from "
                               "the keys; RWKV-7 DeepEmbed too), RRWKV state dict, .safetensors, a "
                               "Hugging Face model folder (transformers RwkvForCausalLM, flash-linear-attention "
                               "RWKV7ForCausalLM), a training checkpoint or training run directory (its ckpt.pt, as "
                               "for train --resume)")
    e.add_argument("dst", help="output .rrwkv path (written atomically)")
    e.add_argument("--dtype", default="auto",
                   choices=["auto", "f32", "f16", "bf16", "fp32", "fp16", "q8_0", "q4_1", "int8", "int4"],
                   help="storage type of the weight matrices (vectors stay f32): auto keeps the checkpoint's "
                        "precision (a bf16 .pth stays bf16); q8_0 (int8) and q4_1 (4-bit) apply to the "
                        "projections, see --dtype-for and docs/QUANTIZATION.md")
    from .quantize import add_dtype_for_argument
    add_dtype_for_argument(e)
    e.add_argument("--arch", default="auto", choices=["auto", "rwkv4", "rrwkv"],
                   help="auto: recognised from the checkpoint's keys (RWKV-4, RRWKV, RWKV-5.2/6/7, which need no "
                        "--arch); rwkv4 or rrwkv to tell those two apart where the keys cannot")
    e.add_argument("--medium-interval", type=int, default=None, metavar="S",
                   help="RRWKV medium interval s (required for raw RRWKV state dicts)")
    e.add_argument("--cm-mode", default=None, choices=["replace", "add"],
                   help="RRWKV channel-mix mode (default: add if ffn.medium_mix_k is present, else replace)")
    e.add_argument("--lora", default=None, metavar="ADAPTER",
                   help="merge this LoRA adapter (RWKV-PEFT / RWKV-LM: X.lora_A, X.lora_B beside X.weight) into the "
                        "weights first; needs --lora-alpha")
    e.add_argument("--lora-alpha", type=float, default=None, metavar="A",
                   help="the adapter's alpha: the merge adds (A / rank) * B @ A")
    e.add_argument("--initial-state", default=None, metavar="FILE",
                   help="bake a state-tuning file (blocks.N.att.time_state, RWKV-5/6/7) into the model: sessions "
                        "start from it and reset() returns to it")
    e.add_argument("--drop-unknown", action="store_true",
                   help="export even if the checkpoint holds tensors the model does not use, dropping them (they are "
                        "listed); without it such a checkpoint is refused")
    e.add_argument("--force", action="store_true", help="overwrite DST if it exists")
    e.add_argument("--vocab", default=None, metavar="world|bytes|PATH",
                   help="store a tokenizer in the file: the RWKV World vocabulary, byte-level, a vocabulary "
                        "file in the rwkv_vocab_v20230424.txt format (write ./world for a file named world), or a "
                        "Hugging Face tokenizer.json (e.g. the GPT-NeoX 20B one of the RWKV-4 Pile models; needs "
                        "the `tokenizers` package)")
    e.set_defaults(func=_cmd_export)

    i = sub.add_parser("info", help="print a .rrwkv file's header and validate the whole file")
    i.add_argument("file")
    i.add_argument("--tensors", action="store_true", help="list every tensor")
    i.set_defaults(func=_cmd_info)

    t = sub.add_parser("train", help="train an RWKV-4 / RRWKV model (docs/TRAINING.md); torchrun for several GPUs")
    from ..train.options import add_arguments as add_train_arguments
    add_train_arguments(t)
    t.set_defaults(func=_cmd_train)

    p.verbose = verbose
    for sp in sub.choices.values():
        sp.verbose = verbose
        # also after the subcommand; SUPPRESS, or the subcommand's default would reset `rrwkv --verbose CMD`
        sp.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return p


def _error_text(e: BaseException, verbose: bool) -> str:
    """A multi-line message's first line (or the exception's ``brief``), the whole of it with --verbose."""
    msg = str(e)
    if verbose or "\n" not in msg:
        return msg
    return getattr(e, "brief", None) or msg.splitlines()[0].rstrip(":") + " (run with --verbose for the details)"


def main(argv: list[str] | None = None) -> int:
    from ..native import print_dir_flag  # `--cmakedir`, `--includedir`, `--libdir`: for native builds
    status = print_dir_flag(sys.argv[1:] if argv is None else argv)
    if status is not None:
        return status
    argv = sys.argv[1:] if argv is None else list(argv)
    # known before parsing, so that usage errors can honour it too
    # (argparse also accepts an abbreviation such as --verb)
    verbose = any(len(a) > 5 and "--verbose".startswith(a) for a in argv)
    args = build_parser(verbose=verbose).parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, IndexError, OSError) as e:
        print(f"rrwkv {args.command}: error: {_error_text(e, args.verbose)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        # One line: `train` says in its exception where it saved the checkpoint (train.loop.Interrupted),
        # and None on torchrun's other processes, so that N processes do not print N lines.
        msg = getattr(e, "message", "interrupted")
        if msg:
            print(msg, file=sys.stderr)
        return 130
    return 0
