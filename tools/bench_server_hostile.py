"""What hostile requests cost `rrwkv serve` (issue 24, items 2-4), measured against a server on
127.0.0.1 that this program starts (`python -m rrwkv_rt serve`, default limits unless named):

    python tools/bench_server_hostile.py stops    # stop strings that keep matching partly
    python tools/bench_server_hostile.py loop     # big prompts vs. the event loop (a BPE-tokenizer model)
    python tools/bench_server_hostile.py cache    # long prompts vs. the prompt cache's budget

* stops: 16 concurrent requests whose text is all "a" (every other byte banned) with four stop
  strings of --stop-bytes bytes (three never match, "aaa...ab" keeps matching partly), and a
  normal greedy 200-token request beside them; peer in the same run: the same 16 without stop
  strings. Medians of --repeats runs.
* loop: GET /health is probed every 20 ms while 4 clients each send one prompt of --prompt-mb
  MiB (8, the size in the issue, and 0.9, under the default --max-prompt-bytes) to a model whose tokenizer is a byte-level BPE tokenizer.json (built here: vocabulary 8000
  trained on the package's sources, random 2-layer RWKV-4); the longest /health answer is the
  time the event loop stood still. Then one body of --huge-mb MiB (chunked, never fully held by
  this program): its status and the time to the answer.
* cache: --prompts random prompts of 32768 token ids each (max_tokens 1) through a server with the
  default --cache-mb 256; the server's resident memory before and after, and what the cache
  says it holds.

Every phase prints the machine's load average. Nothing here asserts; it works against any
version of the server (to compare, run it with PYTHONPATH pointing at another copy).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import served  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _post(base: str, body: dict, timeout: float = 3600) -> tuple[int, float]:
    t0 = time.perf_counter()
    r = httpx.post(base + "/v1/completions", json=body, timeout=timeout)
    return r.status_code, time.perf_counter() - t0


def bench_stops(args) -> None:
    n = args.stop_bytes
    stops = ["z" * n, "y" * n, "x" * n, "a" * (n - 1) + "b"]
    only_a = {str(t): -100 for t in range(256) if t != ord("a")}
    body = {"model": "default", "prompt": "say a: ", "max_tokens": args.max_tokens, "temperature": 0,
            "logit_bias": only_a}
    normal = {"model": "default", "prompt": "def main(", "max_tokens": 200, "temperature": 0}
    with served.serve("--threads", str(args.threads)) as (base, _):
        for label, extra in [("without stop strings", {}), (f"4 stop strings of {n} bytes", {"stop": stops})]:
            walls, beside = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                with ThreadPoolExecutor(17) as pool:
                    many = [pool.submit(_post, base, body | extra) for _ in range(16)]
                    one = pool.submit(_post, base, normal)
                    codes = [f.result()[0] for f in many]
                    beside.append(one.result()[1])
                walls.append(time.perf_counter() - t0)
            print(f"  {label}: 16 x {args.max_tokens} tokens in {statistics.median(walls):.2f} s (median of "
                  f"{args.repeats}; statuses {sorted(set(codes))}), the normal request beside them "
                  f"{statistics.median(beside):.2f} s")


def _bpe_model(folder: str) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from rrwkv_rt.config import ModelConfig
    from rrwkv_rt.io.export import to_runtime_layout
    from rrwkv_rt.io.format import write_model
    from benchlib.models import random_state_dict
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    texts = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "python", "rrwkv_rt")):
        texts += [open(os.path.join(dirpath, f), encoding="utf-8").read() for f in files if f.endswith(".py")]
    hf.train_from_iterator(texts, trainer=trainers.BpeTrainer(
        vocab_size=8000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    cfg = ModelConfig("rwkv4", n_layer=2, n_embd=64, vocab_size=hf.get_vocab_size())
    path = os.path.join(folder, "bpe.rrwkv")
    write_model(path, cfg, to_runtime_layout(random_state_dict(cfg), cfg, "f32"), tokenizer=("hf", hf.to_str().encode()))
    return path


def _health_stall(base: str, work) -> tuple[float, float, list]:
    """(longest, median /health answer in s, work's result) while work() runs in a thread."""
    done = threading.Event()
    out = []

    def run():
        try:
            out.append(work())
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    times = []
    with httpx.Client(timeout=3600) as c:
        while not done.is_set():
            t0 = time.perf_counter()
            c.get(base + "/health")
            times.append(time.perf_counter() - t0)
            time.sleep(0.02)
    return max(times), statistics.median(times), out[0] if out else None


def bench_loop(args) -> None:
    text = "def f(x):\n    return x * 2  # twice\n"
    with tempfile.TemporaryDirectory() as tmp:
        model = _bpe_model(tmp)
        with served.serve(model, "--threads", str(args.threads), "--model-name", "default") as (base, _):
            for mb in (float(x) for x in args.prompt_mb.split(",")):
                size = int(mb * 2**20)
                body = {"model": "default", "prompt": (text * (size // len(text) + 1))[:size], "max_tokens": 1}

                def four():
                    with ThreadPoolExecutor(4) as pool:
                        return [f.result() for f in [pool.submit(_post, base, body) for _ in range(4)]]
                longest, median, results = _health_stall(base, four)
                print(f"  4 prompts of {mb:g} MiB: /health answered in at most {longest:.3f} s (median "
                      f"{median * 1000:.1f} ms); the prompts (status, s): {[(s, round(t, 2)) for s, t in results]}",
                      flush=True)
    with served.serve("--threads", str(args.threads)) as (base, proc):
        head, tail = b'{"model": "default", "max_tokens": 1, "prompt": "', b'"}'
        block = b"x" * (1 << 20)

        def huge():
            def body():
                yield head
                for _ in range(int(args.huge_mb)):
                    yield block
                yield tail
            t0 = time.perf_counter()
            try:
                r = httpx.post(base + "/v1/completions", content=body(), timeout=3600,
                               headers={"content-type": "application/json"})
                return r.status_code, time.perf_counter() - t0
            except httpx.HTTPError as e:  # the server answered early and closed while we were sending
                return type(e).__name__, time.perf_counter() - t0
        longest, median, (status, seconds) = _health_stall(base, huge)
        print(f"  one {args.huge_mb} MiB body (shipped model): answered {status} after {seconds:.2f} s; /health at "
              f"most {longest:.3f} s meanwhile; server resident memory after: {served.rss_mib(proc.pid):.0f} MiB")


def bench_cache(args) -> None:
    rng = np.random.default_rng(0)
    with served.serve("--threads", str(args.threads)) as (base, proc):
        before = served.rss_mib(proc.pid)
        for i in range(args.prompts):
            status, _ = _post(base, {"model": "default", "prompt": rng.integers(0, 256, 32768).tolist(),
                                     "max_tokens": 1})
            assert status == 200, status
        m = served.metrics(base)
        after = served.rss_mib(proc.pid)
        print(f"  {args.prompts} prompts of 32768 tokens, --cache-mb 256: server resident memory {before:.0f} -> "
              f"{after:.0f} MiB (+{after - before:.0f}); the cache says it holds "
              f"{m['rrwkv_prompt_cache_bytes'] / 2**20:.0f} MiB in {m['rrwkv_prompt_cache_entries']:.0f} entries, "
              f"{m.get('rrwkv_prompt_cache_evictions_total', 0):.0f} evicted")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="*", choices=["stops", "loop", "cache"], default=[])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stop-bytes", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=1000)
    ap.add_argument("--prompt-mb", default="8,0.9", help="prompt sizes, MiB (default 8,0.9)")
    ap.add_argument("--huge-mb", type=int, default=300)
    ap.add_argument("--prompts", type=int, default=40)
    args = ap.parse_args()
    import rrwkv_rt
    print(f"rrwkv_rt from {os.path.dirname(rrwkv_rt.__file__)}; load average {served.load_average()}")
    for what in args.what or ["stops", "loop", "cache"]:
        print(f"{what}:", flush=True)
        {"stops": bench_stops, "loop": bench_loop, "cache": bench_cache}[what](args)
        print(f"  load average {served.load_average()}", flush=True)


if __name__ == "__main__":
    main()
