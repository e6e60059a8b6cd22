"""A pickled Session's thread count is checked when it is unpickled: more threads than this
process may use become that many (not 2000 threads because a pickle says so), and a value that is
no thread count is a FormatError."""
import os
import pickle

import pytest

import rrwkv_rt


class _Crafted:
    """Unpickles as a Session whose pickle carries `threads` instead of the real count."""

    def __init__(self, session, threads):
        self.reduce = session.__reduce__()
        self.threads = threads

    def __reduce__(self):
        fn, args = self.reduce  # (path, header crc32, threads, prefill_chunk, state bytes, ...)
        return fn, args[:2] + (self.threads,) + args[3:]


def test_a_pickled_thread_count_is_clamped_to_the_cpus():
    s = rrwkv_rt.Session(rrwkv_rt.default_model_path(), threads=1)
    s.forward(list(b"def main("))
    cpus = len(os.sched_getaffinity(0))
    for asked, got in [(1, 1), (2000, cpus), (None, cpus)]:
        twin = pickle.loads(pickle.dumps(_Crafted(s, asked)))
        assert twin.threads == got and twin.pos == s.pos
    for bad in (0, -3, True, 2.5, "8"):
        with pytest.raises(rrwkv_rt.FormatError, match="threads must be None or an integer >= 1"):
            pickle.loads(pickle.dumps(_Crafted(s, bad)))
