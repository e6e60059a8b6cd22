"""Peak memory of the runtime, measured in a child process that runs nothing else:
``python .../rrwkv_rt/bench/memory.py MODEL THREADS PREFILL_LEN`` prints one JSON line (run by
file, as measure.memory() does)."""
import json
import os
import sys

import numpy as np


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _mapping_rss_kib(path: str) -> int:
    """Resident KiB of the mapping of ``path`` (the model-file pages this process has touched)."""
    total, inside = 0, False
    real = os.path.realpath(path)
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
                inside = len(head) >= 6 and head[-1].startswith("/") and os.path.realpath(head[-1]) == real
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total


def measure(path: str, threads: int, prefill_len: int) -> dict:
    """Open the model, prefill ``prefill_len`` tokens and decode a few: the memory it all takes."""
    import rrwkv_rt
    baseline, anon0 = _status_kib("VmRSS"), _status_kib("RssAnon")
    model = rrwkv_rt.Model(path)
    sess = rrwkv_rt.Session(model, threads=threads)
    vocab = model.info["vocab_size"]
    sess.forward(np.random.default_rng(1).integers(0, vocab, prefill_len))
    out = np.empty(vocab, np.float32)
    for t in range(16):
        sess.step(t, out=out)
    return {"peak_kib": _status_kib("VmHWM"), "baseline_kib": baseline, "anon_kib": _status_kib("RssAnon") - anon0,
            "model_resident_kib": _mapping_rss_kib(path), "state_bytes": len(sess.get_state()),
            "file_size": model.info["file_size"]}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
