"""Suite-wide setup: tests marked `cuda` run only where a CUDA device is usable."""
import pytest

from rrwkv_rt import _core

HAVE_CUDA = _core.cuda_device_count() > 0


def pytest_collection_modifyitems(config, items):
    if HAVE_CUDA:
        return
    reason = f"no usable CUDA device ({_core.cuda_status()})"
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
