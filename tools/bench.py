"""CPU benchmark of the runtime: decode and prefill speed beside the memory-bandwidth floor and
the official `rwkv` package, memory, and the batched engine's throughput.

    python tools/bench.py                          # 169M-shaped RWKV-4 and RRWKV (s=16), f32
    python tools/bench.py --dtypes f32,f16 --batch-sizes 1,2,4,8,16,32,64
    python tools/bench.py --compare before=/path/to/other/python   # another installation, same run

Every runtime runs in its own worker process (tools/benchlib/worker.py) and all are measured in
one run, interleaved: each round measures the read bandwidth, then a block of decode steps of
every worker, because memory bandwidth on a shared machine drifts by tens of percent within
seconds. Figures are medians; nothing here asserts a target. Peak memory is measured in a child
process per model that runs nothing but the runtime.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import models  # noqa: E402


class Worker:
    """A runtime in a child process (benchlib/worker.py), run by `python`."""

    def __init__(self, label: str, python: str, kind: str, path: str, threads: int, arch: str = ""):
        self.label, self.kind = label, kind
        env = {**os.environ, "PYTHONPATH": ""}
        self.proc = subprocess.Popen([python, os.path.join(HERE, "benchlib", "worker.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir(), env=env)
        self.info = self.call(op="open", kind=kind, path=path, threads=threads, arch=arch)

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.label!r} died (see its stderr above)")
        return json.loads(line)

    def close(self):
        try:
            self.call_quit()
        finally:
            self.proc.wait(timeout=30)

    def call_quit(self):
        self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.proc.stdin.flush()


def l3_bytes() -> int:
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            s = f.read().strip()
        return int(s[:-1]) * (1 << 20 if s.endswith("M") else 1 << 10 if s.endswith("K") else 1)
    except (OSError, ValueError):
        return 0


def progress(total: int):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="measuring", unit="block", file=sys.stderr, leave=False)


def measure(workers: list[Worker], args, threads: int) -> tuple[dict, list[float]]:
    from rrwkv_rt import _core
    for w in workers:  # warm-up: page in the weights, compile, allocate
        w.call(op="prefill", n=32)
        w.call(op="decode", n=4)
    decode = {w.label: [] for w in workers}
    prefill = {w.label: [] for w in workers}
    bandwidth = []
    bar = progress(args.rounds * (len(workers) + 1) + args.repeats * len(workers))
    for r in range(args.rounds):
        bandwidth.append(_core.read_bandwidth(args.bandwidth_mib << 20, threads=threads, repeats=3))
        bar and bar.update()
        for w in workers:
            n = args.pkg_decode_tokens if w.kind == "pkg" else args.decode_tokens
            decode[w.label] += w.call(op="decode", n=n, seed=r)["times"]
            if w.kind == "pkg":
                time.sleep(0.3)  # let torch's worker threads stop spinning before the next runtime
            bar and bar.update()
    for r in range(args.repeats):
        for w in workers:
            prefill[w.label] += w.call(op="prefill", n=args.prefill_len, seed=100 + r)["times"]
            if w.kind == "pkg":
                time.sleep(0.3)
            bar and bar.update()
    bar and bar.close()
    return {w.label: {"decode_ms": 1e3 * float(np.median(decode[w.label])),
                      "prefill_tok_s": args.prefill_len / float(np.median(prefill[w.label]))} for w in workers}, bandwidth


def measure_batches(workers: list[Worker], args) -> dict:
    """Aggregate decode tokens/s of the batched engine per batch size (interleaved rounds); with
    --batch-inexact also of Batch(exact=False) (BLAS on large batches)."""
    sizes = args.batch_sizes
    modes = [True, False] if args.batch_inexact else [True]
    times = {(w.label + ("" if e else " inexact"), b): [] for w in workers for b in sizes for e in modes}
    bar = progress(args.batch_rounds * len(workers) * len(sizes) * len(modes))
    for r in range(args.batch_rounds):
        for w in workers:
            for e in modes:
                for b in sizes:
                    t = w.call(op="batch", size=b, steps=args.batch_steps, seed=r, exact=e)["times"]
                    if t is not None:
                        times[(w.label + ("" if e else " inexact"), b)] += t
                    bar and bar.update()
    bar and bar.close()
    return {k: (k[1] / float(np.median(v)) if v else None) for k, v in times.items()}


def memory(path: str, threads: int, prefill_len: int) -> dict:
    out = subprocess.run([sys.executable, os.path.join(HERE, "benchlib", "memory.py"), path, str(threads),
                          str(prefill_len)], check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mib(x: float) -> str:
    return f"{x / 2**20:.1f} MiB"


def report(args, paths: dict, installations: list[tuple[str, str]]) -> None:
    from rrwkv_rt import _core
    threads = args.threads or len(os.sched_getaffinity(0))
    n_layer, n_embd, vocab = models.SHAPES[args.shape]
    print(f"rrwkv_rt bench: {args.shape} shape (n_layer={n_layer}, n_embd={n_embd}, vocab={vocab}), "
          f"threads={threads}, kernels {_core.cpu_isa()}, BLAS {_core.blas_info()}")
    load_before = os.getloadavg()[0]
    keys = [(a, d) for d in args.dtypes for a in args.archs]
    mem = {}
    if not args.no_memory:
        for key in keys:
            models.evict_from_page_cache(paths[key])
            mem[key] = memory(paths[key], threads, args.prefill_len)
    workers = [Worker(f"{a} {d}" + ("" if inst == "now" else f" [{inst}]"), python, "ours", paths[(a, d)], threads)
               for inst, python in installations for a, d in keys]
    for a in args.archs:
        if ("pth", a) in paths:
            workers.append(Worker(f"pkg {a} fp32", sys.executable, "pkg", paths[("pth", a)], threads, arch=a))
    try:
        speed, bandwidth = measure(workers, args, threads)
        batches = measure_batches([w for w in workers if w.kind == "ours"], args) if args.batch_sizes else {}
    finally:
        for w in workers:
            w.close()
    bw = float(np.median(bandwidth))
    print(f"  load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
          f"CPUs (other processes skew every figure: run it on an idle machine)")
    print(f"  read bandwidth ({threads} threads, {args.bandwidth_mib} MiB buffer, between decode blocks): median "
          f"{bw / 1e9:.1f} GB/s (samples {', '.join(f'{b / 1e9:.1f}' for b in bandwidth)})")
    l3 = l3_bytes()
    print()
    print(f"  {'runtime':<22} {'decode ms/tok':>13} {'floor ms':>9} {'x floor':>8} {'prefill tok/s':>14} "
          f"{'peak RSS':>10} {'anon':>9}")
    for w in workers:
        s = speed[w.label]
        line = f"  {w.label:<22} {s['decode_ms']:>13.2f}"
        if w.kind == "ours":
            floor_ms = 1e3 * w.info["bytes_per_token"] / bw
            cached = " (fits in L3: no DRAM floor)" if w.info["bytes_per_token"] < l3 else ""
            line += f" {floor_ms:>9.2f} {s['decode_ms'] / floor_ms:>8.2f} {s['prefill_tok_s']:>14.0f}"
            m = mem.get(tuple(w.label.split()[:2])) if "[" not in w.label else None
            if m:
                line += f" {_mib(m['peak_kib'] * 1024):>10} {_mib(m['anon_kib'] * 1024):>9}"
            line += cached
        else:
            line += f" {'':>9} {'':>8} {s['prefill_tok_s']:>14.0f}"
        print(line)
    print()
    for inst, _ in installations[1:]:
        for a, d in keys:
            now, then = speed[f"{a} {d}"], speed[f"{a} {d} [{inst}]"]
            print(f"  {a} {d}: now / {inst}: decode {now['decode_ms'] / then['decode_ms']:.3f}x the time, "
                  f"prefill {now['prefill_tok_s'] / then['prefill_tok_s']:.3f}x the speed")
    for a in args.archs:
        pkg, ours = speed.get(f"pkg {a} fp32"), speed.get(f"{a} f32")
        if pkg and ours:
            print(f"  {a} vs the rwkv package (cpu fp32, {threads} threads): decode "
                  f"{pkg['decode_ms'] / ours['decode_ms']:.2f}x faster, prefill "
                  f"{ours['prefill_tok_s'] / pkg['prefill_tok_s']:.2f}x faster")
    if "rwkv4 f32" in speed and "rrwkv f32" in speed:
        print(f"  RRWKV (s={models.MEDIUM_INTERVAL}) / RWKV-4 decode time: "
              f"{speed['rrwkv f32']['decode_ms'] / speed['rwkv4 f32']['decode_ms']:.3f}")
    if ("rwkv4", "f32") in mem:
        m = mem[("rwkv4", "f32")]
        print(f"  memory (rwkv4 f32, after a {args.prefill_len}-token prefill and decode): peak RSS "
              f"{_mib(m['peak_kib'] * 1024)} = interpreter and libraries {_mib(m['baseline_kib'] * 1024)} + resident "
              f"model pages {_mib(m['model_resident_kib'] * 1024)} (file {_mib(m['file_size'])}, mmapped) + anonymous "
              f"{_mib(m['anon_kib'] * 1024)} (state {m['state_bytes'] / 1024:.0f} KiB, scratch, BLAS buffers)")
    if batches:
        print()
        print(f"  batched decode (aggregate tokens/s; x = / batch 1), {threads} threads:")
        labels = [w.label + sfx for w in workers if w.kind == "ours"
                  for sfx in ([""] + ([" inexact"] if args.batch_inexact else []))]
        print("  " + f"{'batch':>5} " + " ".join(f"{lab:>22}" for lab in labels))
        for b in args.batch_sizes:
            cells = []
            for lab in labels:
                v, one = batches.get((lab, b)), batches.get((lab, args.batch_sizes[0]))
                cells.append(f"{v:>12.0f} ({v / one:>5.1f}x)" if v and one else f"{'-':>22}")
            print("  " + f"{b:>5} " + " ".join(f"{c:>22}" for c in cells))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--shape", default="169m", choices=sorted(models.SHAPES))
    p.add_argument("--archs", "--arch", default="rwkv4,rrwkv",
                   help="comma-separated architectures: rwkv4, rrwkv, rwkv5, rwkv6, rwkv7")
    p.add_argument("--dtypes", default="f32", help="comma-separated matrix dtypes to measure: f32, f16, bf16, q8_0, q4_1; a quantized "
                   "one +head (e.g. q4_1+head) quantizes the output head too (by default it stays f16)")
    p.add_argument("--threads", type=int, default=None, help="threads for every runtime (default: all CPUs)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds of bandwidth and decode blocks")
    p.add_argument("--decode-tokens", type=int, default=16, help="decode steps per round (rrwkv_rt)")
    p.add_argument("--pkg-decode-tokens", type=int, default=8, help="decode steps per round (rwkv package)")
    p.add_argument("--prefill-len", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3, help="prefill runs (median)")
    p.add_argument("--bandwidth-mib", type=int, default=512, help="read-bandwidth buffer (larger than the L3)")
    p.add_argument("--batch-sizes", default="", help="e.g. 1,2,4,8,16,32,64: the batched-decode table")
    p.add_argument("--batch-steps", type=int, default=4, help="steps per batch size and round")
    p.add_argument("--batch-rounds", type=int, default=3)
    p.add_argument("--batch-inexact", action="store_true", help="also measure Batch(exact=False) (BLAS on large batches)")
    p.add_argument("--compare", action="append", default=[], metavar="LABEL=PYTHON",
                   help="also measure the rrwkv_rt installed for another interpreter (e.g. a build before a change)")
    p.add_argument("--workdir", default=None, help="where to keep the generated models (default: a temp dir)")
    p.add_argument("--no-rwkv-package", action="store_true", help="skip the official rwkv package")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    args = p.parse_args(argv)
    args.archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    installations = [("now", sys.executable)] + [tuple(c.split("=", 1)) for c in args.compare]
    want_pkg = not args.no_rwkv_package and any(a != "rrwkv" for a in args.archs)
    if want_pkg:
        try:
            import rwkv  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            print("  (the rwkv package or torch is not installed: skipping the comparison)")
            want_pkg = False
    with tempfile.TemporaryDirectory(prefix="rrwkv-bench-") as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        t0 = time.perf_counter()
        paths = models.build(workdir, args.shape, args.archs, args.dtypes, want_pkg)
        print(f"(models ready in {time.perf_counter() - t0:.0f} s under {workdir})")
        report(args, paths, installations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
