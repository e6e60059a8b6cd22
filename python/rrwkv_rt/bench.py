"""CPU benchmark of the runtime (``python -m rrwkv_rt bench``, ``tools/bench.py``).

Builds random models of a given shape (by default a 169M-shaped RWKV-4 and the same shape as
RRWKV with s = 16), then prints, measured in one run on this machine:

* decode ms/token (median of single ``step`` calls),
* prefill tokens/s at T = 512 (median of whole ``forward`` calls),
* peak memory (VmHWM of a process that only runs the runtime), split into the interpreter, the
  resident model-file pages and the anonymous memory the runtime adds (state, scratch, buffers),
* the memory-bandwidth floor of decode: weight bytes read per token / read bandwidth measured
  with the same kernels and thread count, and the ratio to it,
* the official ``rwkv`` package (strategy ``cpu fp32``, same weights, same thread count) and the
  ratios to it.

Memory bandwidth on a shared machine drifts by tens of percent within seconds, so the speed
figures are taken in one process, interleaved: each round measures the bandwidth, then a block of
decode steps of every runtime being compared. Peak memory is measured in a separate process per
model, which runs nothing but the runtime. Figures are medians; nothing here asserts a target.
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

SHAPES = {  # name -> (n_layer, n_embd, vocab)
    "169m": (12, 768, 50277),
    "430m": (24, 1024, 50277),
    "tiny": (4, 256, 5000),
}


# ----------------------------------------------------------------------------------------------
# models

def random_state_dict(n_layer: int, n_embd: int, vocab: int, seed: int = 0, rrwkv: bool = False) -> dict:
    """Official-layout float32 state dict with every parameter random at a sane scale."""
    from .config import ModelConfig
    from .spec import checkpoint_spec
    cfg = ModelConfig(arch="rrwkv" if rrwkv else "rwkv4", n_layer=n_layer, n_embd=n_embd, vocab_size=vocab,
                      medium_interval=16 if rrwkv else 1)
    rng = np.random.default_rng(seed)
    sd = {}
    for name, shape in checkpoint_spec(cfg).items():
        if len(shape) == 2:
            a = rng.standard_normal(shape, dtype=np.float32)
            if name != "emb.weight":
                a *= np.float32(1.0 / np.sqrt(shape[1]))
        elif ".ln" in name or name.startswith("ln_out."):
            a = (np.ones(shape) if name.endswith(".weight") else np.zeros(shape)).astype(np.float32)
        elif "time_decay" in name:
            a = rng.uniform(-3.0, 1.0, shape).astype(np.float32)
        elif "time_first" in name:
            a = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        else:  # time_mix_*, medium_mix_*
            a = rng.uniform(0.0, 1.0, shape).astype(np.float32)
        sd[name] = a
    return sd


def build_models(workdir: str, shape: str, dtypes: list[str], want_pth: bool) -> dict:
    """Writes the .rrwkv files (and the RWKV-4 .pth for the rwkv package); returns their paths."""
    from .config import ModelConfig
    from .export import export_state_dict
    n_layer, n_embd, vocab = SHAPES[shape]
    paths = {}
    for arch in ("rwkv4", "rrwkv"):
        sd = None
        cfg = ModelConfig(arch=arch, n_layer=n_layer, n_embd=n_embd, vocab_size=vocab,
                          medium_interval=16 if arch == "rrwkv" else 1)
        for dtype in dtypes:
            path = os.path.join(workdir, f"{shape}_{arch}_{dtype}.rrwkv")
            if not os.path.exists(path):
                if sd is None:
                    sd = random_state_dict(n_layer, n_embd, vocab, rrwkv=arch == "rrwkv")
                export_state_dict(sd, cfg, path, dtype=dtype, progress=False)
            paths[(arch, dtype)] = path
        pth = os.path.join(workdir, f"{shape}_rwkv4.pth")
        if arch == "rwkv4" and want_pth:
            if not os.path.exists(pth):
                import torch
                if sd is None:
                    sd = random_state_dict(n_layer, n_embd, vocab)
                torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, pth)
            paths["pth"] = pth
    return paths


def evict_from_page_cache(path: str) -> None:
    """Drop a (clean, just written) file from the page cache so that the runtime reads it as it
    would a model on disk: through its mapping, into 2 MiB page-cache folios that the kernel maps
    with huge pages (a file just written sits in small folios; decode then loses ~15% to page
    walks)."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------
# memory (one child process per model)

def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _mapping_rss_kib(path: str) -> int:
    """Resident KiB of the mapping of ``path`` (the model-file pages this process has touched)."""
    total, inside = 0, False
    real = os.path.realpath(path)
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
                inside = len(head) >= 6 and head[-1].startswith("/") and os.path.realpath(head[-1]) == real
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total


def measure_memory(path: str, threads: int | None, prefill_len: int) -> dict:
    """Open the model, prefill ``prefill_len`` tokens and decode a few: the memory it all takes."""
    import rrwkv_rt
    baseline, anon0 = _status_kib("VmRSS"), _status_kib("RssAnon")
    model = rrwkv_rt.Model(path)
    sess = rrwkv_rt.Session(model, threads=threads)
    vocab = model.info["vocab_size"]
    sess.forward(np.random.default_rng(1).integers(0, vocab, prefill_len))
    out = np.empty(vocab, np.float32)
    for t in range(16):
        sess.step(t, out=out)
    return {"peak_kib": _status_kib("VmHWM"), "baseline_kib": baseline, "anon_kib": _status_kib("RssAnon") - anon0,
            "model_resident_kib": _mapping_rss_kib(path), "state_bytes": len(sess.get_state()),
            "file_size": model.info["file_size"]}


def memory_in_child(path: str, threads: int | None, prefill_len: int) -> dict:
    cmd = [sys.executable, "-m", "rrwkv_rt.bench", "--memory-child", path, "--prefill-len", str(prefill_len)]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# speed (one process, interleaved)

class Ours:
    def __init__(self, name: str, path: str, threads: int):
        import rrwkv_rt
        self.name, self.session = name, rrwkv_rt.Session(path, threads=threads)
        self.bytes_per_token = self.session.model.info["decode_bytes_per_token"]
        self.out = np.empty(self.session.model.info["vocab_size"], np.float32)

    def step(self, token: int) -> None:
        self.session.step(token, out=self.out)

    def prefill(self, tokens: np.ndarray) -> None:
        self.session.reset()
        self.session.forward(tokens)


class RwkvPackage:
    """The official package, strategy 'cpu fp32', with its default settings (TorchScript on)."""

    def __init__(self, pth: str, threads: int):
        os.environ.setdefault("RWKV_JIT_ON", "1")
        os.environ.setdefault("RWKV_CUDA_ON", "0")
        import torch
        torch.set_num_threads(threads)
        from rwkv.model import RWKV
        self.torch, self.name, self.state = torch, "rwkv pkg fp32", None
        self.model = RWKV(pth[:-4], "cpu fp32", verbose=False)

    def step(self, token: int) -> None:
        with self.torch.no_grad():
            _, self.state = self.model.forward([token], self.state)

    def prefill(self, tokens: np.ndarray) -> None:
        with self.torch.no_grad():
            self.model.forward(tokens.tolist(), None)


def measure_speed(runners: list, vocab: int, threads: int, args) -> tuple[dict, list[float]]:
    """Median decode ms/token and prefill tokens/s of every runner, and the bandwidth samples."""
    from . import _core
    rng = np.random.default_rng(1)
    prompt = rng.integers(0, vocab, args.prefill_len)
    for r in runners:  # warm-up: page in the weights, compile, allocate
        r.prefill(prompt[:32])
        for t in range(4):
            r.step(t)
    decode = {r.name: [] for r in runners}
    prefill = {r.name: [] for r in runners}
    bandwidth = []
    for _ in range(args.rounds):
        bandwidth.append(_core.read_bandwidth(args.bandwidth_mib << 20, threads=threads, repeats=3))
        for r in runners:
            n = args.decode_tokens if isinstance(r, Ours) else args.pkg_decode_tokens
            r.step(0)  # the other runtime's threads may still be spinning
            for t in rng.integers(0, vocab, n):
                t0 = time.perf_counter()
                r.step(int(t))
                decode[r.name].append(time.perf_counter() - t0)
    for _ in range(args.repeats):
        for r in runners:
            t0 = time.perf_counter()
            r.prefill(prompt)
            prefill[r.name].append(time.perf_counter() - t0)
    result = {r.name: {"decode_ms": 1e3 * float(np.median(decode[r.name])),
                       "decode_ms_p90": 1e3 * float(np.percentile(decode[r.name], 90)),
                       "prefill_tok_s": args.prefill_len / float(np.median(prefill[r.name]))} for r in runners}
    return result, bandwidth


# ----------------------------------------------------------------------------------------------
# report

def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def report(args, paths: dict) -> None:
    from . import _core
    threads = args.threads or len(os.sched_getaffinity(0))
    n_layer, n_embd, vocab = SHAPES[args.shape]
    print(f"rrwkv_rt bench: {args.shape} shape (n_layer={n_layer}, n_embd={n_embd}, vocab={vocab}), "
          f"threads={threads}, kernels {_core.cpu_isa()}")
    print(f"  BLAS for prefill: {_core.blas_info()}")
    load_before = os.getloadavg()[0]
    keys = [(a, d) for d in args.dtypes for a in ("rwkv4", "rrwkv")]
    memory = {}
    for key in keys:
        evict_from_page_cache(paths[key])
        memory[key] = memory_in_child(paths[key], args.threads, args.prefill_len)
    runners = [Ours(f"{a} {d}", paths[(a, d)], threads) for a, d in keys]
    if "pth" in paths:
        runners.append(RwkvPackage(paths["pth"], threads))
    speed, bandwidth = measure_speed(runners, vocab, threads, args)
    bw = float(np.median(bandwidth))
    print(f"  machine load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs (other processes skew every figure: run it on an idle machine)")
    print(f"  read bandwidth ({threads} threads, {args.bandwidth_mib} MiB buffer, between decode blocks): median "
          f"{bw / 1e9:.1f} GB/s (samples {', '.join(f'{b / 1e9:.1f}' for b in bandwidth)})")
    print()
    print(f"  {'model':<14} {'decode ms/tok':>13} {'floor ms':>9} {'x floor':>8} {'prefill tok/s':>14} "
          f"{'peak RSS':>11} {'model file':>11} {'anon':>10}")
    for runner in runners:
        s = speed[runner.name]
        if isinstance(runner, Ours):
            m = memory[tuple(runner.name.split())]
            floor_ms = 1e3 * runner.bytes_per_token / bw
            print(f"  {runner.name:<14} {s['decode_ms']:>13.2f} {floor_ms:>9.2f} {s['decode_ms'] / floor_ms:>8.2f} "
                  f"{s['prefill_tok_s']:>14.0f} {_mib(m['peak_kib']):>11} {_mib(m['file_size'] / 1024):>11} "
                  f"{_mib(m['anon_kib']):>10}")
        else:
            print(f"  {runner.name:<14} {s['decode_ms']:>13.2f} {'':>9} {'':>8} {s['prefill_tok_s']:>14.0f}")
    print()
    ours, rr, pkg = speed["rwkv4 f32"], speed.get("rrwkv f32"), speed.get("rwkv pkg fp32")
    floor_ms = 1e3 * runners[0].bytes_per_token / bw
    print(f"  decode floor (rwkv4 f32): {runners[0].bytes_per_token / 1e6:.1f} MB read per token / {bw / 1e9:.1f} GB/s "
          f"= {floor_ms:.2f} ms; measured {ours['decode_ms']:.2f} ms = {ours['decode_ms'] / floor_ms:.2f}x the floor")
    if rr:
        print(f"  RRWKV (s=16) decode / RWKV-4 decode: {rr['decode_ms'] / ours['decode_ms']:.3f}")
    if pkg:
        print(f"  vs rwkv package (cpu fp32, {threads} threads): decode {pkg['decode_ms'] / ours['decode_ms']:.2f}x "
              f"faster, prefill {ours['prefill_tok_s'] / pkg['prefill_tok_s']:.2f}x faster; the package itself "
              f"decodes at {pkg['decode_ms'] / floor_ms:.2f}x the floor")
    m = memory[("rwkv4", "f32")]
    print(f"  memory (rwkv4 f32, after a {args.prefill_len}-token prefill and decode): peak RSS {_mib(m['peak_kib'])} "
          f"= interpreter and libraries {_mib(m['baseline_kib'])} + resident model pages "
          f"{_mib(m['model_resident_kib'])} (file {_mib(m['file_size'] / 1024)}, mmapped) + anonymous "
          f"{_mib(m['anon_kib'])} (state {m['state_bytes'] / 1024:.0f} KiB, scratch, BLAS buffers) + code pages")


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(prog="rrwkv bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="169m", choices=sorted(SHAPES))
    p.add_argument("--dtypes", default="f32", help="comma-separated matrix dtypes to measure (f32,f16,bf16)")
    p.add_argument("--threads", type=int, default=None, help="threads for both runtimes (default: all CPUs)")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds of bandwidth and decode blocks")
    p.add_argument("--decode-tokens", type=int, default=16, help="decode steps per round (rrwkv_rt)")
    p.add_argument("--pkg-decode-tokens", type=int, default=8, help="decode steps per round (rwkv package)")
    p.add_argument("--prefill-len", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3, help="prefill runs (median)")
    p.add_argument("--bandwidth-mib", type=int, default=256, help="read-bandwidth buffer (much larger than L3)")
    p.add_argument("--workdir", default=None, help="where to keep the generated models (default: a temp dir)")
    p.add_argument("--no-rwkv-package", action="store_true", help="skip the official rwkv package")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    return p


def run(args) -> None:
    if args.memory_child:
        print(json.dumps(measure_memory(args.memory_child, args.threads, args.prefill_len)))
        return
    if isinstance(args.dtypes, str):
        args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if "f32" not in args.dtypes:
        args.dtypes.insert(0, "f32")
    want_pkg = not args.no_rwkv_package
    if want_pkg:
        try:
            import rwkv  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            print("  (the rwkv package or torch is not installed: skipping the comparison)")
            want_pkg = False
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="rrwkv-bench-")
        workdir = tmp.name
    os.makedirs(workdir, exist_ok=True)
    try:
        t0 = time.perf_counter()
        paths = build_models(workdir, args.shape, args.dtypes, want_pkg)
        print(f"(models ready in {time.perf_counter() - t0:.0f} s under {workdir})")
        report(args, paths)
    finally:
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
