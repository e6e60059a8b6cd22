"""The C API and rrwkv.hpp on a CUDA device: tests/capi/test_capi_device.c and test_hpp_device.cpp
(which tests/capi/test_capi.py runs against the installed package, on a CPU-only build the error
path) built against a librrwkv_rt that has a usable device and run there: sessions and batches on
"cuda" give the CPU's logits within 1e-4, "auto" picks cuda:0, states move between the devices.

The library: the installed package's where it has a device (a GPU build, tools/gpu_check.sh);
else the emulated build's that tools/run_tests.sh makes in build/cpp-tests (the CI run)."""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rrwkv_rt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device_models import tiny_model  # noqa: E402

pytestmark = pytest.mark.cuda
REPO = Path(__file__).resolve().parents[2]
CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
CXX = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def devices(lib_dir) -> int:
    path = Path(lib_dir) / "librrwkv_rt.so"
    if not path.exists():
        return 0
    return ctypes.CDLL(str(path)).rrwkv_cuda_device_count()


def installed_library_dir() -> str | None:
    try:
        return rrwkv_rt.get_library_dir()
    except FileNotFoundError:  # a module without the C API beside it (the emulated run's staged copy)
        return None


def library_with_a_device() -> str:
    candidates = [c for c in (installed_library_dir(), REPO / "build" / "cpp-tests" / "csrc" / "capi") if c]
    for lib in candidates:
        try:
            if devices(lib) > 0:
                return str(lib)
        except OSError:
            continue
    pytest.fail(f"no librrwkv_rt with a usable CUDA device among {[str(c) for c in candidates]} although this "
                f"module has one (build the C API beside it: tools/run_tests.sh builds build/cpp-tests)", pytrace=False)


@pytest.mark.parametrize("src,compiler,flags", [
    ("test_capi_device.c", CC, ["-std=c99", "-D_POSIX_C_SOURCE=200809L", "-lm"]),
    ("test_hpp_device.cpp", CXX, ["-std=c++17"]),
])
def test_the_c_api_runs_on_the_device(tmp_path, src, compiler, flags):
    if compiler is None:
        pytest.skip("needs a C and a C++ compiler")
    lib = library_with_a_device()
    exe = tmp_path / Path(src).stem
    include = REPO / "include"
    r = subprocess.run([compiler, "-Wall", "-Wextra", "-pedantic", "-Werror", f"-I{include}",
                        str(REPO / "tests" / "capi" / src), f"-L{lib}", "-lrrwkv_rt", f"-Wl,-rpath,{lib}",
                        *flags, "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe), tiny_model(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "auto: cuda:0" in r.stdout and re.search(r"(^|\s)0 failed$", r.stdout.rstrip()), r.stdout
    assert r.stderr.count('rrwkv_rt: device="auto": running on cuda:0') == 1, r.stderr
