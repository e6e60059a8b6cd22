"""Soak run of `rrwkv serve`: normal clients beside hostile ones (tools/benchlib/abuse.py, the same
mix as tests/server/test_abuse.py) for as long as asked, on the shipped model, 127.0.0.1 only.

    python tools/soak_server.py                       # 5 minutes
    python tools/soak_server.py --duration 3600 --normal-clients 8 --hostile-clients 4

Rounds of requests run back to back; after each, the server is let go idle and one line is
printed: the round's wall time, normal requests and their latency (median, 99th percentile),
attacks run, anything a client did not expect, rows in use and requests waiting once idle, the
server's resident memory. At the end every normal response is compared with Session.generate
(each distinct request computed once) and the memory trend is summarised. Exit status 1 if any
client saw something unexpected, a response differed, or a row stayed in use. Nothing here is a
timed assertion; the machine's load average is printed before and after.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import abuse, served  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=300, help="seconds of rounds (default 300)")
    ap.add_argument("--normal-clients", type=int, default=4)
    ap.add_argument("--hostile-clients", type=int, default=3)
    ap.add_argument("--round-requests", type=int, default=40, help="requests per client per round (default 40)")
    ap.add_argument("--threads", type=int, default=1, help="the server's --threads (default 1)")
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--max-queue", type=int, default=16)
    ap.add_argument("--cache-mb", type=float, default=8)
    args = ap.parse_args()

    import rrwkv_rt
    limits = abuse.Limits()
    flags = ["--threads", str(args.threads), "--capacity", str(args.capacity), "--max-queue", str(args.max_queue),
             "--cache-mb", str(args.cache_mb), *limits.args()]
    print(f"load average before: {served.load_average()}; server flags: {' '.join(flags)}")
    rounds, memory, leaked = [], [], 0
    t_end = time.monotonic() + args.duration
    with served.serve(*flags) as (base, proc):
        seed = 0
        while time.monotonic() < t_end:
            seed += 1
            r = asyncio.run(abuse.run_round(base, limits, normal_clients=args.normal_clients,
                                            normal_each=args.round_requests, hostile_clients=args.hostile_clients,
                                            hostile_each=args.round_requests, seed=seed))
            m = served.wait_idle(base)
            leaked += int(m["rrwkv_batch_size"] + m["rrwkv_queue_depth"])
            memory.append(served.rss_mib(proc.pid))
            lat = np.array([x[3] for x in r.normal]) if r.normal else np.zeros(1)
            print(f"round {seed:3d}: {r.seconds:6.1f} s, {len(r.normal)} normal (p50 {np.median(lat):.2f} s, "
                  f"p99 {np.percentile(lat, 99):.2f} s), {sum(r.outcomes.values())} attacks, "
                  f"{len(r.unexpected)} unexpected, rows {m['rrwkv_batch_size']:.0f}, "
                  f"queue {m['rrwkv_queue_depth']:.0f}, rss {memory[-1]:.1f} MiB", flush=True)
            for u in r.unexpected[:5]:
                print(f"    unexpected: {u}")
            rounds.append(r)
        health = served.metrics(base)
    session = rrwkv_rt.Session(rrwkv_rt.default_model_path(), threads=1)
    bad = abuse.mismatches(session, rounds)
    unexpected = sum(len(r.unexpected) for r in rounds)
    normal = sum(len(r.normal) for r in rounds)
    prefix = "rrwkv_requests_total"
    outcomes = ", ".join(f"{k[len(prefix):]}={v:.0f}" for k, v in health.items() if k.startswith(prefix))
    print(f"{len(rounds)} rounds, {normal} normal requests ({len(bad)} differ from Session.generate), "
          f"{sum(sum(r.outcomes.values()) for r in rounds)} attacks, {unexpected} unexpected; "
          f"requests by outcome: {outcomes}")
    if memory:
        print(f"resident memory after each round: first {memory[0]:.1f} MiB, median {np.median(memory):.1f}, "
              f"max {max(memory):.1f}, last {memory[-1]:.1f}")
    for b in bad[:5]:
        print(f"    {b}")
    print(f"load average after: {served.load_average()}")
    return 1 if bad or unexpected or leaked else 0


if __name__ == "__main__":
    sys.exit(main())
