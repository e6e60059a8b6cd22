"""Stop strings as the text grows (runtime/stop_strings.py, TextStream): the same cuts and
held-back text as an eager search of everything held back, and work proportional to the new
bytes, whatever the length of the stop strings."""
from __future__ import annotations

import os
import random
import sys

import pytest

from rrwkv_rt.runtime import generate as gen
from rrwkv_rt.runtime.generate import TextStream


class EagerTextStream:
    """The independent reference: after each push, search the whole held-back text for every stop
    string and hold back the longest tail that is a prefix of one (quadratic, obviously right)."""

    def __init__(self, stops):
        self.stops, self.buf, self.stopped, self.stop_string = list(stops), b"", False, None

    def push(self, data: bytes) -> str:
        if self.stopped:
            return ""
        self.buf += data
        found = [(self.buf.find(s), i) for i, s in enumerate(self.stops) if s in self.buf]
        if found:
            cut, i = min(found)
            self.stopped, self.stop_string = True, self.stops[i]
            text, self.buf = self.buf[:cut], b""
            return text.decode("utf-8", "replace")
        partial = max((k for s in self.stops for k in range(1, len(s)) if self.buf.endswith(s[:k])), default=0)
        n = len(self.buf) - max(partial, gen._incomplete_utf8(self.buf))
        text, self.buf = self.buf[:n], self.buf[n:]
        return text.decode("utf-8", "replace")

    def flush(self) -> str:
        text, self.buf = self.buf, b""
        return "" if self.stopped else text.decode("utf-8", "replace")


@pytest.mark.parametrize("seed", range(300))
def test_same_text_as_an_eager_search(seed):
    rng = random.Random(seed)
    alphabet = rng.choice([b"ab", b"abc", b"a\n", "aé€".encode()])
    stops = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(0, 4))]
    text = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
    cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(1, 12))))
    pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
    ours, ref = TextStream(stops), EagerTextStream(stops)
    got = [ours.push(p) for p in pieces] + [ours.flush()]
    want = [ref.push(p) for p in pieces] + [ref.flush()]
    assert got == want, (stops, pieces)
    assert (ours.stopped, ours.stop_string) == (ref.stopped, ref.stop_string)


def test_overlapping_stops_cut_at_the_earliest_start():
    t = TextStream([b"bc", b"abcd"])
    assert t.push(b"xabcd") == "x" and t.stop_string == b"abcd"  # both complete here: the earlier start wins
    t = TextStream([b"bc", b"abcd"])
    assert [t.push(b"xab"), t.push(b"c")] == ["x", "a"] and t.stop_string == b"bc"  # "bc" completes first
    t = TextStream([b"ab", b"ab"])
    assert t.push(b"ab") == "" and t.stop_string == b"ab"
    from rrwkv_rt.runtime.stop_strings import StopStrings
    with pytest.raises(ValueError, match="empty"):
        StopStrings([b""])


def _lines_run(fn) -> int:
    """Python lines executed by fn() inside the stop-string code: a count of work that does not
    depend on the machine's speed."""
    folder = os.path.dirname(gen.__file__)  # the runtime package: TextStream and what it calls
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if os.path.dirname(frame.f_code.co_filename) != folder:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("length", [16, 256])
def test_work_per_token_does_not_grow_with_the_stop_strings(length):
    """Three stop strings that never match and one that keeps matching partly (the text is all
    'a', the stop 'a...ab'): each one-byte push costs a bounded number of steps, the same for
    stops of 16 or 256 bytes (an eager search costs O(length**2) per push)."""
    stops = [b"z" * length, b"y" * length, b"x" * length, b"a" * (length - 1) + b"b"]
    t = TextStream(stops)
    per_push = [_lines_run(lambda: t.push(b"a")) for _ in range(3 * length)]
    assert not t.stopped
    assert max(per_push) <= 40, max(per_push)
