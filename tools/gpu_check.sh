#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds rrwkv_rt with the CUDA kernels
# (csrc/cuda/: device.cu, wkv_cuda.cu, compiled when RRWKV_CUDA is ON/AUTO and nvcc is found),
# checks that the built module can use the GPU, runs the CUDA tests (tests/kernels/test_wkv_cuda.py
# and every test marked `cuda`), compute-sanitizer memcheck on a short one, and the training-kernel
# benchmark (tools/bench_train.py). Meant to finish in under 8 minutes on a 16-core machine.
#
#   bash tools/gpu_check.sh              # logs under ${OUT:-./gpu_check_out}
#
# Environment: PYTHON (default python3; needs torch with CUDA, pytest), CUDA_ARCH (default 90,
# i.e. H100/H200; the project default "80-real 90" also works but compiles twice), JOBS,
# RRWKV_GPU_CHECK_NCU=1 to add a short Nsight Compute profile of the WKV kernels.
# Exit codes: 0 all passed; 1 a step failed (its log is named in the message); 2 a tool the
# check needs is missing; 3 the CUDA build passed but there is no usable GPU here (nothing to run
# the GPU steps on: this is not a pass).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PYTHON=${PYTHON:-python3}
CUDA_ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-$(nproc)}
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

note() { echo "== $*" | tee -a "$SUMMARY"; }
die() {  # die CODE MESSAGE
  note "FAIL: $2"
  exit "$1"
}
# step NAME SECONDS CMD...: runs CMD with a time limit, output to $OUT/NAME.log and the terminal.
step() {
  local name=$1 secs=$2
  shift 2
  note "$name (limit ${secs}s)"
  local start=$SECONDS rc=0
  timeout --kill-after=10 "$secs" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  tail -n 25 "$OUT/$name.log"
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && die 1 "$name ran past ${secs}s; see $OUT/$name.log"
    die 1 "$name exited $rc; see $OUT/$name.log"
  fi
  note "$name ok in $((SECONDS - start))s"
}

for tool in nvcc cmake ninja "$PYTHON"; do
  command -v "$tool" >/dev/null || die 2 "'$tool' not found on PATH; this check needs it"
done
# The machine may be offline: the build runs without isolation and without fetching dependencies.
"$PYTHON" -c "import torch, pytest, numpy, scikit_build_core, pybind11" 2>/dev/null ||
  die 2 "$PYTHON cannot import torch, pytest, numpy, scikit_build_core and pybind11; install them or set PYTHON"

# ---- 1. versions ------------------------------------------------------------------------------
HAVE_GPU=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$OUT/nvidia-smi-L.log" 2>&1 \
    && grep -q '^GPU ' "$OUT/nvidia-smi-L.log"; then
  HAVE_GPU=1
fi
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  commit: $(git rev-parse HEAD 2>/dev/null || echo '?')"
  nvcc --version
  if [ "$HAVE_GPU" = 1 ]; then nvidia-smi; else echo "nvidia-smi: no usable GPU ($(cat "$OUT/nvidia-smi-L.log" 2>/dev/null || echo 'not installed'))"; fi
  cmake --version | head -n 1
  echo "ninja $(ninja --version)"
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/versions.log" | tee -a "$SUMMARY"

# ---- 2. build: the Python package and the C++ tests, CUDA forced on --------------------------
# RRWKV_CUDA=ON makes a missing nvcc a configure error instead of a silent CPU-only build.
export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
step build-python 360 "$PYTHON" -m pip install --no-build-isolation --no-deps -v \
  -Ccmake.define.RRWKV_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" \
  -Cbuild-dir="$ROOT/build/gpu-check-py" .
grep -q "CUDA kernels ON" "$OUT/build-python.log" || die 1 "the package was configured without CUDA; see $OUT/build-python.log"

if [ -e /usr/include/gtest/gtest.h ] || [ -n "${GTEST_ROOT:-}" ]; then
  step configure-cpp 120 cmake -S . -B build/gpu-check-cpp -G Ninja -DRRWKV_BUILD_TESTS=ON \
    -DRRWKV_BUILD_PYTHON=OFF -DRRWKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH"
  grep -q "CUDA kernels ON" "$OUT/configure-cpp.log" || die 1 "C++ tests configured without CUDA; see $OUT/configure-cpp.log"
  step build-cpp 300 cmake --build build/gpu-check-cpp -j "$JOBS"
  # The C++ tests are host tests; built against the CUDA library they check that linking it in
  # (static cudart) breaks nothing, GPU or not.
  step ctest 180 ctest --test-dir build/gpu-check-cpp --output-on-failure -j "$JOBS"
else
  die 2 "GoogleTest headers not found (apt-get install libgtest-dev, or set GTEST_ROOT)"
fi

# Python steps run from tests/, so the in-tree python/ folder cannot shadow the installed package.
cat >"$OUT/module_compiled.py" <<'EOF'
from rrwkv_rt import _core
print("cuda_compiled:", _core.cuda_compiled(), "| cuda_status:", _core.cuda_status())
assert _core.cuda_compiled(), "the installed module was built without the CUDA kernels"
EOF
step module-compiled 60 env -C "$ROOT/tests" "$PYTHON" "$OUT/module_compiled.py"

if [ "$HAVE_GPU" != 1 ]; then
  note "NO GPU: the CUDA build passed, but nvidia-smi sees no usable GPU, so the GPU steps (module on the device, CUDA tests, memcheck, benchmark) cannot run here."
  exit 3
fi

# ---- 3. the module must use the GPU that nvidia-smi sees --------------------------------------
cat >"$OUT/module_device.py" <<'EOF'
import torch
from rrwkv_rt import _core
n = _core.cuda_device_count()
print("rrwkv_rt sees", n, "device(s):", _core.cuda_status(), "| torch sees", torch.cuda.device_count())
assert n > 0, "nvidia-smi lists a GPU but the built module cannot use it: " + _core.cuda_status()
assert torch.cuda.is_available(), "torch cannot use the GPU (a CPU-only torch?): the CUDA tests would be skipped"
EOF
step module-device 60 env -C "$ROOT/tests" "$PYTHON" "$OUT/module_device.py"

# ---- 4. CUDA tests: every test marked cuda, none may be skipped --------------------------------
# only the files that have cuda tests are collected, so a missing test-only package elsewhere
# (rwkv, openai, ...) on an offline machine does not stop them
mapfile -t CUDA_TEST_FILES < <(cd "$ROOT/tests" && grep -rl --include='test_*.py' 'pytest.mark.cuda' . | sort)
[ "${#CUDA_TEST_FILES[@]}" -gt 0 ] || die 1 "no test file under tests/ is marked cuda"
step cuda-tests 240 env -C "$ROOT/tests" "$PYTHON" -m pytest -q -rs -m cuda --junitxml="$OUT/cuda-tests.xml" "${CUDA_TEST_FILES[@]}"
cat >"$OUT/count_skips.py" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"cuda tests: {tests} run, {skipped} skipped")
sys.exit(1 if skipped or tests == 0 else 0)
EOF
"$PYTHON" "$OUT/count_skips.py" "$OUT/cuda-tests.xml" | tee -a "$SUMMARY" ||
  die 1 "CUDA tests were skipped or none ran although a GPU is present; see $OUT/cuda-tests.log"

# ---- 5. compute-sanitizer memcheck on a short CUDA test ---------------------------------------
if command -v compute-sanitizer >/dev/null; then
  step memcheck 240 env -C "$ROOT/tests" compute-sanitizer --tool memcheck --error-exitcode 1 \
    --target-processes all "$PYTHON" -m pytest -q -x kernels/test_wkv_cuda.py::test_cuda_runs_on_the_current_stream
else
  note "compute-sanitizer not found: memcheck NOT run"
fi

# ---- 6. training-kernel benchmark on the GPU ---------------------------------------------------
step bench-train 240 env -C "$ROOT/tests" "$PYTHON" "$ROOT/tools/bench_train.py" --no-torch

if [ "${RRWKV_GPU_CHECK_NCU:-0}" = 1 ] && command -v ncu >/dev/null; then
  step ncu 240 env -C "$ROOT/tests" ncu --target-processes all --kernel-name regex:wkv --launch-count 4 \
    "$PYTHON" -m pytest -q -x kernels/test_wkv_cuda.py::test_cuda_runs_on_the_current_stream
fi

note "ALL PASSED (logs in $OUT)"
