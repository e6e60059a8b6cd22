#!/usr/bin/env python3
"""Long-range dependency experiments: RWKV-4 vs RRWKV (docs/RESULTS.md has the results and commands).

    python tools/eval_longrange.py mqar --grid repro --out docs/results/mqar.jsonl
    python tools/eval_longrange.py mqar --grid reduced --out docs/results/mqar.jsonl   # resumable
    python tools/eval_longrange.py lm --out docs/results/lm.jsonl
    python tools/eval_longrange.py report --results docs/results                       # tables + plots

Every run appends one JSON line when it finishes; a restart skips the runs already in the file.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


GRID_NAMES = ("repro", "reduced_d64", "reduced", "ablation", "reduced128", "repro128", "repro_long", "extension", "full", "smoke")


def run_all(args) -> None:
    """The reduced programme, in order of importance; each step skips what is already done."""
    from longrange.grids import GRIDS
    from longrange.runner import run_grid
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    log = lambda s: print(s, flush=True)  # noqa: E731
    mqar = os.path.join(args.results, "mqar.jsonl")
    for name in ("repro", "reduced_d64", "repro_long", "reduced", "ablation"):
        run_grid(GRIDS[name](), mqar, name, log=log)
    from longrange.lm import run_lm
    run_lm("reduced", os.path.join(args.results, "lm.jsonl"), log=log)
    for name in ("reduced128", "repro128", "extension"):
        run_grid(GRIDS[name](), mqar, name, log=log)
    from longrange.report import report
    with open(os.path.join(args.results, "tables.md"), "w") as f:
        f.write(report(args.results))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mqar", help="run an MQAR grid (resumable)")
    m.add_argument("--grid", required=True, nargs="+", help="grid name(s): " + ", ".join(GRID_NAMES))
    m.add_argument("--out", default="docs/results/mqar.jsonl")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--limit", type=int, default=0, help="stop after this many runs (0: all)")
    m.add_argument("--device", default="cpu", help="cpu or cuda (the WKV kernels run on both)")
    lm = sub.add_parser("lm", help="language modelling on long documents: loss by position")
    lm.add_argument("--out", default="docs/results/lm.jsonl")
    lm.add_argument("--threads", type=int, default=2)
    lm.add_argument("--grid", default="reduced", help="reduced or smoke")
    lm.add_argument("--workdir", default=None, help="where the token cache goes (default: next to --out)")
    a = sub.add_parser("all", help="the whole reduced CPU programme in one process, resumable: "
                                   "in order of priority: MQAR repro, reduced_d64, repro_long, reduced, ablation, LM, reduced128, repro128, extension, report")
    a.add_argument("--results", default="docs/results")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--pid-file", default=None, help="write this process's id here (for SIGSTOP/SIGCONT)")
    r = sub.add_parser("report", help="tables (Markdown) and PNG plots from the result files")
    r.add_argument("--results", default="docs/results")
    r.add_argument("--tables", default=None, help="write the Markdown tables here (default: stdout)")
    args = ap.parse_args(argv)

    import torch
    if args.cmd in ("mqar", "lm", "all"):
        torch.set_num_threads(args.threads)
    if args.cmd == "mqar":
        from longrange.grids import GRIDS
        from longrange.runner import run_grid
        for name in args.grid:
            if name not in GRIDS:
                ap.error(f"unknown grid {name!r}; expected one of {sorted(GRIDS)}")
        for name in args.grid:
            run_grid(GRIDS[name](), args.out, name, log=lambda s: print(s, flush=True), limit=args.limit,
                     device=args.device)
    elif args.cmd == "all":
        run_all(args)
    elif args.cmd == "lm":
        from longrange.lm import run_lm
        run_lm(args.grid, args.out, workdir=args.workdir, log=lambda s: print(s, flush=True))
    else:
        from longrange.report import report
        text = report(args.results)
        if args.tables:
            with open(args.tables, "w") as f:
                f.write(text)
        else:
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
