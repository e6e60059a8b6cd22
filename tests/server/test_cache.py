"""The prompt-state cache: LRU within a byte budget, longest chunk-aligned prefix, and through
the server: a request sharing a long prefix computes fewer prompt tokens and gives the same
output as without the cache; the budget bounds the server's memory (keys included)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from rrwkv_rt.server.cache import ENTRY_OVERHEAD, KEY_BYTES, PrefixCache

from srv_helpers import metric, reference, running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from benchlib import served  # noqa: E402


def test_lookup_finds_the_longest_stored_prefix_and_leaves_a_token():
    c = PrefixCache(max_bytes=10000, chunk=4)
    t = np.arange(20)
    keys = c.keys_for(t)
    assert len(keys) == 5 and len(set(keys)) == 5 and all(len(k) == 32 for k in keys)
    assert c.keys_for(t[:9]) == keys[:2] and c.keys_for(t[:3]) == []  # a key depends on its prefix only
    assert c.wants(keys[0]) and c.wants(keys[1])
    c.put(keys[0], b"s4")
    c.put(keys[1], b"s8")
    assert not c.wants(keys[1])
    assert c.lookup(keys, 20) == (8, b"s8")
    assert c.lookup(keys[:2], 9) == (8, b"s8")
    assert c.lookup(keys[:2], 8) == (4, b"s4")  # the whole prompt cached: one token is left to compute
    other = t.copy()
    other[5] = 99
    assert c.lookup(c.keys_for(other), 20) == (4, b"s4")
    assert c.lookup(c.keys_for(np.arange(1, 20)), 19) == (0, None)
    assert (c.hits, c.misses, c.hit_tokens) == (4, 1, 24)
    assert not PrefixCache(0, 4).wants(keys[0])  # a cache of size 0 is off


def test_lru_eviction_counts_everything_an_entry_holds():
    one = PrefixCache.cost(b"k" * KEY_BYTES, b"x" * 100)
    assert one == 100 + KEY_BYTES + ENTRY_OVERHEAD
    c = PrefixCache(max_bytes=2 * one + 10, chunk=1)
    a, b, d = (c.keys_for(np.array([i, i]))[0] for i in (1, 2, 3))
    c.put(a, b"a" * 100)
    c.put(b, b"b" * 100)
    assert c.lookup([a], 2) == (1, b"a" * 100)  # a is now the most recent
    c.put(d, b"d" * 100)  # over budget: b goes
    assert c.lookup([b], 2) == (0, None) and c.lookup([a], 2)[0] == 1 and c.lookup([d], 2)[0] == 1
    assert c.bytes == 2 * one and len(c) == 2 and c.evictions == 1
    c.put(c.keys_for(np.array([9, 9]))[0], b"x" * c.max_bytes)  # larger than the whole budget: not kept
    assert len(c) == 2
    with pytest.raises(ValueError, match="cache size"):
        PrefixCache(-1, 4)


SYSTEM = "".join(f"# rule {i}: keep functions short and named for what they do\n" for i in range(8))  # ~500 bytes


def test_shared_prefix_is_reused_and_output_unchanged(session):
    with running_server(capacity=4) as (base, svc):

        def complete(prompt):
            r = httpx.post(base + "/v1/completions", timeout=60,
                           json={"model": "default", "prompt": prompt, "max_tokens": 30, "temperature": 0})
            assert r.status_code == 200, r.text
            return r.json()

        p1, p2 = SYSTEM + "def parse(", SYSTEM + "class Reader:\n    def "
        cold = complete(p1)
        assert cold["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
        before = metric(base, "rrwkv_prefill_tokens_total")
        warm = complete(p2)
        computed = metric(base, "rrwkv_prefill_tokens_total") - before
        cached = warm["usage"]["prompt_tokens_details"]["cached_tokens"]
        assert cached == len(SYSTEM.encode()) // 128 * 128 > 0
        assert computed == len(p2.encode()) - cached
        assert metric(base, "rrwkv_prompt_cache_hits_total") == 1
        assert metric(base, "rrwkv_prompt_cache_bytes") == svc.scheduler.cache.bytes > 0
        # identical to the uncached computation: Session.generate from scratch, and a server without a cache
        assert warm["choices"][0]["text"] == reference(session, p2, 30)
        assert cold["choices"][0]["text"] == reference(session, p1, 30)
        again = complete(p1)  # all of p1's full chunks cached now
        assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == len(p1.encode()) // 128 * 128
        assert again["choices"][0]["text"] == cold["choices"][0]["text"]
    with running_server(cache_bytes=0) as (base, svc):
        r = httpx.post(base + "/v1/completions", timeout=60,
                       json={"model": "default", "prompt": p2, "max_tokens": 30, "temperature": 0}).json()
        assert r["choices"][0]["text"] == warm["choices"][0]["text"]
        assert r["usage"]["prompt_tokens_details"]["cached_tokens"] == 0 and len(svc.scheduler.cache) == 0


def test_chat_turns_reuse_the_conversation(client, server):
    base, svc = server
    turn1 = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "def add(a, b):"}]
    r1 = client.chat.completions.create(model="default", messages=turn1, max_tokens=20, temperature=0)
    turn2 = turn1 + [{"role": "assistant", "content": r1.choices[0].message.content},
                     {"role": "user", "content": "def sub(a, b):"}]
    r2 = client.chat.completions.create(model="default", messages=turn2, max_tokens=20, temperature=0)
    assert r2.usage.prompt_tokens_details.cached_tokens >= len(SYSTEM.encode()) // 128 * 128


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's memory from /proc")
def test_the_budget_bounds_the_process_memory():
    """A server with a 16 MiB cache reads long prompts (16384 tokens: 128 states of 30 KB each,
    and prefix keys that, at 8 bytes per token, would hold twice that): its memory grows by no
    more than the budget, and the cache says it holds no more than that."""
    budget_mb = 16
    rng = np.random.default_rng(0)
    with served.serve("--threads", "1", "--cache-mb", str(budget_mb)) as (base, proc):

        def read(n_prompts: int) -> None:
            for _ in range(n_prompts):
                ids = rng.integers(0, 256, 16384).tolist()
                r = httpx.post(base + "/v1/completions", timeout=300,
                               json={"model": "default", "prompt": ids, "max_tokens": 1, "temperature": 0})
                assert r.status_code == 200, r.text

        read(1)  # the engine's and the server's own allocations are made
        before = _rss_bytes(proc.pid)
        read(7)  # 28 MiB of states offered: the cache fills and evicts
        grown = _rss_bytes(proc.pid) - before
        assert metric(base, "rrwkv_prompt_cache_evictions_total") > 0
        assert metric(base, "rrwkv_prompt_cache_bytes") <= budget_mb << 20
        assert grown <= (budget_mb + 8) << 20, f"the server grew by {grown / 2**20:.1f} MiB with a {budget_mb} MiB cache"
