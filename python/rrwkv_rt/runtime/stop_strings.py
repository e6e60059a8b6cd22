"""Stop strings found as the text grows, in time proportional to the new bytes (Aho-Corasick).

A generation's text arrives a token at a time and must end at the first stop string; a tail
that could still become one is held back. Re-checking the held-back text against every stop
string at every length costs O(len(stop)**2) per token; the automaton here keeps, as its state,
the longest tail of the text that is a prefix of some stop string, and moves it one byte at a
time (amortised O(1) per byte: each failure-link step gives up depth that an earlier byte gained).

    stops = StopStrings([b"\\n\\n", b"User:"])   # immutable: one per request, shared freely
    state, hit = stops.scan(stops.START, b"Hello\\n")
    stops.depth(state)                         # 1: the held-back "\\n" may start "\\n\\n"

``hit`` is ``(start, index)`` of the stop occurrence that starts first among those completed
by ``data`` (ties: the stop listed first), ``start`` counted from the beginning of ``data``
(negative when the occurrence began in earlier, held-back bytes). That is the cut an eager
search of the held-back text plus ``data`` gives, so the text does not depend on the algorithm.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable


class StopStrings:
    START = 0

    def __init__(self, stops: Iterable[bytes]):
        self.stops = [bytes(s) for s in stops]
        if any(not s for s in self.stops):
            raise ValueError("stop strings must not be empty")
        goto: list[dict[int, int]] = [{}]
        depth = [0]
        ends: list[list[tuple[int, int]]] = [[]]  # (length, index) of the stops that end at a node
        for index, s in enumerate(self.stops):
            node = 0
            for b in s:
                nxt = goto[node].get(b)
                if nxt is None:
                    nxt = goto[node][b] = len(goto)
                    goto.append({})
                    depth.append(depth[node] + 1)
                    ends.append([])
                node = nxt
            if not any(length == len(s) for length, _ in ends[node]):  # a repeated stop: the first index
                ends[node].append((len(s), index))
        # failure links (the longest proper suffix that is also a trie node), breadth first, and
        # each node's ends extended by those of its failure chain (stops that are suffixes of it)
        fail = [0] * len(goto)
        queue = deque(goto[0].values())
        while queue:
            u = queue.popleft()
            for b, child in goto[u].items():
                f = fail[u]
                while f and b not in goto[f]:
                    f = fail[f]
                target = goto[f].get(b, 0)
                fail[child] = target if target != child else 0
                ends[child] = ends[child] + ends[fail[child]]
                queue.append(child)
        self._goto, self._fail, self._depth, self._ends = goto, fail, depth, ends

    def __bool__(self) -> bool:
        return bool(self.stops)

    @property
    def longest(self) -> int:
        return max((len(s) for s in self.stops), default=0)

    def depth(self, state: int) -> int:
        """Bytes at the end of the text read so far that may begin a stop string."""
        return self._depth[state]

    def scan(self, state: int, data: bytes) -> tuple[int, tuple[int, int] | None]:
        """(the state after `data`, the first stop occurrence `data` completes or None)."""
        goto, fail, ends = self._goto, self._fail, self._ends
        hit = None
        for i, b in enumerate(data):
            while state and b not in goto[state]:
                state = fail[state]
            state = goto[state].get(b, 0)
            for length, index in ends[state]:
                found = (i + 1 - length, index)
                if hit is None or found < hit:
                    hit = found
        return state, hit
