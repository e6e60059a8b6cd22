"""What structured output costs a server: aggregate generated tokens/s of `rrwkv serve` with and
without a JSON schema, at 1 and 8 concurrent clients, in the same run on the same server.

    python tools/bench_structured.py                 # the shipped model (256 byte tokens)
    python tools/bench_structured.py --world         # also a random 1-layer model with the World
                                                     # tokenizer (65k tokens: the mask's worst case)

Each client sends non-streaming completions of exactly --max-tokens tokens: free text, or JSON
under a schema whose texts are longer than that (an array of 40 strings), so both end at the
limit and the same number of tokens is timed. Rounds alternate free / schema; the medians of
--rounds rounds are printed with the ratio schema / free. The grammar masks are computed on a
helper thread while Batch.step runs (server/grammar.py), so the ratio shows what is left on the
critical path. The load average before and after is printed: on a shared machine every figure
is noisy, compare only the ratio of one run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import served  # noqa: E402

SCHEMA = {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 40, "maxItems": 40}


async def _round(base: str, model: str, clients: int, per_client: int, max_tokens: int, schema: bool) -> float:
    body = {"model": model, "prompt": "names = ", "max_tokens": max_tokens, "temperature": 1.0, "top_p": 0.9}
    if schema:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "names", "schema": SCHEMA}}
    tokens = 0

    async def client(i: int) -> None:
        nonlocal tokens
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            for j in range(per_client):
                r = await c.post("/v1/completions", json=body | {"seed": 1000 * i + j})
                r.raise_for_status()
                tokens += r.json()["usage"]["completion_tokens"]

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return tokens / (time.perf_counter() - t0)


def bench(label: str, base: str, model: str, args) -> None:
    for clients in (1, 8):
        free, constrained = [], []
        asyncio.run(_round(base, model, clients, 1, 16, True))  # warm: the grammar vocabulary is built once
        for _ in range(args.rounds):
            free.append(asyncio.run(_round(base, model, clients, args.requests, args.max_tokens, False)))
            constrained.append(asyncio.run(_round(base, model, clients, args.requests, args.max_tokens, True)))
        f, c = statistics.median(free), statistics.median(constrained)
        print(f"{label:>28} | {clients:>7} | {f:10.1f} | {c:10.1f} | {c / f:6.1%}", flush=True)


def world_model(folder: str) -> str:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "server"))
    from srv_models import world_model as make
    return make(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2, help="requests per client per round (default 2)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--world", action="store_true", help="also a random model with the World tokenizer")
    args = ap.parse_args()
    print(f"load average before: {served.load_average()}; {args.rounds} rounds of {args.requests} requests of "
          f"{args.max_tokens} tokens per client, server --threads {args.threads}")
    print(f"{'model':>28} | clients | free tok/s | JSON tok/s | JSON / free")
    flags = ["--threads", str(args.threads), "--capacity", "8", "--cache-mb", "0"]
    with served.serve(*flags) as (base, _):
        bench("shipped (256 tokens)", base, "default", args)
    if args.world:
        with tempfile.TemporaryDirectory() as tmp:
            with served.serve(world_model(tmp), "--model-name", "world", *flags) as (base, _):
                bench("random World (65530 tokens)", base, "world", args)
    print(f"load average after: {served.load_average()}")


if __name__ == "__main__":
    main()
