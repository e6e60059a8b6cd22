"""The benchmark program runs end to end on a tiny shape and prints its figures (no timing is
asserted: speed is measured by running tools/bench.py, not by tests)."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench.py"


def test_bench_runs_on_a_tiny_model(tmp_path):
    if not BENCH.exists():
        pytest.skip("needs the source tree (tools/bench.py)")
    cmd = [sys.executable, str(BENCH), "--shape", "tiny", "--no-rwkv-package", "--threads", "1",
           "--decode-tokens", "4", "--rounds", "2", "--prefill-len", "40", "--repeats", "1", "--bandwidth-mib", "32",
           "--batch-sizes", "1,3", "--batch-steps", "2", "--batch-rounds", "1", "--fast", "--workdir", str(tmp_path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=str(tmp_path)).stdout
    for needle in ("x floor", "prefill tok/s", "peak RSS", "RRWKV (s=16) / RWKV-4 decode time", "read bandwidth",
                   "batched decode", "fits in L3", "fast prefill", "fast / exact prefill", "% of peak",
                   "compute peaks measured"):
        assert needle in out, out
