"""Suite-wide setup: tests marked `cuda` run where a CUDA device is usable (a GPU, or the emulated
device of a build with RRWKV_GPU_EMULATION); tests marked `real_gpu` need a physical GPU.

A test needing a device is skipped where there is none, and fails where a GPU is present but this
build, compiled with CUDA, cannot use it (a driver or runtime problem must not pass as a skip)."""
import os

import pytest

from rrwkv_rt import _core

HAVE_CUDA = _core.cuda_device_count() > 0
EMULATED = _core.gpu_emulated()


def _nvidia_gpu_present():
    gpus = "/proc/driver/nvidia/gpus"
    return os.path.exists("/dev/nvidia0") or (os.path.isdir(gpus) and bool(os.listdir(gpus)))


def pytest_runtest_setup(item):
    # markers, not item.keywords: keywords hold the names of the folders above the test too, so a
    # checkout in a folder named `cuda` would mark every test
    needs_gpu = item.get_closest_marker("real_gpu") is not None
    if item.get_closest_marker("cuda") is None and not needs_gpu:
        return
    if needs_gpu and EMULATED:
        pytest.skip("needs a physical GPU; this is the emulated build (" + _core.cuda_status() + ")")
    if HAVE_CUDA:
        return
    if _core.cuda_compiled() and _nvidia_gpu_present():
        pytest.fail("a GPU is present but this build cannot use it: " + _core.cuda_status(), pytrace=False)
    pytest.skip(f"no usable CUDA device ({_core.cuda_status()})")
