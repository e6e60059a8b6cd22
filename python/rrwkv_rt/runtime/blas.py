"""Which BLAS the runtime uses for prefill matrix products.

The extension does not link a BLAS; it loads one on first use (dlopen, RTLD_LOCAL), so a missing
or broken BLAS only means the built-in kernels run instead. In order of preference:

* ``RRWKV_BLAS``: a path to a shared library exporting ``cblas_sgemm`` or ``scipy_cblas_sgemm``
  (32-bit integers), or ``0`` / empty to use the built-in kernels only;
* the OpenBLAS of the ``scipy-openblas32`` wheel (a dependency of rrwkv_rt);
* the OpenBLAS that a scipy wheel bundles (``scipy.libs``), found without importing scipy.
"""
from __future__ import annotations

import glob
import importlib.util
import os

from .. import _core


def _scipy_openblas32() -> str:
    try:
        import scipy_openblas32 as sob
        return os.path.join(sob.get_lib_dir(), sob.get_library(fullname=True))
    except (ImportError, OSError, IndexError):
        return ""


def _scipy_bundled() -> str:
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    libs = sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "scipy.libs",
                                         "libscipy_openblas*.so*")))
    return libs[0] if libs else ""


def bundled_path() -> str:
    """The OpenBLAS this installation can offer ('' if none); RRWKV_BLAS, when set, overrides it
    (the policy itself is in C++, shared with the C API: kernels/cpu/blas.h)."""
    for find in (_scipy_openblas32, _scipy_bundled):
        path = find()
        if path and os.path.exists(path):
            return path
    return ""


def configure() -> None:
    _core._configure_blas(bundled_path())
