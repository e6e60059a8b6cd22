"""``rrwkv bench [MODEL]``: how fast the runtime runs *your* model file on this machine.

    rrwkv bench model.rrwkv --threads 8 --batch-sizes 1,8,32 --prompt-len 512

Decode ms/token beside its memory-bandwidth floor (the model's decode bytes per token over the
read bandwidth measured in the same rounds), prefill tokens/s, batched-decode tokens/s and peak
memory, with the measuring code of tools/bench.py (rrwkv_rt/bench/measure.py). Progress goes to
stderr (a bar on a terminal), the figures to stdout.
"""
from __future__ import annotations

import argparse
import os
import sys

from .device import add_device_argument
from .formatting import DefaultsHelpFormatter


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,8,32, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be >= 1, got {text!r}")
    return values


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure decode, prefill and batched speed and memory of a model file",
                       formatter_class=DefaultsHelpFormatter, description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help=".rrwkv model file (default: the model shipped with the package)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: all available)")
    p.add_argument("--batch-sizes", type=_int_list, default=[1, 8], metavar="B,B,...",
                   help="batched-decode sizes to measure (empty: none)")
    p.add_argument("--prompt-len", type=int, default=512, metavar="T", help="prompt length of the prefill measure")
    add_device_argument(p)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of bandwidth and decode blocks")
    p.add_argument("--decode-tokens", type=int, default=16, help="decode steps per round")
    p.add_argument("--repeats", type=int, default=3, help="prefill runs (median)")
    p.add_argument("--bandwidth-mib", type=int, default=512,
                   help="read-bandwidth buffer for the DRAM floor, MiB (a model that fits in the L3 cache is "
                        "measured against a buffer of its own size)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measure (a child process)")
    p.set_defaults(func=cmd_bench)


def _settings(args) -> argparse.Namespace:
    """The attribute names rrwkv_rt.bench.measure reads (tools/bench.py's options)."""
    return argparse.Namespace(rounds=args.rounds, repeats=args.repeats, decode_tokens=args.decode_tokens,
                              pkg_decode_tokens=args.decode_tokens, prefill_len=args.prompt_len,
                              bandwidth_mib=args.bandwidth_mib, batch_sizes=args.batch_sizes, batch_steps=4,
                              batch_rounds=3, batch_inexact=False, device=args.device)


def _check(args) -> None:
    for name in ("threads", "prompt_len", "rounds", "decode_tokens", "repeats", "bandwidth_mib"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def cmd_bench(args) -> None:
    from .. import _core
    from ..bench import measure as m
    from ..bench.progress import phase
    from ..io import precision
    from ..runtime.generate import default_model_path
    _check(args)
    args.device = m.resolve_auto(args.device)
    path = args.model or default_model_path()
    f = _core.ModelFile(path)  # a missing or bad file is a one-line error before any child starts
    threads = args.threads or len(os.sched_getaffinity(0))
    s = _settings(args)
    cfg = f.config
    dtypes = {t["name"]: t["dtype"] for t in f.tensors}
    print(f"rrwkv bench {path}: {cfg['arch']}, {cfg['n_layer']} layers, n_embd {cfg['n_embd']}, vocab "
          f"{cfg['vocab_size']}, {precision.describe(dtypes, _core.runtime_layout(cfg))}, "
          f"{f.file_size / 2**20:.1f} MiB")
    print(f"  {args.device}, {threads} threads, kernels {_core.cpu_isa()}, BLAS {_core.blas_info()}")
    load_before = os.getloadavg()[0]
    # the worker first: it says at once if it cannot run on --device; it waits while memory is measured
    worker = m.start_workers([("model", sys.executable, "ours", os.path.abspath(path), threads, "", None, args.device)])
    w = worker[0]
    if w.info.get("device", "cpu") != "cpu":
        print(f"  runs on {w.info['device']}: {_core.cuda_status()}")
    if w.info.get("emulated"):
        print("  EMULATED GPU (HIP-CPU, a test build): the kernels run on the CPU, so these figures say nothing about "
              "a GPU's speed; they only show that the GPU path runs")
    try:
        mem = None
        if not args.no_memory and not m.on_gpu(s):  # the peak-memory child measures the CPU's memory
            phase(f"peak memory (a child process: a {s.prefill_len}-token prefill, 16 steps)")
            mem = m.memory(os.path.abspath(path), threads, s.prefill_len)
        speed, bandwidth = m.measure(worker, s, threads)
        batches = m.measure_batches(worker, s) if s.batch_sizes else {}
    finally:
        m.close_all(worker)
    phase("done")
    _report(worker[0], speed["model"], bandwidth, batches, mem, s)
    m.load_line(load_before)


def _report(w, speed: dict, bandwidth: dict, batches: dict, mem: dict | None, s) -> None:
    from ..bench import measure as m
    size = m.floor_buffer(w, s)
    bw = m.floor_bandwidth(bandwidth[size], size, m.on_gpu(s))
    per_token = w.info["bytes_per_token"]
    floor_ms = 1e3 * per_token / bw
    where = (f"device memory: a device-to-device copy, read + written, median of {len(bandwidth[size])} rounds on "
             f"{size / 2**20:.0f} MiB" if m.on_gpu(s) else
             f"the L3 cache's best round on a {size / 2**20:.0f} MiB buffer" if per_token < m.l3_bytes() else
             f"DRAM, median of {len(bandwidth[size])} rounds on {size / 2**20:.0f} MiB")
    print(f"  decode:   {speed['decode_ms']:.2f} ms/token ({1e3 / speed['decode_ms']:.1f} tokens/s); floor "
          f"{floor_ms:.2f} ms = {per_token / 2**20:.1f} MiB read per token / {bw / 1e9:.1f} GB/s ({where}): "
          f"{speed['decode_ms'] / floor_ms:.2f}x the floor")
    print(f"  prefill:  {speed['prefill_tok_s']:.0f} tokens/s (a {s.prefill_len}-token prompt, median of {s.repeats})")
    if batches:
        one = batches.get(("model", s.batch_sizes[0]))
        cells = [f"{b}: {v:.0f}" + (f" ({v / one:.1f}x)" if one and b != s.batch_sizes[0] else "")
                 for b in s.batch_sizes if (v := batches.get(("model", b)))]
        print(f"  batched decode, tokens/s by batch size: {', '.join(cells)}")
    if mem:
        print(f"  memory:   peak RSS {mem['peak_kib'] / 1024:.1f} MiB = interpreter and libraries "
              f"{mem['baseline_kib'] / 1024:.1f} MiB + model pages {mem['model_resident_kib'] / 1024:.1f} MiB "
              f"(mmapped) + anonymous {mem['anon_kib'] / 1024:.1f} MiB (state {mem['state_bytes'] / 1024:.0f} KiB, "
              "scratch, BLAS buffers)")
