"""The benchmark program runs end to end on a tiny shape and prints its figures (no timing is
asserted: speed is measured by running `python -m rrwkv_rt bench`, not by tests)."""
import subprocess
import sys


def test_bench_runs_on_a_tiny_model(tmp_path):
    cmd = [sys.executable, "-m", "rrwkv_rt", "bench", "--shape", "tiny", "--no-rwkv-package", "--threads", "1",
           "--decode-tokens", "4", "--rounds", "2", "--prefill-len", "40", "--repeats", "1", "--bandwidth-mib", "32",
           "--workdir", str(tmp_path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=str(tmp_path)).stdout
    for needle in ("decode floor", "x floor", "prefill tok/s", "peak RSS", "RRWKV (s=16) decode / RWKV-4 decode",
                   "read bandwidth"):
        assert needle in out, out
