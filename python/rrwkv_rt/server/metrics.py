"""Counters and gauges of the server, rendered in the Prometheus text format (``GET /metrics``).

The scheduler thread writes them, the HTTP side reads them; single int/float attribute updates
are atomic under the GIL, and a scrape that sees one counter a step older than another is fine.
"""
from __future__ import annotations

import collections
import time

RATE_WINDOW_S = 10.0  # generated tokens/s is measured over this window


class Metrics:
    def __init__(self, capacity: int, max_queue: int):
        self.capacity = capacity
        self.max_queue = max_queue
        self.queue_depth = 0
        self.batch_rows = 0
        self.decoding_rows = 0
        self.requests_finished: collections.Counter = collections.Counter()  # by finish reason / outcome
        self.requests_rejected = 0
        self.prompt_tokens = 0
        self.prefill_tokens = 0  # prompt tokens actually computed (the rest came from the cache)
        self.generated_tokens = 0
        self.decode_steps = 0
        self.decode_seconds = 0.0
        self.prefill_seconds = 0.0
        self._recent: collections.deque = collections.deque()  # (time, tokens generated at that step)
        self.cache = None  # the PrefixCache, read for its counters

    def generated(self, n: int) -> None:
        now = time.monotonic()
        self.generated_tokens += n
        self._recent.append((now, n))
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()

    def tokens_per_second(self) -> float:
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._recent) if t >= now - RATE_WINDOW_S]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], 1e-3)
        return sum(n for _, n in recent) / span

    def render(self) -> str:
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, value, labels: str = "") -> None:
            if not any(line.startswith(f"# TYPE {name} ") for line in out):
                out.append(f"# HELP {name} {help_}")
                out.append(f"# TYPE {name} {kind}")
            out.append(f"{name}{labels} {value}")

        metric("rrwkv_queue_depth", "gauge", "Requests waiting for a batch row.", self.queue_depth)
        metric("rrwkv_queue_capacity", "gauge", "Most requests that may wait (more get 503).", self.max_queue)
        metric("rrwkv_batch_size", "gauge", "Rows in the running batch (prefilling and decoding).", self.batch_rows)
        metric("rrwkv_batch_decoding", "gauge", "Rows of the running batch that are decoding.", self.decoding_rows)
        metric("rrwkv_batch_capacity", "gauge", "Most concurrent sequences.", self.capacity)
        for reason in sorted(self.requests_finished):
            metric("rrwkv_requests_total", "counter", "Finished requests by outcome.",
                   self.requests_finished[reason], f'{{outcome="{reason}"}}')
        metric("rrwkv_requests_rejected_total", "counter", "Requests refused because the queue was full.",
               self.requests_rejected)
        metric("rrwkv_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", self.prompt_tokens)
        metric("rrwkv_prefill_tokens_total", "counter", "Prompt tokens computed (not served from the prompt cache).",
               self.prefill_tokens)
        metric("rrwkv_generated_tokens_total", "counter", "Tokens generated.", self.generated_tokens)
        metric("rrwkv_generated_tokens_per_second", "gauge",
               f"Generated tokens per second over the last {RATE_WINDOW_S:g} s.", f"{self.tokens_per_second():.3f}")
        metric("rrwkv_decode_steps_total", "counter", "Batched decode steps.", self.decode_steps)
        metric("rrwkv_decode_seconds_total", "counter", "Seconds spent in batched decode steps.",
               f"{self.decode_seconds:.6f}")
        metric("rrwkv_prefill_seconds_total", "counter", "Seconds spent prefilling prompts.", f"{self.prefill_seconds:.6f}")
        c = self.cache
        if c is not None:
            metric("rrwkv_prompt_cache_hits_total", "counter", "Requests that started from a cached prompt state.", c.hits)
            metric("rrwkv_prompt_cache_misses_total", "counter", "Requests that found no cached prefix.", c.misses)
            metric("rrwkv_prompt_cache_hit_tokens_total", "counter", "Prompt tokens not recomputed thanks to the cache.",
                   c.hit_tokens)
            metric("rrwkv_prompt_cache_entries", "gauge", "Cached prompt states.", len(c))
            metric("rrwkv_prompt_cache_bytes", "gauge", "Bytes held by cached prompt states.", c.bytes)
            metric("rrwkv_prompt_cache_capacity_bytes", "gauge", "The prompt cache's byte budget.", c.max_bytes)
            metric("rrwkv_prompt_cache_evictions_total", "counter", "Cached states dropped to stay in budget.",
                   c.evictions)
        return "\n".join(out) + "\n"
