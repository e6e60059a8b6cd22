"""The prompt-state cache: the recurrent state after a prompt prefix, kept for later prompts that
start with the same tokens (chat turns re-send the conversation; many requests share a system
prompt).

An RWKV state has a fixed size (a few hundred KB for a 169M model) whatever the prefix length,
so a cached prefix costs the same memory for 10 tokens or 10,000. Entries are kept in LRU order
within a byte budget that counts everything an entry holds: the state, its key and the
bookkeeping around them (``ENTRY_OVERHEAD``). A key is a 32-byte BLAKE2b digest of the prefix's
tokens, chained chunk by chunk, so a long prompt's keys cost 32 bytes each (not 8 bytes per
token) and all of them are computed in one pass over the prompt (``keys_for``).

Only prefixes whose length is a multiple of the prefill chunk are stored. The server prefills a
prompt in chunk-aligned pieces from its start, exactly as ``Session.forward`` does; a cached
state at a chunk boundary followed by the rest in the same aligned pieces is therefore the very
same computation as the cold prefill, so a cache hit changes nothing in the output, bit for bit.
(A state at an arbitrary length would be followed by differently cut matrix products, whose
float rounding may differ.) At most ``chunk - 1`` prompt tokens are recomputed per hit.

``keys_for`` is a pure function (any thread); the rest is used by the scheduler thread only.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

# Per entry, besides the state's and the key's bytes: two bytes objects' headers (33 bytes each)
# and an OrderedDict entry (its hash-table slots and linked-list node: about 100 bytes, up to
# 150 right after the table grows), rounded up.
ENTRY_OVERHEAD = 256
KEY_BYTES = 32


class PrefixCache:
    def __init__(self, max_bytes: int, chunk: int):
        if max_bytes < 0:
            raise ValueError(f"the prompt cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.chunk = int(chunk)
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()  # key of the prefix -> state blob
        self.bytes = 0  # everything the entries hold (the budget's unit)
        self.hits = 0
        self.misses = 0
        self.hit_tokens = 0  # prompt tokens not recomputed thanks to hits
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def keys_for(self, tokens: np.ndarray) -> list[bytes]:
        """keys[k - 1] is the key of tokens[:k * chunk], for every whole chunk of `tokens`."""
        data = np.ascontiguousarray(tokens, dtype=np.int64).view(np.uint8)
        step = 8 * self.chunk
        h = hashlib.blake2b(digest_size=KEY_BYTES)
        keys = []
        for end in range(step, len(data) + 1, step):
            h.update(data[end - step:end])
            keys.append(h.digest())
        return keys

    @staticmethod
    def cost(key: bytes, state: bytes) -> int:
        return len(state) + len(key) + ENTRY_OVERHEAD

    def lookup(self, keys: list[bytes], n_tokens: int) -> tuple[int, bytes | None]:
        """(n, state) for the longest cached prefix of n < n_tokens tokens (at least one token is
        left to compute, since the request needs the last logits); (0, None) if none."""
        for k in range(min(len(keys), (n_tokens - 1) // self.chunk), 0, -1):
            state = self._entries.get(keys[k - 1])
            if state is not None:
                self._entries.move_to_end(keys[k - 1])
                self.hits += 1
                self.hit_tokens += k * self.chunk
                return k * self.chunk, state
        self.misses += 1
        return 0, None

    def wants(self, key: bytes) -> bool:
        """Whether the state for `key` should be offered to put()."""
        return self.max_bytes > 0 and key not in self._entries

    def put(self, key: bytes, state: bytes) -> None:
        cost = self.cost(key, state)
        if cost > self.max_bytes:
            return
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        self._entries[key] = state
        self.bytes += cost
        while self.bytes > self.max_bytes:
            old_key, old_state = self._entries.popitem(last=False)
            self.bytes -= self.cost(old_key, old_state)
            self.evictions += 1
