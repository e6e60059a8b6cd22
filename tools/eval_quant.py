"""Quality of the weight types: held-out bits/byte and greedy agreement, one model, every type,
on the exact path and on the fast one (exact=False: activations rounded to bf16 / int8).

    python tools/eval_quant.py --model runs/q20m/ckpt.pt --workdir /tmp/q20m      # a training checkpoint
    python tools/eval_quant.py --model shipped --workdir /tmp/shipped               # the shipped (f16) model

Writes one .rrwkv per variant (export from a checkpoint, `rrwkv quantize` from a .rrwkv), then
runs each through the runtime on the same held-out windows of the training corpus (the
`stdlib` byte corpus's validation split, which no model here was trained on) and from the same
prompts: bits/byte (mean next-byte cross-entropy over the windows' positions) and the greedy
continuation of each prompt (256 tokens) compared with the reference variant's (the first
one: f32, or the shipped f16). With --paths exact,fast (the default) each variant also runs with
exact=False: its bits/byte beside the exact path's, and how many greedy tokens the fast path
shares with the exact path of the same file. Prints markdown tables; nothing is asserted.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

VARIANTS = {  # name -> (dtype, per-class overrides): the rows of docs/QUANTIZATION.md
    "f32": ("f32", {}),
    "f16": ("f16", {}),
    "bf16": ("bf16", {}),
    "q8_0": ("q8_0", {}),
    "q4_1": ("q4_1", {}),  # head q8_0 since 2026-12-07 (it was f16: the "q4_1 head f16" row)
    "q8_0 +head": ("q8_0", {"head": "q8_0"}),
    "q4_1 +head q8_0": ("q4_1", {"head": "q8_0"}),
    "q4_1 head f16": ("q4_1", {"head": "f16"}),
    "q4_1 att only": ("q4_1", {"ffn": "f16"}),
    "q4_1 ffn only": ("q4_1", {"att": "f16"}),
}


def build(src: str, workdir: str, names: list[str]) -> dict[str, str]:
    from rrwkv_rt.io.export import export
    from rrwkv_rt.io.requantize import quantize
    paths = {}
    for name in names:
        dtype, overrides = VARIANTS[name]
        path = os.path.join(workdir, name.replace(" ", "_").replace("+", "") + ".rrwkv")
        if not os.path.exists(path):
            if src.endswith(".rrwkv"):
                quantize(src, path, dtype, dtype_for=overrides, progress=False)
            else:
                export(src, path, dtype=dtype, dtype_for=overrides, progress=False)
        paths[name] = path
    return paths


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def bits_per_byte(path: str, windows: np.ndarray, threads: int | None, exact: bool = True) -> float:
    import rrwkv_rt
    model = rrwkv_rt.Model(path)
    nats, count = 0.0, 0
    for w in windows:
        s = rrwkv_rt.Session(model, threads=threads, exact=exact)
        lp = log_softmax(s.forward(w[:-1], all_logits=True))
        nats -= float(lp[np.arange(len(w) - 1), w[1:]].sum())
        count += len(w) - 1
    return nats / count / math.log(2)


def greedy(path: str, prompts: list[np.ndarray], n: int, threads: int | None, exact: bool = True) -> list[np.ndarray]:
    import rrwkv_rt
    model = rrwkv_rt.Model(path)
    out = []
    for p in prompts:
        s = rrwkv_rt.Session(model, threads=threads, exact=exact)
        logits, toks = s.forward(p), []
        for _ in range(n):
            toks.append(int(np.argmax(logits)))
            logits = s.step(toks[-1])
        out.append(np.array(toks))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="training checkpoint / .pth, a .rrwkv file, or 'shipped'")
    p.add_argument("--workdir", required=True, help="where the variants' .rrwkv files are written (and reused)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    p.add_argument("--windows", type=int, default=16, help="held-out windows")
    p.add_argument("--ctx", type=int, default=512, help="bytes per window")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--greedy-tokens", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--paths", default="exact,fast", help="exact, fast or both: the runtime paths to measure")
    args = p.parse_args()
    paths_run = [x.strip() for x in args.paths.split(",") if x.strip()]
    if not paths_run or set(paths_run) - {"exact", "fast"}:
        p.error(f"--paths takes exact, fast or both, got {args.paths!r}")
    import rrwkv_rt
    from rrwkv_rt.train.data import load_corpus
    from tqdm import tqdm

    src = rrwkv_rt.default_model_path() if args.model == "shipped" else args.model
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if src.endswith(".rrwkv"):  # the file's own type is the reference (f32 there holds the same values)
        own = rrwkv_rt.Model(src).info["dtype"]
        names = [own] + [n for n in names if n != own]
        VARIANTS.setdefault(own, (own, {}))
    os.makedirs(args.workdir, exist_ok=True)
    paths = build(src, args.workdir, names)

    val = load_corpus("stdlib", "bytes").val.numpy()
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(val) - args.ctx - 1, size=args.windows)
    windows = np.stack([val[s:s + args.ctx] for s in starts])
    prompts = [val[s:s + 64] for s in rng.integers(0, len(val) - 65, size=args.prompts)]

    rows, fast = {}, {}
    for name in tqdm(names, desc="variants", file=sys.stderr):
        rows[name] = (bits_per_byte(paths[name], windows, args.threads),
                      greedy(paths[name], prompts, args.greedy_tokens, args.threads))
        if "fast" in paths_run:
            fast[name] = (bits_per_byte(paths[name], windows, args.threads, exact=False),
                          greedy(paths[name], prompts, args.greedy_tokens, args.threads, exact=False))
    ref_bpb, ref_greedy = rows[names[0]]
    print(f"model {src}: {args.windows} held-out windows x {args.ctx} bytes; {args.prompts} prompts x "
          f"{args.greedy_tokens} greedy tokens; reference {names[0]}\n")
    print("| weights | file MiB | bits/byte | vs ref | greedy: identical tokens | greedy: first divergence (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        bpb, outs = rows[name]
        same = np.mean([np.mean(a == b) for a, b in zip(outs, ref_greedy)])
        first = [int(np.argmax(a != b)) if (a != b).any() else len(a) for a, b in zip(outs, ref_greedy)]
        size = os.path.getsize(paths[name]) / 2**20
        print(f"| {name} | {size:.1f} | {bpb:.4f} | {100 * (bpb / ref_bpb - 1):+.2f}% | {100 * same:.1f}% | "
              f"{int(np.median(first))} |")
    if fast:
        print("\nThe fast path (exact=False) against the exact path of the same file:\n")
        print("| weights | bits/byte exact | bits/byte fast | fast vs exact | greedy: identical tokens | "
              "greedy: first divergence (median) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in names:
            (bpb, outs), (fbpb, fouts) = rows[name], fast[name]
            same = np.mean([np.mean(a == b) for a, b in zip(fouts, outs)])
            first = [int(np.argmax(a != b)) if (a != b).any() else len(a) for a, b in zip(fouts, outs)]
            print(f"| {name} | {bpb:.4f} | {fbpb:.4f} | {100 * (fbpb / bpb - 1):+.3f}% | {100 * same:.1f}% | "
                  f"{int(np.median(first))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
