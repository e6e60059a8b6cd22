#!/usr/bin/env bash
# The project's test command (README.md, .ci/run): installs what the tests need, builds and runs
# the C++ unit tests (plain, under ASan + UBSan and under TSan), runs the fuzzers for a bounded
# time, then runs the Python suite against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."

# torch==2.13.0 is the CPU build that lies on disk here; an unpinned torch would pull a CUDA
# build of several GB. Installed first so the extras below find it already satisfied.
python -m pip install -q torch==2.13.0
python -m pip install -q ".[torch,test,server]"

if [ ! -e /usr/include/gtest/gtest.h ]; then
  echo "installing GoogleTest (libgtest-dev) for the C++ unit tests"
  apt-get update -qq && apt-get install -y -qq libgtest-dev >/dev/null
fi
cmake -S . -B build/cpp-tests -G Ninja -DRRWKV_BUILD_TESTS=ON -DRRWKV_BUILD_PYTHON=OFF >/dev/null
cmake --build build/cpp-tests
ctest --test-dir build/cpp-tests --output-on-failure

# Sanitizers and fuzzers (clang), each build in its own folder under build/; about 8 minutes on
# two cores. RRWKV_QUICK=1 leaves them out of a local run; CI always runs them.
if [ "${RRWKV_QUICK:-0}" != 1 ]; then
  bash tools/sanitize.sh asan
  bash tools/sanitize.sh tsan
  # every saved crash input is replayed first, then each target fuzzes for a bounded time
  bash tools/fuzz.sh all "${RRWKV_FUZZ_SECONDS:-30}"
fi

# From tests/, so the in-tree python/ folder cannot shadow the installed package.
cd tests && python -m pytest -q "$@"
