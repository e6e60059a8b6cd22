"""The prompt-state cache: LRU within a byte budget, longest chunk-aligned prefix, and through
the server: a request sharing a long prefix computes fewer prompt tokens and gives the same
output as without the cache."""
from __future__ import annotations

import numpy as np
import pytest

from rrwkv_rt.server.cache import PrefixCache

from srv_helpers import metric, reference, running_server


def test_lookup_finds_the_longest_stored_prefix_and_leaves_a_token():
    c = PrefixCache(max_bytes=1000, chunk=4)
    t = np.arange(20)
    assert c.wants(t, 4) and c.wants(t, 8) and not c.wants(t, 6) and not c.wants(t, 0)
    c.put(t, 4, b"s4")
    c.put(t, 8, b"s8")
    assert not c.wants(t, 8)
    assert c.lookup(t) == (8, b"s8")
    assert c.lookup(t[:9]) == (8, b"s8")
    assert c.lookup(t[:8]) == (4, b"s4")  # the whole prompt cached: one token is left to compute
    other = t.copy()
    other[5] = 99
    assert c.lookup(other) == (4, b"s4")
    assert c.lookup(np.arange(1, 20)) == (0, None)
    assert (c.hits, c.misses, c.hit_tokens) == (4, 1, 24)


def test_lru_eviction_by_bytes():
    c = PrefixCache(max_bytes=10, chunk=1)
    a, b, d = np.array([1, 2]), np.array([3, 4]), np.array([5, 6])
    c.put(a, 1, b"aaaa")
    c.put(b, 1, b"bbbb")
    assert c.lookup(a) == (1, b"aaaa")  # a is now the most recent
    c.put(d, 1, b"dddd")  # over budget: b goes
    assert c.lookup(b) == (0, None) and c.lookup(a)[0] == 1 and c.lookup(d)[0] == 1
    assert c.bytes == 8 and len(c) == 2 and c.evictions == 1
    c.put(a, 2, b"x" * 11)  # larger than the whole budget: not kept
    assert len(c) == 2
    with pytest.raises(ValueError, match="cache size"):
        PrefixCache(-1, 4)


SYSTEM = "".join(f"# rule {i}: keep functions short and named for what they do\n" for i in range(8))  # ~500 bytes


def test_shared_prefix_is_reused_and_output_unchanged(session):
    with running_server(capacity=4) as (base, svc):
        import httpx

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
        import httpx
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
