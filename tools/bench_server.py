"""Benchmark of `rrwkv serve`: aggregate generated tokens/s and latency at several numbers of
concurrent streaming clients, beside the batched engine's raw decode throughput at the same
batch sizes, measured in the same run.

    python tools/bench_server.py                       # 169M-shaped RWKV-4, f32, 2 threads, 1/8/32 clients
    python tools/bench_server.py --concurrency 1,8,32 --max-tokens 128 --dtype f16 --arch rrwkv
    python tools/bench_server.py --dtype q8_0 --modes exact,fast   # also `serve --fast`, interleaved

The model is random (tools/benchlib/models.py) with a byte-level tokenizer in its header; the
server runs as a subprocess (`python -m rrwkv_rt serve`, prompt cache off, capacity = the
largest concurrency) and the clients are one asyncio process of httpx streams. Each client
sends `--requests` requests back to back (streaming, a prompt of its own, `max_tokens` each,
bytes >= 0x80 banned through logit_bias so that every token is a whole character and makes one
stream chunk). Per concurrency C, `--rounds` rounds of: the raw engine (Batch.step of C rows, in
this process, the server idle), the server phase, the raw engine again; with --modes exact,fast
that for each mode in turn (`serve` and `serve --fast`, Batch(exact=True / False)), two servers.

Reported: tokens/s = completion tokens / wall time of the phase (prefill of the prompts and all
HTTP work included); TTFT = request sent -> first token received; ITL = gaps between tokens of
one stream. Medians and 99th percentiles; decode / prefill: the share of the phase's wall time the
scheduler spent in Batch.step / Batch.forward (from /metrics; the rest is sampling, HTTP and
waiting); step tok/s: what Batch.step gave inside the server (the raw figure's peer, under the
HTTP side's load). Besides Batch.step's raw tokens/s the table gives the "raw job": the same
work on the engine alone (each prompt prefilled with Batch.forward, then max_tokens steps of
all rows), the peer of the server's figure, which includes reading the prompts. Raw and server phases alternate for `--rounds` rounds. Nothing here asserts a target. The machine may be
shared: the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import models  # noqa: E402


def build_model(workdir: str, shape: str, arch: str, dtype: str) -> str:
    path = os.path.join(workdir, f"{shape}_{arch}_{dtype}_bytes.rrwkv")
    if not os.path.exists(path):
        from rrwkv_rt.io.export import to_runtime_layout
        from rrwkv_rt.io.format import write_model
        from rrwkv_rt.io.dtypes import canonical_dtype
        cfg = models.config(arch, shape)
        sd = models.random_state_dict(cfg)
        write_model(path, cfg, to_runtime_layout(sd, cfg, canonical_dtype(dtype)), tokenizer=("bytes", b""),
                    progress=False)
    models.evict_from_page_cache(path)
    return path


def prompt_of(client: int, k: int) -> str:
    return f"# client {client}, request {k}: def f{client}_{k}(x):\n"


def raw_engine(model, prompts: list[str], steps: int, threads: int, exact: bool = True) -> dict:
    """The batched engine alone, one row per prompt: seconds to prefill the prompts (one
    Batch.forward each) and aggregate tokens/s of Batch.step over the rows."""
    import rrwkv_rt
    size = len(prompts)
    rng = np.random.default_rng(size)
    b = rrwkv_rt.Batch(model, capacity=size, threads=threads, exact=exact)
    rows = [b.add() for _ in range(size)]
    t0 = time.perf_counter()
    for r, p in zip(rows, prompts):
        b.forward(r, np.frombuffer(p.encode(), np.uint8).astype(np.int64))
    prefill_s = time.perf_counter() - t0
    out = np.empty((size, model.vocab_size), np.float32)
    b.step(rows, rng.integers(0, 128, size), out=out)  # warm
    t0 = time.perf_counter()
    for _ in range(steps):
        b.step(rows, rng.integers(0, 128, size), out=out)
    return {"step_tokens_s": size * steps / (time.perf_counter() - t0), "prefill_s": prefill_s}


# ---- the server and its clients ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: str, threads: int, capacity: int, fast: bool = False) -> tuple[subprocess.Popen, str]:
    import httpx
    port = free_port()
    cmd = [sys.executable, "-m", "rrwkv_rt", "serve", path, "--port", str(port), "--threads", str(threads),
           "--capacity", str(capacity), "--max-queue", str(4 * capacity), "--cache-mb", "0",
           "--model-name", "bench", "--log-level", "warning"] + (["--fast"] if fast else [])
    proc = subprocess.Popen(cmd, cwd=tempfile.gettempdir())
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 300:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


BAN_NON_ASCII = {str(b): -100 for b in range(128, 256)}


async def one_request(client, base: str, prompt: str, max_tokens: int) -> dict:
    body = {"model": "bench", "prompt": prompt, "max_tokens": max_tokens, "temperature": 1.0, "top_p": 0.9,
            "seed": abs(hash(prompt)) % 2**31, "stream": True, "stream_options": {"include_usage": True},
            "logit_bias": BAN_NON_ASCII}
    t0 = time.perf_counter()
    times, usage = [], None
    async with client.stream("POST", base + "/v1/completions", json=body) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {await r.aread()}")
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            d = json.loads(line[6:])
            if d.get("usage"):
                usage = d["usage"]
            elif d["choices"] and d["choices"][0]["text"]:
                times.append(time.perf_counter())
    return {"ttft": times[0] - t0 if times else None, "itl": list(np.diff(times)), "chunks": len(times),
            "tokens": usage["completion_tokens"] if usage else 0}


async def warm_up(base: str) -> None:
    import httpx
    async with httpx.AsyncClient(timeout=600) as client:
        await one_request(client, base, "warm up ", 4)


async def clients_phase(base: str, concurrency: int, requests: int, max_tokens: int) -> dict:
    import httpx
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        async def client_loop(c: int) -> list[dict]:
            return [await one_request(client, base, prompt_of(c, k), max_tokens) for k in range(requests)]

        t0 = time.perf_counter()
        results = await asyncio.gather(*(client_loop(c) for c in range(concurrency)))
        wall = time.perf_counter() - t0
    flat = [r for rs in results for r in rs]
    tokens = sum(r["tokens"] for r in flat)
    itl = [g for r in flat for g in r["itl"]]
    ttft = [r["ttft"] for r in flat if r["ttft"] is not None]
    return {"tokens_s": tokens / wall, "ttft": ttft, "itl": itl, "tokens": tokens,
            "chunks_per_token": sum(r["chunks"] for r in flat) / max(tokens, 1), "wall": wall}


def scrape(base: str) -> dict:
    import httpx
    out = {}
    for line in httpx.get(base + "/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def pct(xs, q) -> float:
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def one_round(model, base: str, c: int, args, exact: bool) -> dict:
    """One round at c clients: the raw engine, the server phase, the raw engine again."""
    prompts = [prompt_of(i, k) for k in range(args.requests) for i in range(c)][:c]
    before = raw_engine(model, prompts, args.raw_steps, args.threads, exact)
    m0 = scrape(base)
    srv = asyncio.run(clients_phase(base, c, args.requests, args.max_tokens))
    m1 = scrape(base)
    after = raw_engine(model, prompts, args.raw_steps, args.threads, exact)
    srv["raw"] = (before["step_tokens_s"] + after["step_tokens_s"]) / 2
    # the same job without the server: prefill the prompts, then max_tokens steps of c rows
    prefill_s = (before["prefill_s"] + after["prefill_s"]) / 2
    srv["raw_job"] = c * args.max_tokens / (prefill_s + args.max_tokens * c / srv["raw"])
    for k in ("decode", "prefill"):
        key = f"rrwkv_{k}_seconds_total"
        srv[k + "_share"] = (m1[key] - m0[key]) / srv["wall"]
    srv["step_tokens_s"] = (m1["rrwkv_generated_tokens_total"] - m0["rrwkv_generated_tokens_total"]) / \
        max(m1["rrwkv_decode_seconds_total"] - m0["rrwkv_decode_seconds_total"], 1e-9)
    return srv


def summary(rounds: list[dict]) -> dict:
    med = lambda k: float(np.median([r[k] for r in rounds]))  # noqa: E731
    return {"raw": med("raw"), "tokens_s": med("tokens_s"), "raw_job": med("raw_job"),
            "ratio": float(np.median([r["tokens_s"] / r["raw"] for r in rounds])),
            "ratio_job": float(np.median([r["tokens_s"] / r["raw_job"] for r in rounds])),
            "ttft": [x for r in rounds for x in r["ttft"]], "itl": [x for r in rounds for x in r["itl"]],
            "decode_share": med("decode_share"), "prefill_share": med("prefill_share"),
            "step_tokens_s": med("step_tokens_s")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--shape", default="169m", choices=sorted(models.SHAPES))
    p.add_argument("--arch", default="rwkv4", choices=["rwkv4", "rrwkv"])
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16", "q8_0", "q4_1"])
    p.add_argument("--modes", default="exact", help="comma-separated: exact (serve), fast (serve --fast)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated numbers of concurrent clients")
    p.add_argument("--requests", type=int, default=1, help="requests per client and round, back to back")
    p.add_argument("--rounds", type=int, default=2, help="rounds of (raw engine, server phase) per concurrency")
    p.add_argument("--max-tokens", type=int, default=128, help="tokens generated per request")
    p.add_argument("--raw-steps", type=int, default=24, help="Batch.step calls timed per batch size")
    p.add_argument("--workdir", default=None, help="where to keep the generated model (default: a temp dir)")
    args = p.parse_args(argv)
    sizes = [int(c) for c in args.concurrency.split(",") if c.strip()]

    import rrwkv_rt
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="rrwkv-bench-server-") as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        t0 = time.perf_counter()
        path = build_model(workdir, args.shape, args.arch, args.dtype)
        print(f"model {os.path.basename(path)} ready in {time.perf_counter() - t0:.0f} s")
        model = rrwkv_rt.Model(path)
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        if not modes or set(modes) - {"exact", "fast"}:
            p.error(f"--modes takes exact, fast or both, got {args.modes!r}")
        servers = {}
        rows = []
        try:
            for mode in modes:
                servers[mode] = start_server(path, args.threads, max(sizes), fast=mode == "fast")
                asyncio.run(warm_up(servers[mode][1]))
            for c in sizes:
                rounds = {mode: [] for mode in modes}
                for _ in range(args.rounds):  # raw and server interleaved: the machine's load drifts
                    for mode in modes:
                        rounds[mode].append(one_round(model, servers[mode][1], c, args, exact=mode == "exact"))
                        srv = rounds[mode][-1]
                        print(f"  {mode} {c} clients: raw {srv['raw']:.1f} tokens/s (same job {srv['raw_job']:.1f}), "
                              f"server {srv['tokens_s']:.1f} tokens/s ({srv['tokens']} tokens in {srv['wall']:.1f} s), "
                              f"load {os.getloadavg()[0]:.2f}", flush=True)
                for mode in modes:
                    rows.append((mode, c, summary(rounds[mode])))
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(30)
    print(f"\n{args.shape} {args.arch} {args.dtype}, {args.threads} threads, {args.rounds} rounds of {args.requests} "
          f"request(s) per client, {args.max_tokens} tokens each (streamed):")
    print(f"{'mode':>5} {'clients':>7} {'raw tok/s':>10} {'raw job':>8} {'server tok/s':>13} {'ratio':>6} {'/job':>5} "
          f"{'TTFT p50':>9} {'TTFT p99':>9} {'ITL p50':>8} {'ITL p99':>8} {'decode':>7} {'prefill':>7} {'step tok/s':>10}")
    for mode, c, s in rows:
        print(f"{mode:>5} {c:>7} {s['raw']:>10.1f} {s['raw_job']:>8.1f} {s['tokens_s']:>13.1f} {s['ratio']:>6.0%} "
              f"{s['ratio_job']:>5.0%} {pct(s['ttft'], 50) * 1e3:>7.0f}ms {pct(s['ttft'], 99) * 1e3:>7.0f}ms "
              f"{pct(s['itl'], 50) * 1e3:>6.0f}ms {pct(s['itl'], 99) * 1e3:>6.0f}ms {s['decode_share']:>7.0%} "
              f"{s['prefill_share']:>7.0%} {s['step_tokens_s']:>10.1f}")
    if len(modes) == 2:
        for c in sizes:
            e, f = (next(s for m, cc, s in rows if m == mode and cc == c) for mode in ("exact", "fast"))
            print(f"  {c} clients: server tokens/s fast / exact {f['tokens_s'] / e['tokens_s']:.2f}x, "
                  f"raw Batch.step fast / exact {f['raw'] / e['raw']:.2f}x")
    print("(medians over rounds; raw: Batch.step alone, measured before and after each server phase; raw job: the\n"
          " same job on the engine alone (prefill of the same prompts, then the steps); ratio, /job: medians of the\n"
          " rounds' server/raw and server/raw job; decode / prefill: share of the server phase's wall time in Batch.step / prefill;\n"
          " step tok/s: tokens per second of Batch.step inside the server)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
