#!/usr/bin/env bash
# The C++ unit tests under sanitizers, each build in its own folder:
#   tools/sanitize.sh asan   # AddressSanitizer + UndefinedBehaviorSanitizer, every test (build/asan)
#   tools/sanitize.sh tsan   # ThreadSanitizer, the concurrency tests (build/tsan)
# The C API tests run under ASan + UBSan (and valgrind) from tests/capi/test_capi.py.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in
  asan) sanitize=address,undefined filter='*' ;;
  tsan) sanitize=thread filter='Concurrency.*:ThreadPool.*' ;;
  *) echo "usage: tools/sanitize.sh asan|tsan" >&2; exit 2 ;;
esac
if ! command -v clang++ >/dev/null; then
  echo "installing clang (the sanitizer runtimes)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
if [ ! -e /usr/include/gtest/gtest.h ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev >/dev/null
fi
build=build/$mode
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRRWKV_CUDA=OFF \
    -DRRWKV_SANITIZE=$sanitize -DRRWKV_BUILD_TESTS=ON -DRRWKV_BUILD_PYTHON=OFF -DRRWKV_BUILD_CAPI=OFF >/dev/null
fi
cmake --build "$build" --target rrwkv_cpp_tests >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
echo "C++ tests under $sanitize ($filter)"
"$build/tests/cpp/rrwkv_cpp_tests" --gtest_filter="$filter" --gtest_brief=1
