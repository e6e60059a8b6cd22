"""The measuring code of the benchmarks, shared by ``rrwkv bench MODEL`` (cli/bench.py) and
tools/bench.py (which adds the peer comparisons: the official `rwkv` package, other installations,
BLAS on / off).

Every runtime runs in its own worker process (``worker.py``, driven over stdin/stdout), and all
are measured in one run, interleaved: each round measures the read bandwidth, then a block of
decode steps of every worker, because memory bandwidth on a shared machine drifts by tens of
percent within seconds. Figures are medians. The floor of decode is the model's decode bytes per
token over the measured read bandwidth of a buffer that size; on a GPU (``args.device``) over the
device memory's copy bandwidth, measured the same way. Peak memory is measured in a child
process that runs nothing but the runtime (``memory.py``). ``args`` is any object with the
settings' attribute names (an argparse namespace of either program).
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .progress import Bar, phase

HERE = os.path.dirname(os.path.abspath(__file__))


class Worker:
    """A runtime in a child process (worker.py, run by file so that another interpreter runs it
    with its own rrwkv_rt), run by `python` with `env` added."""

    def __init__(self, label: str, python: str, kind: str, path: str, threads: int, arch: str = "",
                 env: dict | None = None, device: str = "cpu", read_into_memory: bool = False):
        self.label, self.kind = label, kind
        env = {**os.environ, **(env or {})}
        if python != sys.executable:  # another installation: none of this one's PYTHONPATH
            env["PYTHONPATH"] = ""
        self.proc = subprocess.Popen([python, os.path.join(HERE, "worker.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir(), env=env)
        self.info = self.call(op="open", kind=kind, path=path, threads=threads, arch=arch, device=device,
                              read_into_memory=read_into_memory)
        if "error" in self.info:
            self.close()
            raise ValueError(self.info["error"])

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker {self.label!r} died (see its stderr above)")
        return json.loads(line)

    def prefill_s(self, n: int, seed: int, exact: bool = True) -> float | None:
        """Seconds of an n-token prefill; None where this installation has no fast path."""
        times = self.call(op="prefill", n=n, seed=seed, exact=exact)["times"]
        return times[0] if times else None

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.flush()
        finally:
            self.proc.wait(timeout=30)


def start_workers(specs: list[tuple]) -> list[Worker]:
    """Worker(*spec) for each spec, with a status line each: opening the package's model takes seconds."""
    workers = []
    for spec in specs:
        phase(f"starting worker {spec[0]!r}")
        workers.append(Worker(*spec))
    return workers


def close_all(workers: list[Worker]) -> None:
    for w in workers:
        w.close()


def settle(w: Worker) -> None:
    if w.kind == "pkg":
        time.sleep(0.3)  # let torch's worker threads stop spinning before the next runtime


@functools.lru_cache(maxsize=None)  # asked for every floor sample; the cache does not change
def l3_bytes() -> int:
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            s = f.read().strip()
        return int(s[:-1]) * (1 << 20 if s.endswith("M") else 1 << 10 if s.endswith("K") else 1)
    except (OSError, ValueError):
        return 0


def resolve_auto(device: str) -> str:
    """"auto" as the runtime resolves it (asked of the runtime: a one-row batch of the shipped
    model, which also gives its one-line notice), so that the floor, the peer and the memory
    measure follow where the workers really run; other names unchanged (the workers report
    their errors)."""
    if device != "auto":
        return device
    from rrwkv_rt import Batch, default_model_path
    return Batch(default_model_path(), 1, threads=1, device=device).device


def on_gpu(args) -> bool:
    """Whether the runtimes run on a CUDA device (--device), whose floor is the device memory's."""
    return getattr(args, "device", "cpu") != "cpu"


def device_bandwidth(nbytes: int, repeats: int = 5) -> float:
    """Bytes per second a device-to-device copy of nbytes moves on cuda:0 (read plus written), the
    median of `repeats`: timed by CUDA events through torch where torch has CUDA, else by
    rrwkv_rt's own copy (_core.device_copy_bandwidth, e.g. on the emulated device)."""
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        from rrwkv_rt import _core
        return _core.device_copy_bandwidth(nbytes, repeats)
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del src, dst
    torch.cuda.empty_cache()  # the workers' memory, not the parent's
    return 2.0 * nbytes / float(np.median(times))


def floor_buffer(w: Worker, args) -> int:
    """Bytes of the buffer whose read bandwidth is `w`'s floor: the DRAM buffer (--bandwidth-mib)
    for a model larger than the L3 (on a GPU: always, the device memory's copy bandwidth); else
    one of the model's decode bytes per token, so that it gets the cache's bandwidth, not DRAM's
    (whole MiB: models of about one size share it)."""
    if on_gpu(args) or w.info["bytes_per_token"] >= l3_bytes():
        return args.bandwidth_mib << 20
    return max(1, round(w.info["bytes_per_token"] / 2**20)) << 20


def floor_bandwidth(samples: list[float], size: int, gpu: bool = False) -> float:
    """The bandwidth a floor divides by: the median of the rounds for DRAM (which drifts by tens of
    percent within seconds on a shared machine); the best round for a buffer that fits in the L3,
    whose passes last a millisecond and halve whenever one of the threads is preempted (a floor
    is a bound: the fastest this machine read those bytes in this run)."""
    return float(max(samples) if size < l3_bytes() and not gpu else np.median(samples))


def bandwidth_repeats(size: int, args) -> int:
    """Passes over the buffer: 3 over the DRAM one, more over a small one (about as many bytes in
    all), whose passes last a millisecond or two and whose median one preemption would skew."""
    return max(3, min(64, 3 * (args.bandwidth_mib << 20) // size))


def warm_up(workers: list[Worker], prefill_len: int, fast: bool = False) -> None:
    """Page in the weights and allocate the scratch and BLAS buffers, with a prefill of the
    measured length, so that no measured prefill is the first of its size; with ``fast`` also a
    fast prefill, which packs the weights for the fast kernels (once per model: docs/FAST_PATH.md)."""
    bar = Bar(f"warm-up (a {prefill_len}-token prefill and 4 steps)", len(workers), 1, step="worker")
    for i, w in enumerate(workers):
        bar.round(i)
        w.call(op="prefill", n=prefill_len)
        if fast and w.info.get("fast_kernels"):
            w.call(op="prefill", n=prefill_len, exact=False)
        w.call(op="decode", n=4)
        settle(w)
        bar.update()
    bar.close()


def fast_wanted(args) -> bool:
    """Whether to measure the fast path (exact=False) too: --fast (alias --batch-inexact)."""
    return bool(getattr(args, "fast", False) or getattr(args, "batch_inexact", False))


def measure(workers: list[Worker], args, threads: int) -> tuple[dict, dict]:
    """Decode ms/token and prefill tokens/s per worker (with the fast path wanted, also its
    prefill: "fast_prefill_tok_s", None where an installation has none); read bandwidth samples
    per buffer size (on a GPU, ``args.device``: device-to-device copy bandwidth). Each round: the bandwidths, a decode block of every worker, a prefill of
    every worker (and its fast prefill)."""
    from rrwkv_rt import _core
    warm_up(workers, args.prefill_len, fast=fast_wanted(args))
    decode = {w.label: [] for w in workers}
    prefill = {w.label: [] for w in workers}
    # installations before the fast path ignore the option (their prefill is exact): not asked
    fast = {w.label: [] for w in workers if w.info.get("fast_kernels")} if fast_wanted(args) else {}
    sizes = sorted({args.bandwidth_mib << 20} | {floor_buffer(w, args) for w in workers if w.kind == "ours"})
    gpu = on_gpu(args)
    bandwidth = {s: [] for s in sizes}
    rounds = max(args.rounds, args.repeats)
    bar = Bar("decode and prefill", rounds, 1 + 2 * len(workers) + len(fast))
    for r in range(rounds):
        bar.round(r)
        if r < args.rounds:
            for s in sizes:
                bandwidth[s].append(device_bandwidth(s) if gpu else
                                    _core.read_bandwidth(s, threads=threads, repeats=bandwidth_repeats(s, args)))
            bar.update()
            for w in workers:
                n = args.pkg_decode_tokens if w.kind == "pkg" else args.decode_tokens
                decode[w.label] += w.call(op="decode", n=n, seed=r)["times"]
                settle(w)
                bar.update()
        if r < args.repeats:
            for w in workers:
                prefill[w.label].append(w.prefill_s(args.prefill_len, seed=100 + r))
                settle(w)
                bar.update()
                if w.label in fast:
                    t = w.prefill_s(args.prefill_len, seed=100 + r, exact=False)
                    if t is not None:
                        fast[w.label].append(t)
                    bar.update()
    bar.close()
    out = {w.label: {"decode_ms": 1e3 * float(np.median(decode[w.label])),
                     "prefill_tok_s": args.prefill_len / float(np.median(prefill[w.label]))} for w in workers}
    for label, times in fast.items():
        out[label]["fast_prefill_tok_s"] = args.prefill_len / float(np.median(times)) if times else None
    return out, bandwidth


FAST = " fast"  # the label suffix of the fast path's figures


def peak_instructions(workers: list[Worker]) -> list[str]:
    """The instructions the workers' fast kernels run on (their compute peaks are measured)."""
    found = set()
    for w in workers:
        for _, instruction in w.info.get("fast_kernels", {}).values():
            if instruction:
                found.add(instruction)
    return sorted(found)


def measure_batches(workers: list[Worker], args, threads: int | None = None) -> dict:
    """Aggregate decode tokens/s of the batched engine per batch size, keys (label, size), in
    interleaved rounds; with the fast path wanted also Batch(exact=False), keys (label + FAST,
    size), and the compute peaks of its instructions, keys ("peak", instruction), multiply-adds
    per second on `threads` threads (measured at the start of every round, median)."""
    from rrwkv_rt import _core
    sizes = args.batch_sizes
    modes = [True, False] if fast_wanted(args) else [True]
    instructions = peak_instructions(workers) if fast_wanted(args) and hasattr(_core, "compute_peak") else []
    times = {(w.label + ("" if e else FAST), b): [] for w in workers for b in sizes for e in modes}
    peaks = {i: [] for i in instructions}
    bar = Bar("batched decode", args.batch_rounds, len(workers) * len(sizes) * len(modes) + 1)
    for r in range(args.batch_rounds):
        bar.round(r)
        for i in instructions:
            peaks[i].append(_core.compute_peak(i, threads=threads, seconds=0.1))
        bar.update()
        for w in workers:
            for e in modes:
                for b in sizes:
                    t = w.call(op="batch", size=b, steps=args.batch_steps, seed=r, exact=e)["times"]
                    if t is not None:
                        times[(w.label + ("" if e else FAST), b)] += t
                    bar.update()
    bar.close()
    out = {k: (k[1] / float(np.median(v)) if v else None) for k, v in times.items()}
    out.update({("peak", i): float(np.median(v)) for i, v in peaks.items()})
    return out


def peak_fraction(w: Worker, tok_s: float, batches: dict) -> float | None:
    """The fraction of the compute peak a fast batch reached: the time the model's multiply-adds
    per token would take at the peak of the instruction each family's kernels use, times tokens/s."""
    ideal = 0.0
    for family, macs in w.info.get("macs_per_token", {}).items():
        if not macs:
            continue
        instruction = w.info.get("fast_kernels", {}).get(family, ("", ""))[1]
        peak = batches.get(("peak", instruction))
        if not peak:
            return None
        ideal += macs / peak
    return ideal * tok_s if ideal else None


def memory(path: str, threads: int, prefill_len: int) -> dict:
    out = subprocess.run([sys.executable, os.path.join(HERE, "memory.py"), path, str(threads),
                          str(prefill_len)], check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_line(load_before: float) -> None:
    print(f"  load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
          f"CPUs (other processes skew every figure: run it on an idle machine)")
    if load_before >= 0.5:
        # every parallel region waits for its slowest thread: one busy CPU slows all threads
        print("  warning: the machine was busy before the run: with a thread on every CPU each parallel region waits "
              "for a preempted thread, so prefill can come out at half its idle speed or less; compare figures only "
              "within one run")
