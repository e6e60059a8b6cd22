"""`rrwkv bench MODEL` runs end to end on a user's file and prints its figures (no timing is
asserted: speed is read, not tested); progress goes to stderr, errors are one line."""
import subprocess
import sys

import pytest

import rrwkv_rt


def bench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rrwkv_rt", "bench", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def test_bench_measures_a_model_file(tmp_path):
    model = tmp_path / "mine.rrwkv"
    model.write_bytes(open(rrwkv_rt.default_model_path(), "rb").read())
    r = bench("mine.rrwkv", "--threads", 1, "--rounds", 2, "--decode-tokens", 4, "--repeats", 1, "--prompt-len", 40,
              "--batch-sizes", "1,3", "--bandwidth-mib", 32, "--device", "auto", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    gpu = rrwkv_rt._core.cuda_device_count() > 0  # "auto" runs there (its notice says so), and the floor is HBM's
    assert ('device="auto": running on ' + ("cuda:0" if gpu else "the CPU")) in r.stderr, r.stderr
    assert "rrwkv bench mine.rrwkv: rrwkv, 4 layers" in out, out  # a relative path, as a user types it
    for needle in ("ms/token", "x the floor", "MiB read per token", "prefill:", "a 40-token prompt",
                   "tokens/s by batch size: 1: ", "3: ", "device memory" if gpu else "peak RSS", "load average"):
        assert needle in out, (needle, out)
    assert "decode and prefill: round 2/2" in r.stderr and "[bench" not in out  # progress on stderr only


def test_bench_errors_are_one_line(tmp_path):
    cases = [(["--device", "tpu"], "--device tpu: unknown device 'tpu'; expected 'cpu', 'cuda', 'cuda:N' or 'auto'"),
             ([tmp_path / "missing.rrwkv"], "missing.rrwkv"), (["--threads", 0], "--threads must be >= 1")]
    if rrwkv_rt._core.cuda_device_count() == 0:  # the runtime's reason: no CUDA backend, or no usable device
        cases.append((["--device", "cuda"], "--device cuda: "))
    for args, needle in cases:
        r = bench(*args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith("rrwkv bench: error: ") and needle in r.stderr, r.stderr
        assert "cuda" not in args or "CUDA" in r.stderr, r.stderr
    r = bench("--batch-sizes", "1,x")
    assert r.returncode == 2 and "comma-separated integers" in r.stderr


def test_bench_help_shows_its_defaults():
    text = bench("--help").stdout
    assert "--batch-sizes B,B,..." in text and "(default: [1, 8])" in text and "--device DEVICE" in text, text
    assert "auto: cuda:0 when a usable CUDA device exists" in " ".join(text.split()), text
    assert "(default: None)" not in text
