"""Benchmark of the runtime: decode and prefill speed beside the memory-bandwidth floor and the
official `rwkv` package, memory, and the batched engine's throughput; on the CPU or, with
--device cuda, on a GPU (the floor then the device memory's copy bandwidth, the peer the package's
`cuda fp16` strategy).

    python tools/bench.py                          # 169M-shaped RWKV-4 and RRWKV (s=16), f32
    python tools/bench.py --dtypes f32,f16 --batch-sizes 1,2,4,8,16,32,64
    python tools/bench.py --archs rwkv4,rwkv7 --dtypes f16,q8_0 --batch-sizes 1,8,64,256 --fast   # + exact=False
    python tools/bench.py --compare before=/path/to/other/python   # another installation, same run
    python tools/bench.py --archs rwkv4,rwkv7 --dtypes f32,f16 --blas-compare   # prefill, BLAS on / off
    python tools/bench.py --models-dir /data/benchmodels   # build the random models once, reuse them
    python tools/bench.py --device cuda --archs rwkv4,rwkv7 --dtypes f16,q8_0,q4_1 --batch-sizes 1,8,64,256

The measuring is the package's (rrwkv_rt/bench/measure.py, also behind `rrwkv bench MODEL` for a
user's own file); this program adds the random models of the benchmark shapes and the peers:
the official `rwkv` package, other installations and BLAS on / off. Every runtime runs in its own
worker process and all are measured in one run, interleaved. Figures are medians; nothing here
asserts a target. Progress goes to stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

from rrwkv_rt.bench.measure import (FAST, Worker, close_all, fast_wanted, floor_bandwidth, floor_buffer, l3_bytes,
                                    load_line, measure, measure_batches, memory, on_gpu, peak_fraction, resolve_auto,
                                    start_workers, warm_up)
from rrwkv_rt.bench.progress import Bar, phase

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import models  # noqa: E402

NO_BLAS = {"RRWKV_BLAS": "0"}  # the runtime's switch to its built-in prefill kernels


def _mib(x: float) -> str:
    return f"{x / 2**20:.1f} MiB"


def header(args, threads: int) -> None:
    from rrwkv_rt import _core
    n_layer, n_embd, vocab = models.SHAPES[args.shape]
    print(f"rrwkv_rt bench: {args.shape} shape (n_layer={n_layer}, n_embd={n_embd}, vocab={vocab}), "
          f"threads={threads}, kernels {_core.cpu_isa()}, BLAS {_core.blas_info()}, device {args.device}")
    if on_gpu(args):
        print(f"  {_core.cuda_status()}")
        if _core.gpu_emulated():
            print("  EMULATED GPU (HIP-CPU, a test build): every kernel runs on the CPU, so the figures below say "
                  "nothing about a GPU's speed; this run only shows that the GPU path runs end to end")


# --read-into-memory's extra installation: this one, every model read into memory (Model(path,
# read_into_memory=True): 2 MiB pages) instead of mapped (the page cache's pages, often 4 KiB).
IN_MEMORY = "in memory"


def pkg_label(arch: str, args) -> str:
    """The official package's worker: strategy 'cpu fp32', or 'cuda fp16' beside a GPU run."""
    return f"pkg {arch} " + ("cuda fp16" if on_gpu(args) else "fp32")


def report(args, paths: dict, installations: list[tuple[str, str]]) -> None:
    threads = args.threads or len(os.sched_getaffinity(0))
    header(args, threads)
    load_before = os.getloadavg()[0]
    keys = [(a, d) for d in args.dtypes for a in args.archs]
    mem = {}
    if not args.no_memory and not on_gpu(args):  # the peak-memory children measure the CPU's memory
        for key in keys:
            phase(f"peak memory of {key[0]} {key[1]} (a child process: {args.prefill_len}-token prefill, 16 steps)")
            models.evict_from_page_cache(paths[key])
            mem[key] = memory(paths[key], threads, args.prefill_len)
    specs = [(f"{a} {d}" + ("" if inst == "now" else f" [{inst}]"), python, "ours", paths[(a, d)], threads, "", None,
              args.device, inst == IN_MEMORY) for inst, python in installations for a, d in keys]
    specs += [(pkg_label(a, args), sys.executable, "pkg", paths[("pth", a)], threads, a, None, args.device)
              for a in args.archs if ("pth", a) in paths]
    workers = start_workers(specs)
    try:
        speed, bandwidth = measure(workers, args, threads)
        batches = measure_batches([w for w in workers if w.kind == "ours"], args, threads) if args.batch_sizes else {}
    finally:
        close_all(workers)
    phase("done")
    bw = {s: floor_bandwidth(v, s, on_gpu(args)) for s, v in bandwidth.items()}
    dram = args.bandwidth_mib << 20
    load_line(load_before)
    print_worker_builds(workers)
    what = ("device-to-device copy bandwidth (read + written" if on_gpu(args) else f"read bandwidth ({threads} threads")
    print(f"  {what}, {args.bandwidth_mib} MiB buffer, between decode blocks): median "
          f"{bw[dram] / 1e9:.1f} GB/s (samples {', '.join(f'{b / 1e9:.1f}' for b in bandwidth[dram])})")
    print_speed_table(workers, speed, bw, mem, args)
    print_comparisons(speed, keys, installations, args, threads)
    print_memory(mem, args)
    if batches:
        print_batches(workers, batches, args, threads)


def print_worker_builds(workers: list[Worker]) -> None:
    """What the workers ran (not the parent's import): their module and BLAS, once per installation."""
    seen = set()
    for w in workers:
        where = (w.info.get("module"), w.info.get("blas"))
        if w.kind == "ours" and where not in seen:
            seen.add(where)
            print(f"  workers ran rrwkv_rt {w.info['version']} from {where[0]}, BLAS: {where[1]}")


def print_speed_table(workers: list[Worker], speed: dict, bw: dict, mem: dict, args) -> None:
    l3 = 0 if on_gpu(args) else l3_bytes()
    if on_gpu(args):
        print("  floor (HBM) = weight bytes read per decode token / the device-to-device copy bandwidth measured each "
              "round (median)")
    else:
        print(f"  floor = decode bytes per token / read bandwidth of a buffer that size, measured each round: DRAM "
              f"bandwidth (median) for models larger than the L3 ({_mib(l3)}), the cache's (best round) for those "
              f"that fit in it (marked)")
    print()
    fast = fast_wanted(args)
    print(f"  {'runtime':<22} {'decode ms/tok':>13} {'floor ms':>9} {'x floor':>8} {'prefill tok/s':>14} "
          + (f"{'fast prefill':>13} " if fast else "") + (f"{'peak RSS':>10} {'anon':>9}" if mem else ""))
    for w in workers:
        s = speed[w.label]
        line = f"  {w.label:<22} {s['decode_ms']:>13.2f}"
        if w.kind == "ours":
            size = floor_buffer(w, args)
            floor_ms = 1e3 * w.info["bytes_per_token"] / bw[size]
            line += f" {floor_ms:>9.2f} {s['decode_ms'] / floor_ms:>8.2f} {s['prefill_tok_s']:>14.0f}"
            if fast:
                f = s.get("fast_prefill_tok_s")
                line += f" {f:>13.0f}" if f else f" {'-':>13}"
            m = mem.get(tuple(w.label.split()[:2])) if "[" not in w.label else None
            if m:
                line += f" {_mib(m['peak_kib'] * 1024):>10} {_mib(m['anon_kib'] * 1024):>9}"
            if w.info["bytes_per_token"] < l3:
                line += f"  (fits in L3: cache floor, {bw[size] / 1e9:.1f} GB/s on {_mib(size)}, best round)"
        else:
            line += f" {'':>9} {'':>8} {s['prefill_tok_s']:>14.0f}"
        print(line)
    print()


def print_comparisons(speed: dict, keys: list, installations: list, args, threads: int) -> None:
    for inst, _ in installations[1:]:
        for a, d in keys:
            now, then = speed[f"{a} {d}"], speed[f"{a} {d} [{inst}]"]
            fast = now.get("fast_prefill_tok_s")
            print(f"  {a} {d}: now / {inst}: decode {now['decode_ms'] / then['decode_ms']:.3f}x the time, "
                  f"prefill {now['prefill_tok_s'] / then['prefill_tok_s']:.3f}x the speed"
                  + (f"; fast prefill now / prefill {inst}: {fast / then['prefill_tok_s']:.2f}x" if fast else ""))
    for a, d in keys:
        s = speed[f"{a} {d}"]
        if s.get("fast_prefill_tok_s"):
            print(f"  {a} {d}: fast / exact prefill (same installation): {s['fast_prefill_tok_s'] / s['prefill_tok_s']:.2f}x")
    for a, d in keys:
        pkg, ours = speed.get(pkg_label(a, args)), speed.get(f"{a} {d}")
        if pkg and ours:
            peer = ("cuda fp16" if on_gpu(args) else
                    "cpu fp32" if d == "f32" else "cpu fp32: its CPU strategies are fp32, bf16 and fp32i8, not " + d)
            print(f"  {a} {d} vs the rwkv package ({peer}; {threads} threads): decode "
                  f"{pkg['decode_ms'] / ours['decode_ms']:.2f}x faster, prefill "
                  f"{ours['prefill_tok_s'] / pkg['prefill_tok_s']:.2f}x faster")
    for a in args.archs:
        for d in ("q8_0", "q4_1"):
            if f"{a} f16" in speed and f"{a} {d}" in speed:
                print(f"  {a}: {d} / f16 decode speed at batch 1: "
                      f"{speed[f'{a} f16']['decode_ms'] / speed[f'{a} {d}']['decode_ms']:.2f}x")
    for d in args.dtypes:
        if f"rwkv4 {d}" in speed and f"rrwkv {d}" in speed:
            print(f"  RRWKV (s={models.MEDIUM_INTERVAL}) / RWKV-4 decode time ({d}): "
                  f"{speed[f'rrwkv {d}']['decode_ms'] / speed[f'rwkv4 {d}']['decode_ms']:.3f}")


def print_memory(mem: dict, args) -> None:
    if not mem:
        return
    (a, d), m = next(iter(mem.items()))
    print(f"  memory ({a} {d}, after a {args.prefill_len}-token prefill and decode): peak RSS "
          f"{_mib(m['peak_kib'] * 1024)} = interpreter and libraries {_mib(m['baseline_kib'] * 1024)} + resident "
          f"model pages {_mib(m['model_resident_kib'] * 1024)} (file {_mib(m['file_size'])}, mmapped) + anonymous "
          f"{_mib(m['anon_kib'] * 1024)} (state {m['state_bytes'] / 1024:.0f} KiB, scratch, BLAS buffers)")


def print_batches(workers: list[Worker], batches: dict, args, threads: int) -> None:
    print()
    print(f"  batched decode, aggregate tokens/s ({threads} threads; x = / batch {args.batch_sizes[0]}):")
    fast = fast_wanted(args)
    peaks = {k[1]: v for k, v in batches.items() if k[0] == "peak"}
    if peaks:
        print("  compute peaks measured in the same rounds (multiply-adds/s, median): "
              + ", ".join(f"{i} {v / 1e9:.0f} G" for i, v in sorted(peaks.items())))
    for w in workers:
        if w.kind != "ours":
            continue
        kernels = w.info.get("fast_kernels", {})
        used = ", ".join(f"{fam} weights: {impl} on {ins or 'no measured instruction'}"
                         for fam, (impl, ins) in kernels.items() if w.info["macs_per_token"].get(fam))
        macs = sum(w.info["macs_per_token"].values())
        what = f"; fast path: {used}" if used else "; exact=False there: its own inexact mode" if kernels == {} else ""
        print(f"\n  {w.label} ({macs / 1e6:.1f} M multiply-adds per token" + (what if fast else "") + ")")
        print(f"  {'batch':>7} {'exact tok/s':>18}" + (f" {'fast tok/s':>18} {'fast/exact':>11} {'% of peak':>10}"
                                                      if fast else ""))
        one = batches.get((w.label, args.batch_sizes[0]))
        one_fast = batches.get((w.label + FAST, args.batch_sizes[0]))
        for b in args.batch_sizes:
            v = batches.get((w.label, b))
            line = f"  {b:>7} " + (f"{v:>10.0f} ({v / one:>5.1f}x)" if v and one else f"{'-':>18}")
            if fast:
                f = batches.get((w.label + FAST, b))
                pct = peak_fraction(w, f, batches) if f else None
                line += (f" {f:>10.0f} ({f / one_fast:>5.1f}x)" if f and one_fast else f" {'-':>18}")
                line += f" {f / v:>10.2f}x" if f and v else f" {'-':>11}"
                line += f" {100 * pct:>9.0f}%" if pct else f" {'-':>10}"
            print(line)


def blas_compare(args, paths: dict) -> None:
    """Prefill tokens/s of every model with BLAS on and off (RRWKV_BLAS=0): two workers per model,
    --repeats rounds, each round every length and model, the on / off order alternating; the
    ratio is the median of the rounds' on / off ratios (pairs measured seconds apart)."""
    threads = args.threads or len(os.sched_getaffinity(0))
    header(args, threads)
    load_before = os.getloadavg()[0]
    keys = [(a, d) for d in args.dtypes for a in args.archs]
    specs = []
    for a, d in keys:
        specs += [(f"{a} {d} on", sys.executable, "ours", paths[(a, d)], threads),
                  (f"{a} {d} off", sys.executable, "ours", paths[(a, d)], threads, "", NO_BLAS)]
    workers = start_workers(specs)
    try:
        warm_up(workers, max(args.blas_lens))
        times = run_blas_rounds(workers, keys, args)
    finally:
        close_all(workers)
    phase("done")
    load_line(load_before)
    print_worker_builds(workers)
    print(f"  prefill tokens/s, medians of {args.repeats} rounds; on / off = median of the per-round ratios")
    print()
    print(f"  {'model':<14} {'T':>5} {'BLAS on':>9} {'BLAS off':>9} {'on / off':>9}   per-round ratios")
    for a, d in keys:
        for n in args.blas_lens:
            on, off = np.array(times[(a, d, n, "on")]), np.array(times[(a, d, n, "off")])
            ratios = off / on  # times: off / on = speed on / off
            print(f"  {a + ' ' + d:<14} {n:>5} {n / np.median(on):>9.0f} {n / np.median(off):>9.0f} "
                  f"{np.median(ratios):>9.2f}   {' '.join(f'{x:.2f}' for x in ratios)}")


def run_blas_rounds(workers: list[Worker], keys: list, args) -> dict:
    by_label = {w.label: w for w in workers}
    times = {(a, d, n, m): [] for a, d in keys for n in args.blas_lens for m in ("on", "off")}
    bar = Bar("prefill BLAS on / off", args.repeats, len(workers) * len(args.blas_lens))
    for r in range(args.repeats):
        bar.round(r)
        order = ("on", "off") if r % 2 == 0 else ("off", "on")  # neither always runs first
        for n in args.blas_lens:
            for a, d in keys:
                for m in order:
                    times[(a, d, n, m)].append(by_label[f"{a} {d} {m}"].prefill_s(n, seed=100 + r))
                    bar.update()
    bar.close()
    return times


def parse_args(argv):
    from rrwkv_rt.cli.device import add_device_argument
    from rrwkv_rt.cli.formatting import DefaultsHelpFormatter  # no "(default: None)" after a default in words
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=DefaultsHelpFormatter)
    p.add_argument("--shape", default="169m", choices=sorted(models.SHAPES))
    p.add_argument("--archs", "--arch", default="rwkv4,rrwkv",
                   help="comma-separated architectures: rwkv4, rrwkv, rwkv5, rwkv6, rwkv7")
    p.add_argument("--dtypes", default="f32", help="comma-separated matrix dtypes to measure (only those are built and "
                   "run): f32, f16, bf16, q8_0, q4_1; a quantized one +head (e.g. q4_1+head) quantizes the output head "
                   "too (by default it stays f16). The rwkv package always runs fp32 (it has no f16 CPU strategy)")
    p.add_argument("--threads", type=int, default=None, help="threads for every runtime (default: all CPUs)")
    add_device_argument(p)
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds of bandwidth and decode blocks")
    p.add_argument("--decode-tokens", type=int, default=16, help="decode steps per round (rrwkv_rt)")
    p.add_argument("--pkg-decode-tokens", type=int, default=8, help="decode steps per round (rwkv package)")
    p.add_argument("--prefill-len", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3, help="prefill runs per worker (median), one per round "
                   "(beyond --rounds, rounds of prefill only); with --blas-compare its rounds")
    p.add_argument("--bandwidth-mib", type=int, default=512, help="read-bandwidth buffer for the DRAM floor (larger "
                   "than the L3); a model smaller than that is measured with a buffer of its own size")
    p.add_argument("--batch-sizes", default="", help="e.g. 1,2,4,8,16,32,64: the batched-decode table")
    p.add_argument("--batch-steps", type=int, default=4, help="steps per batch size and round")
    p.add_argument("--batch-rounds", type=int, default=3)
    p.add_argument("--fast", "--batch-inexact", dest="fast", action="store_true",
                   help="also measure the fast path (exact=False: activations rounded to bf16 / int8): prefill, "
                   "batched decode, and the compute peaks of its instructions for a %% of peak column")
    p.add_argument("--blas-compare", action="store_true", help="instead of the usual figures: prefill tokens/s of "
                   "each model with BLAS on and off (RRWKV_BLAS=0) in two workers, --repeats interleaved rounds")
    p.add_argument("--blas-lens", default="64,512", help="prefill lengths for --blas-compare")
    p.add_argument("--compare", action="append", default=None, metavar="LABEL=PYTHON",
                   help="also measure the rrwkv_rt installed for another interpreter (e.g. a build before a change)")
    p.add_argument("--models-dir", "--workdir", dest="workdir", default=None,
                   help="where to keep the generated models and reuse them in later runs (default: a temp dir)")
    p.add_argument("--no-rwkv-package", action="store_true", help="skip the official rwkv package")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    p.add_argument("--read-into-memory", action="store_true",
                   help="also run this installation with every model read into memory on 2 MiB pages (Model(path, "
                        "read_into_memory=True)) beside the mapped one, interleaved: labelled [in memory]")
    args = p.parse_args(argv)
    args.archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    args.blas_lens = [int(n) for n in args.blas_lens.split(",") if n.strip()]
    return args


def package_available(args) -> bool:
    if args.no_rwkv_package or args.blas_compare or all(a == "rrwkv" for a in args.archs):
        return False
    if importlib.util.find_spec("rwkv") is None or importlib.util.find_spec("torch") is None:
        print("  (the rwkv package or torch is not installed: skipping the comparison)")
        return False
    if on_gpu(args):
        import torch
        if not torch.cuda.is_available():
            print("  (this torch has no CUDA device: skipping the rwkv package's cuda fp16)")
            return False
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    args.device = resolve_auto(args.device)
    installations = [("now", sys.executable)] + [tuple(c.split("=", 1)) for c in args.compare or []]
    if args.read_into_memory:
        installations.append((IN_MEMORY, sys.executable))
    want_pkg = package_available(args)
    with tempfile.TemporaryDirectory(prefix="rrwkv-bench-") as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        t0 = time.perf_counter()
        phase(f"models under {workdir}: building those not there yet")
        paths = models.build(workdir, args.shape, args.archs, args.dtypes, want_pkg, log=phase)
        print(f"(models ready in {time.perf_counter() - t0:.0f} s under {workdir})")
        if args.blas_compare:
            blas_compare(args, paths)
        else:
            report(args, paths, installations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
