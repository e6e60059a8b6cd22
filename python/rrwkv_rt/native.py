"""Where the C API of this installation lives, for native programs built against it.

The wheel carries ``include/rrwkv_rt/rrwkv.h``, ``lib/librrwkv_rt.so`` and the CMake package
``lib/cmake/rrwkv_rt`` inside the ``rrwkv_rt`` package folder. From a shell::

    cmake -S . -B build -Drrwkv_rt_DIR="$(python -m rrwkv_rt --cmakedir)"

then ``find_package(rrwkv_rt REQUIRED)`` and ``target_link_libraries(app PRIVATE rrwkv_rt::rrwkv_rt)``
(docs/C_API.md).
"""
from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
_FLAGS = {"--cmakedir": "get_cmake_dir", "--includedir": "get_include", "--libdir": "get_library_dir"}


def _existing(*parts: str) -> str:
    path = os.path.join(_ROOT, *parts)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path} does not exist: this rrwkv_rt installation has no C API; install it from a "
                                f"wheel or with `pip install .` (built with RRWKV_BUILD_CAPI=ON, the default)")
    return path


def get_include() -> str:
    """The folder to put on the include path: it holds ``rrwkv_rt/rrwkv.h``."""
    return _existing("include")


def get_library_dir() -> str:
    """The folder holding ``librrwkv_rt.so``."""
    return _existing("lib")


def get_cmake_dir() -> str:
    """The folder holding ``rrwkv_rtConfig.cmake``: pass it as ``-Drrwkv_rt_DIR=...``."""
    return _existing("lib", "cmake", "rrwkv_rt")


def print_dir_flag(argv: list[str]) -> int | None:
    """``python -m rrwkv_rt --cmakedir`` (or --includedir, --libdir): print that folder and return
    the exit status; None if ``argv`` is not one of these flags."""
    if len(argv) != 1 or argv[0] not in _FLAGS:
        return None
    try:
        print(globals()[_FLAGS[argv[0]]]())
    except FileNotFoundError as e:
        print(f"rrwkv {argv[0]}: error: {e}", file=sys.stderr)
        return 1
    return 0
