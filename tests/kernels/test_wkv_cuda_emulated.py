"""The CUDA WKV kernels (csrc/cuda/wkv_cuda.cu), compiled as host code with a sequential emulation of
threads and blocks (cuda_emulation/), against the CPU kernels: every index, the sub-block
recomputation, the batch reduction and the bf16 conversions are checked on machines without a GPU.
Needs the source tree and a C++17 compiler; skipped otherwise. Timing, coalescing and the real
device math (expf) are not covered: test_wkv_cuda.py does that where a GPU exists."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "cuda_emulation"
CU = ROOT / "csrc" / "cuda" / "wkv_cuda.cu"
MARK = "// ---- launchers"


def test_emulated_cuda_kernels_match_cpu(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None or not CU.exists():
        pytest.skip("needs a C++ compiler and the source tree")
    src = CU.read_text()
    assert MARK in src, f"{CU} lost its '{MARK}' line, which separates the kernels from the launchers"
    kernels = src[:src.index(MARK)].replace("#include <cuda_bf16.h>\n", "").replace("#include <cuda_runtime.h>\n", "")
    emu = tmp_path / "emu.cpp"
    emu.write_text('#include "mock_cuda.h"\n' + kernels + (HERE / "emu_launch.inc").read_text())
    exe = tmp_path / "compare"
    wkv = ROOT / "csrc" / "kernels" / "wkv"
    cmd = [cxx, "-std=c++17", "-O1", "-fno-trapping-math", f"-I{HERE}", f"-I{ROOT / 'csrc'}", str(HERE / "compare.cpp"),
           str(emu), str(wkv / "wkv.cpp"), str(wkv / "wkv_cpu.cpp"), str(ROOT / "csrc" / "core" / "dtype.cpp"),
           str(ROOT / "csrc" / "core" / "thread_pool.cpp"), "-o", str(exe), "-pthread"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, "emulation build failed:\n" + build.stderr[-4000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " 0 failures" in run.stdout
