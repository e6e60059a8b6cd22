#!/usr/bin/env bash
# The project's test command (README.md, .ci/run): installs what the tests need, builds and runs
# the C++ unit tests (plain, under ASan + UBSan and under TSan) and the GPU tests under HIP-CPU,
# checks that the GPU sources compile with nvcc, runs the fuzzers for a bounded time, then runs the
# Python suite against the installed package and the Python GPU tests on the emulated device.
set -euo pipefail
cd "$(dirname "$0")/.."

# Without a GPU the package is built without nvcc (the nvcc check below compiles the GPU sources
# once); with one, as a plain `pip install .` builds it.
have_gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then have_gpu=1; fi
package_cuda=()
[ "$have_gpu" = 1 ] || package_cuda=(-Ccmake.define.RRWKV_CUDA=OFF)

# torch==2.13.0 is the CPU build that lies on disk here; an unpinned torch would pull a CUDA
# build of several GB. Installed first so the extras below find it already satisfied.
python -m pip install -q torch==2.13.0
python -m pip install -q "${package_cuda[@]}" ".[torch,test,server]"

apt_install() {  # apt_install PACKAGE WHY
  echo "installing $1 ($2)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
[ -e /usr/include/gtest/gtest.h ] || apt_install libgtest-dev "GoogleTest, for the C++ unit tests"

# The C++ tests. With HIP-CPU (../shared/third_party/hip-cpu beside the repository, or HIP_CPU_DIR)
# this is the emulated GPU build: the CPU tests and every GPU test (tests/gpu: each kernel run by
# HIP-CPU on the CPU, against its CPU twin) in one ctest, and that build's Python module for the
# Python GPU tests at the end. Without HIP-CPU the GPU tests are skipped, and CI fails.
hip_cpu=${HIP_CPU_DIR:-$PWD/../shared/third_party/hip-cpu}
emulated=0
if [ -e "$hip_cpu/include/hip/hip_runtime.h" ]; then
  emulated=1
  [ -e /usr/include/tbb/tbb.h ] || [ -e /usr/include/oneapi/tbb.h ] || apt_install libtbb-dev "Intel TBB, for HIP-CPU"
  cmake -S . -B build/cpp-tests -G Ninja -DRRWKV_BUILD_TESTS=ON -DRRWKV_GPU_EMULATION=ON \
    -DHIP_CPU_DIR="$(cd "$hip_cpu" && pwd)" -DRRWKV_BUILD_PYTHON=ON -DPython_EXECUTABLE="$(command -v python)" \
    -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" >/dev/null
elif [ "${CI:-}" = true ]; then
  echo "run_tests.sh: HIP-CPU not found at $hip_cpu, and CI runs every GPU kernel under it; put the" \
    "shared folder beside the repository (../shared/third_party/hip-cpu) or set HIP_CPU_DIR" >&2
  exit 1
else
  echo "SKIPPED: the GPU tests under emulation (no HIP-CPU at $hip_cpu; it is" \
    "../shared/third_party/hip-cpu beside the repository, or set HIP_CPU_DIR)"
  cmake -S . -B build/cpp-tests -G Ninja -DRRWKV_BUILD_TESTS=ON -DRRWKV_GPU_EMULATION=OFF -DRRWKV_CUDA=OFF \
    -DRRWKV_BUILD_PYTHON=OFF >/dev/null
fi
cmake --build build/cpp-tests
ctest --test-dir build/cpp-tests --output-on-failure

# With nvcc, every GPU source (the library's and the test kernels) is compiled for sm_80 and sm_90:
# the kernels the emulation ran are the ones a GPU build gets.
if command -v nvcc >/dev/null; then
  echo "nvcc found: compiling the GPU sources for sm_80 and sm_90 (build/nvcc-check)"
  cmake -S . -B build/nvcc-check -G Ninja -DRRWKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="80-real;90-real" \
    -DRRWKV_BUILD_TESTS=ON -DRRWKV_BUILD_PYTHON=OFF -DRRWKV_BUILD_CAPI=OFF >/dev/null
  cmake --build build/nvcc-check --target rrwkv_gpu_objects rrwkv_gpu_test_kernels rrwkv_cuda_status
  # Without a driver nothing of a CUDA build can run but its diagnosis, which must name the cause.
  if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    status=$(build/nvcc-check/tests/gpu/rrwkv_cuda_status)
    echo "a CUDA build on this driverless machine says: $status"
    case "$status" in
      "0 device(s): "*"no NVIDIA driver is installed"*) ;;
      *) echo "run_tests.sh: expected cuda_status() to say that no NVIDIA driver is installed" >&2; exit 1 ;;
    esac
  fi
fi

# Sanitizers and fuzzers (clang), each build in its own folder under build/; about 8 minutes on
# two cores. RRWKV_QUICK=1 leaves them out of a local run; CI always runs them.
if [ "${RRWKV_QUICK:-0}" != 1 ]; then
  bash tools/sanitize.sh asan
  bash tools/sanitize.sh tsan
  # every saved crash input is replayed first, then each target fuzzes for a bounded time
  bash tools/fuzz.sh all "${RRWKV_FUZZ_SECONDS:-30}"
fi

# From tests/, so the in-tree python/ folder cannot shadow the installed package.
(cd tests && python -m pytest -q "$@")

# The Python GPU tests (every file with `cuda`-marked tests) again, on the emulated device: the
# emulated build's module beside a copy of the package, first on the path.
if [ "$emulated" = 1 ] && [ $# -eq 0 ]; then
  stage=$PWD/build/cpp-tests/python
  rm -rf "$stage" && mkdir -p "$stage" && cp -r python/rrwkv_rt "$stage/" && cp build/cpp-tests/_core*.so "$stage/rrwkv_rt/"
  mapfile -t gpu_files < <(cd tests && grep -rl --include='test_*.py' 'pytest.mark.cuda' . | sort)
  echo "Python GPU tests on the emulated device: ${gpu_files[*]}"
  (cd tests && PYTHONPATH="$stage" python -m pytest -q -rs -p no:cacheprovider "${gpu_files[@]}")
fi
