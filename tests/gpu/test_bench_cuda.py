"""The GPU benchmarks run end to end on the device (the emulated one in the test runs, where they
say that their figures mean nothing): tools/bench.py --device cuda on the tiny shape, with the
device-copy floor, prefill and batched decode, and `rrwkv bench --device cuda` on a file. Nothing
here reads a figure: speed is measured on a GPU by tools/gpu_check.sh, not tested."""
import subprocess
import sys
from pathlib import Path

import pytest

from rrwkv_rt import _core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_models import tiny_model  # noqa: E402

pytestmark = pytest.mark.cuda
REPO = Path(__file__).resolve().parents[2]


def run(*cmd, cwd=None):
    r = subprocess.run([sys.executable, *map(str, cmd)], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_tools_bench_runs_on_the_device(tmp_path):
    if not (REPO / "tools" / "bench.py").exists():
        pytest.skip("needs the source tree's tools/")
    r = run(REPO / "tools" / "bench.py", "--device", "cuda", "--shape", "tiny", "--archs", "rwkv7",
            "--dtypes", "f16,q8_0", "--rounds", "1", "--repeats", "1", "--decode-tokens", "2", "--prefill-len", "8",
            "--batch-sizes", "1,2", "--batch-rounds", "1", "--batch-steps", "1", "--bandwidth-mib", "1",
            "--no-rwkv-package", "--models-dir", tmp_path)
    out = r.stdout
    for needle in ("device cuda", "device-to-device copy bandwidth (read + written, 1 MiB buffer",
                   "floor (HBM) = weight bytes read per decode token", "rwkv7 f16", "rwkv7 q8_0",
                   "rwkv7: q8_0 / f16 decode speed at batch 1", "batched decode, aggregate tokens/s"):
        assert needle in out, (needle, out)
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("rwkv7 f16", "rwkv7 q8_0"))]
    assert len(rows) >= 2 and all(len(row) >= 6 for row in rows[:2]), out  # decode, floor, x floor, prefill
    if _core.gpu_emulated():
        assert "EMULATED GPU (HIP-CPU, a test build)" in out, out


def test_rrwkv_bench_runs_on_the_device(tmp_path):
    path = tiny_model(tmp_path)
    r = run("-m", "rrwkv_rt", "bench", path, "--device", "cuda", "--threads", "1", "--rounds", "1", "--decode-tokens",
            "2", "--repeats", "1", "--prompt-len", "8", "--batch-sizes", "1,2", "--bandwidth-mib", "1", cwd=tmp_path)
    out = r.stdout
    for needle in ("runs on cuda:0", "x the floor", "device memory: a device-to-device copy", "prefill:",
                   "tokens/s by batch size: 1: "):
        assert needle in out, (needle, out)
    assert "peak RSS" not in out  # the CPU's memory is not the GPU run's
    if _core.gpu_emulated():
        assert "EMULATED GPU" in out


def test_the_device_copy_bandwidth_is_positive_and_checks_its_arguments():
    assert _core.device_copy_bandwidth(1 << 20, 3) > 0
    with pytest.raises(ValueError, match="nbytes and repeats must be >= 1"):
        _core.device_copy_bandwidth(0)
