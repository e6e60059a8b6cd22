"""The prompt-state cache: the recurrent state after a prompt prefix, kept for later prompts that
start with the same tokens (chat turns re-send the conversation; many requests share a system
prompt).

An RWKV state has a fixed size (a few hundred KB for a 169M model) whatever the prefix length,
so a cached prefix costs the same memory for 10 tokens or 10,000. Entries are kept in LRU order
within a byte budget.

Only prefixes whose length is a multiple of the prefill chunk are stored. The server prefills a
prompt in chunk-aligned pieces from its start, exactly as ``Session.forward`` does; a cached
state at a chunk boundary followed by the rest in the same aligned pieces is therefore the very
same computation as the cold prefill, so a cache hit changes nothing in the output, bit for bit.
(A state at an arbitrary length would be followed by differently cut matrix products, whose
float rounding may differ.) At most ``chunk - 1`` prompt tokens are recomputed per hit.

Used by the scheduler thread only; not thread-safe by itself.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class PrefixCache:
    def __init__(self, max_bytes: int, chunk: int):
        if max_bytes < 0:
            raise ValueError(f"the prompt cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.chunk = int(chunk)
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()  # token bytes of the prefix -> state blob
        self._lengths: dict[int, int] = {}  # prefix length -> entries of that length
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.hit_tokens = 0  # prompt tokens not recomputed thanks to hits
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _key(tokens: np.ndarray, n: int) -> bytes:
        return np.ascontiguousarray(tokens[:n], dtype=np.int64).tobytes()

    def lookup(self, tokens: np.ndarray) -> tuple[int, bytes | None]:
        """(n, state) for the longest cached prefix tokens[:n] with n < len(tokens) (at least one
        token is left to compute, since the request needs the last logits); (0, None) if none."""
        limit = len(tokens) - 1
        for n in sorted((n for n in self._lengths if n <= limit), reverse=True):
            key = self._key(tokens, n)
            state = self._entries.get(key)
            if state is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                self.hit_tokens += n
                return n, state
        self.misses += 1
        return 0, None

    def wants(self, tokens: np.ndarray, n: int) -> bool:
        """Whether the state after tokens[:n] should be offered to put()."""
        return self.max_bytes > 0 and n > 0 and n % self.chunk == 0 and self._key(tokens, n) not in self._entries

    def put(self, tokens: np.ndarray, n: int, state: bytes) -> None:
        if len(state) > self.max_bytes:
            return
        key = self._key(tokens, n)
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        self._entries[key] = state
        self._lengths[n] = self._lengths.get(n, 0) + 1
        self.bytes += len(state)
        while self.bytes > self.max_bytes:
            old_key, old_state = self._entries.popitem(last=False)
            self.bytes -= len(old_state)
            self.evictions += 1
            m = len(old_key) // 8
            self._lengths[m] -= 1
            if not self._lengths[m]:
                del self._lengths[m]
