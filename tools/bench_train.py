#!/usr/bin/env python3
"""Training speed of the WKV kernels (csrc/kernels/wkv) against the pure-PyTorch scan.

Prints, on the CPU and (when torch sees one) on a CUDA GPU:
  * WKV forward+backward tokens/s: kernels vs reference.wkv_scan under autograd;
  * a whole training step (forward, cross-entropy, backward, AdamW) of a small model, tokens/s,
    with RWKV.wkv_impl on the kernels vs on the pure-PyTorch scan;
  * the cost of RRWKV (s = 16) over RWKV-4 on the kernel path, for both (target: <= 15% slower);
  * GPU only: WKV forward+backward time at B=8, T=4096, C=4096 (bf16 in/out) beside its
    memory-traffic floor: the bytes that must move (read k, v; write y; read k, v, dy; write dk,
    dv) over the bandwidth of a device-to-device copy measured in the same run.

    python tools/bench_train.py [--quick] [--threads N] [--no-gpu]
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from rrwkv_rt import _core
from rrwkv_rt.config import ModelConfig
from rrwkv_rt.autograd import use_kernels, wkv_scan_kernel
from rrwkv_rt.reference import initial_wkv_state, random_model, wkv_scan

S = 16  # medium interval of the RRWKV rows


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, reps, warmup=1):
    """Smallest wall time of fn() over reps runs (after warmup), in seconds."""
    for _ in range(warmup):
        fn()
    sync(device)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def best_times(fns, device, reps):
    """best_time of several functions, their runs interleaved so that load changes hit all alike."""
    for fn in fns.values():
        fn()
    sync(device)
    best = {name: float("inf") for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def wkv_inputs(B, T, C, medium, device, dtype):
    """Inputs shaped and scaled like the model's (decay schedule of RWKV-LM, O(1) keys)."""
    g = torch.Generator().manual_seed(0)
    h = torch.arange(C, dtype=torch.float32) / max(C - 1, 1)
    w = torch.exp(-5 + 8 * h ** 0.7)
    u = torch.full((C,), -1.2) + 0.5 * ((torch.arange(C) + 1) % 3 - 1)
    k = 2 * torch.randn(B, T, C, generator=g)
    v = torch.randn(B, T, C, generator=g)
    wm = bm = km = vm = None
    if medium:
        J = T // S
        wm, bm = w.flip(0).clone(), torch.full((C,), -1.2)
        km, vm = 2 * torch.randn(B, J, C, generator=g), torch.randn(B, J, C, generator=g)
    ps = [w, u, wm, bm]
    acts = [k, v, km, vm]
    ps = [None if t is None else t.to(device).requires_grad_() for t in ps]
    acts = [None if t is None else t.to(device=device, dtype=dtype).requires_grad_() for t in acts]
    w, u, wm, bm = ps
    k, v, km, vm = acts
    return [w, u, k, v, wm, bm, km, vm]


def wkv_step_fn(scan, ins, s):
    B, T, C = ins[2].shape
    st = initial_wkv_state(B, C, torch.float32, ins[2].device)
    xs = [t for t in ins if t is not None]

    def run():
        y, _ = scan(*ins, st, 0, s)
        torch.autograd.grad(y, xs, torch.ones_like(y))
    return run


def bench_wkv(device, shape, reps, with_torch, dtype=torch.float32):
    B, T, C = shape
    print(f"\nWKV forward+backward, {device.type}, B={B} T={T} C={C}, {str(dtype).replace('torch.', '')}")
    print(f"  {'arch':<14}{'kernels tok/s':>16}{'pure torch tok/s':>18}{'speedup':>10}")
    archs = (("rwkv4", False, 1), (f"rrwkv s={S}", True, S))
    inputs = {name: (wkv_inputs(B, T, C, medium, device, dtype), s) for name, medium, s in archs}
    kern = best_times({name: wkv_step_fn(wkv_scan_kernel, *a) for name, a in inputs.items()}, device, reps)
    for name, (ins, s) in inputs.items():
        tk = kern[name]
        tt = best_time(wkv_step_fn(wkv_scan, ins, s), device, 2, warmup=0) if with_torch else None
        line = f"  {name:<14}{B * T / tk:>16,.0f}"
        line += f"{B * T / tt:>18,.0f}{tt / tk:>9.1f}x" if tt else f"{'(skipped)':>18}"
        print(line)
    print(f"  RRWKV s={S} / RWKV-4 time on the kernels: {kern[f'rrwkv s={S}'] / kern['rwkv4']:.3f}")


def train_step_fn(model, tokens):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def run():
        logits = model(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return run


def bench_model(device, n_layer, C, B, T, reps, with_torch):
    V = 1024
    print(f"\nTraining step (fwd + CE + bwd + AdamW), {device.type}, n_layer={n_layer} n_embd={C} vocab={V}, "
          f"B={B} T={T}")
    print(f"  {'arch':<14}{'kernels tok/s':>16}{'pure torch tok/s':>18}{'speedup':>10}")
    tokens = torch.randint(0, V, (B, T + 1), generator=torch.Generator().manual_seed(0)).to(device)
    models = {}
    for name, arch, s in (("rwkv4", "rwkv4", 1), (f"rrwkv s={S}", "rrwkv", S)):
        cfg = ModelConfig(arch=arch, n_layer=n_layer, n_embd=C, vocab_size=V, ffn_dim=0, medium_interval=s)
        models[name] = random_model(cfg, seed=0).to(device).train()
    kern = best_times({name: train_step_fn(use_kernels(m, True), tokens) for name, m in models.items()},
                      device, reps)
    for name, model in models.items():
        tk = kern[name]
        tt = None
        if with_torch:
            tt = best_time(train_step_fn(use_kernels(model, False), tokens), device, 2, warmup=0)
        line = f"  {name:<14}{B * T / tk:>16,.0f}"
        line += f"{B * T / tt:>18,.0f}{tt / tk:>9.1f}x" if tt else f"{'(skipped)':>18}"
        print(line)
    ratio = kern[f"rrwkv s={S}"] / kern["rwkv4"]
    print(f"  RRWKV s={S} / RWKV-4 step time on the kernels: {ratio:.3f} "
          f"({'within' if ratio <= 1.15 else 'OVER'} the 1.15 target)")


def copy_bandwidth(device, nbytes=1 << 30):
    """Device-to-device copy bandwidth in bytes/s (each copied byte is read once and written once)."""
    a = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    t = best_time(lambda: b.copy_(a), device, 10, warmup=2)
    del a, b
    return 2 * nbytes / t


def bench_gpu_floor(device, B=8, T=4096, C=4096):
    print(f"\nWKV forward+backward at B={B} T={T} C={C}, bf16 in/out (f32 math), {torch.cuda.get_device_name(device)}")
    bw = copy_bandwidth(device)
    for name, medium, s in (("rwkv4", False, 1), (f"rrwkv s={S}", True, S)):
        ins = wkv_inputs(B, T, C, medium, device, torch.bfloat16)
        st = initial_wkv_state(B, C, torch.float32, device)
        xs = [t for t in ins if t is not None]
        gy = torch.randn(B, T, C, device=device, dtype=torch.bfloat16)

        def fwd():
            return wkv_scan_kernel(*ins, st, 0, s)[0]

        def fwd_bwd():
            torch.autograd.grad(fwd(), xs, gy)

        with torch.no_grad():
            t_f = best_time(fwd, device, 5)
        t_fb = best_time(fwd_bwd, device, 5)
        n = B * T * C * 2  # bytes of one (B, T, C) bf16 tensor
        J = T // S if medium else 0
        med = B * J * C * 2 * 4 if medium else 0  # km, vm read twice, dkm, dvm written
        floor_bytes = 8 * n + med
        print(f"  {name:<14} forward {t_f * 1e3:7.2f} ms   forward+backward {t_fb * 1e3:7.2f} ms   "
              f"memory floor {floor_bytes / bw * 1e3:6.2f} ms ({floor_bytes / 1e9:.2f} GB at {bw / 1e9:,.0f} GB/s "
              f"copy bandwidth): {t_fb / (floor_bytes / bw):.1f}x the floor")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller shapes and fewer repetitions")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-gpu", action="store_true", help="skip the CUDA section")
    ap.add_argument("--no-torch", action="store_true", help="skip the (slow) pure-PyTorch baselines")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    reps = 3 if args.quick else 15
    with_torch = not args.no_torch
    print(f"rrwkv_rt {_core.__version__}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"{_core.cuda_status()}")

    cpu = torch.device("cpu")
    bench_wkv(cpu, (4, 128, 128) if args.quick else (8, 256, 256), reps, with_torch)
    bench_model(cpu, 2 if args.quick else 4, 128 if args.quick else 256, 4, 64 if args.quick else 128, reps,
                with_torch)

    if args.no_gpu or not torch.cuda.is_available() or _core.cuda_device_count() == 0:
        print("\nCUDA section skipped: " + ("--no-gpu" if args.no_gpu else
              f"torch.cuda.is_available()={torch.cuda.is_available()}, {_core.cuda_status()}"))
        return 0
    gpu = torch.device("cuda", torch.cuda.current_device())
    for dtype in (torch.float32, torch.bfloat16):
        bench_wkv(gpu, (8, 1024, 1024), reps, with_torch and dtype == torch.float32, dtype)
    bench_model(gpu, 6, 512, 8, 512, reps, with_torch)
    bench_gpu_floor(gpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
