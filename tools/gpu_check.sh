#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU, meant for a 15-minute lease: one call of at most
# RRWKV_GPU_CHECK_BUDGET seconds (default 480), every step with a time limit cut to what is left
# of it; tests first, then benchmarks, which the budget may leave out (the summary names them). Builds
# rrwkv_rt with the GPU sources compiled by nvcc (RRWKV_CUDA=ON, the package and the C++ tests in
# one build tree), checks that the module uses the GPU, runs every GPU
# test on it (the C++ tests of tests/gpu and every `cuda`-marked pytest test: a skip is a failure
# here), compute-sanitizer memcheck and racecheck on short runs, the training-kernel benchmark
# (tools/bench_train.py) and the decode recurrences' (tests/gpu/bench_recurrence.cpp, against a
# copy of the same bytes), and inference on the GPU (tools/bench.py --device cuda: decode beside the
# HBM floor, prefill, batches, the rwkv package's cuda fp16; figures in the summary). The same tests
# run in CI on the CPU under HIP-CPU; here a GPU judges them.
#
#   bash tools/gpu_check.sh              # logs and summary.txt under ${OUT:-./gpu_check_out}
#
# Offline: nothing is fetched (the build runs without isolation). Needs nvcc, cmake, ninja,
# GoogleTest, and a Python (PYTHON, default python3) with torch (CUDA build), pytest, numpy,
# scikit-build-core and pybind11. CUDA_ARCH (default 90: H100/H200), JOBS (default all cores),
# RRWKV_GPU_CHECK_NCU=1 adds a short Nsight Compute profile of the WKV kernels;
# RRWKV_GPU_CHECK_LARGE=0 leaves out the 1.5B-shaped inference benchmark (its models take a minute).
# Exit codes: 0 all passed (benchmarks the budget left out are named in the summary); 1 a step failed (its log is named); 2 a tool the check needs is
# missing; 3 the CUDA build passed but there is no usable GPU (nothing to run on: not a pass).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-./gpu_check_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PYTHON=${PYTHON:-python3}
CUDA_ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-$(nproc)}
BUILD=$ROOT/build/gpu-check
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
T0=$SECONDS

note() { echo "== $*" | tee -a "$SUMMARY"; }
die() {  # die CODE MESSAGE
  note "FAIL: $2 (after $((SECONDS - T0))s)"
  exit "$1"
}
# The whole check's budget: a device lease gives one call of at most 10 minutes, so every step's
# limit is cut to what is left of it. Tests and sanitizers come first and fail when it runs out;
# benchmarks (steps named bench-* or ncu) are then left out, and the summary names them.
BUDGET=${RRWKV_GPU_CHECK_BUDGET:-480}
LEFT_OUT=()
# step NAME SECONDS CMD...: runs CMD with a time limit, output to $OUT/NAME.log and the terminal.
# Returns 1 (without running) for a benchmark the budget has no room for.
step() {
  local name=$1 secs=$2
  shift 2
  local left=$((BUDGET - (SECONDS - T0)))
  case "$name" in
    bench-* | ncu)
      if [ "$left" -lt 30 ]; then
        note "$name left out: ${left}s of the ${BUDGET}s budget remain (RRWKV_GPU_CHECK_BUDGET)"
        LEFT_OUT+=("$name")
        return 1
      fi ;;
    *) [ "$left" -ge 15 ] || die 1 "$name could not run: ${left}s of the ${BUDGET}s budget remain (RRWKV_GPU_CHECK_BUDGET)" ;;
  esac
  [ "$secs" -le "$left" ] || secs=$left
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
# no_skips NAME XML: every test in the JUnit XML ran (pytest and GoogleTest write the same shape).
no_skips() {
  local rc=0
  "$PYTHON" - "$2" <<'EOF' | tee -a "$SUMMARY" || rc=$?
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = list(root.iter("testcase"))
skipped = [c.get("classname", "") + "." + c.get("name", "") for c in cases if c.find("skipped") is not None
           or c.get("result") == "skipped" or c.get("status") == "notrun"]
print(f"{sys.argv[1].rsplit('/', 1)[-1]}: {len(cases)} tests, {len(skipped)} skipped {skipped[:5]}")
sys.exit(1 if skipped or not cases else 0)
EOF
  [ "$rc" -eq 0 ] || die 1 "$1: tests were skipped or none ran although a GPU is present; see $OUT/$1.log"
}

for tool in nvcc cmake ninja timeout "$PYTHON"; do
  command -v "$tool" >/dev/null || die 2 "'$tool' not found on PATH; this check needs it"
done
"$PYTHON" -c "import torch, pytest, numpy, scikit_build_core, pybind11" 2>/dev/null ||
  die 2 "$PYTHON cannot import torch, pytest, numpy, scikit_build_core and pybind11; install them or set PYTHON"
[ -e /usr/include/gtest/gtest.h ] || [ -n "${GTEST_ROOT:-}" ] ||
  die 2 "GoogleTest headers not found (apt-get install libgtest-dev, or set GTEST_ROOT)"

# ---- 1. versions ------------------------------------------------------------------------------
HAVE_GPU=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$OUT/nvidia-smi-L.log" 2>&1 \
    && grep -q '^GPU ' "$OUT/nvidia-smi-L.log"; then
  HAVE_GPU=1
fi
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  commit: $(git rev-parse HEAD 2>/dev/null || echo '?')"
  nvcc --version | tail -n 2
  if [ "$HAVE_GPU" = 1 ]; then nvidia-smi; else echo "nvidia-smi: no usable GPU ($(cat "$OUT/nvidia-smi-L.log" 2>/dev/null || echo 'not installed'))"; fi
  cmake --version | head -n 1
  echo "ninja $(ninja --version)"
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/versions.log" | tee -a "$SUMMARY"

# ---- 2. build: the package and the C++ tests in one tree, nvcc forced on ------------------------
# RRWKV_CUDA=ON makes a missing nvcc a configure error instead of a silent CPU-only build.
export CMAKE_BUILD_PARALLEL_LEVEL=$JOBS
step build 300 "$PYTHON" -m pip install --no-build-isolation --no-deps -v \
  -Ccmake.define.RRWKV_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" \
  -Ccmake.define.RRWKV_BUILD_TESTS=ON -Cbuild-dir="$BUILD" .
grep -q "CUDA kernels ON" "$OUT/build.log" || die 1 "the build was configured without CUDA; see $OUT/build.log"
GPU_TESTS=$BUILD/tests/gpu/rrwkv_gpu_tests
[ -x "$GPU_TESTS" ] || die 1 "the build made no $GPU_TESTS; see $OUT/build.log"

# Python steps run from tests/, so the in-tree python/ folder cannot shadow the installed package.
cat >"$OUT/module.py" <<'EOF'
from rrwkv_rt import _core
print("cuda_compiled:", _core.cuda_compiled(), "| emulated:", _core.gpu_emulated(), "| cuda_status:", _core.cuda_status())
assert _core.cuda_compiled() and not _core.gpu_emulated(), "the installed module is not the nvcc build"
EOF
step module-compiled 45 env -C "$ROOT/tests" "$PYTHON" "$OUT/module.py"

if [ "$HAVE_GPU" != 1 ]; then
  note "NO GPU: the CUDA build passed, but nvidia-smi sees no usable GPU, so the GPU steps cannot run here."
  exit 3
fi

# ---- 3. the module must use the GPU that nvidia-smi sees --------------------------------------
cat >"$OUT/module_device.py" <<'EOF'
import torch
from rrwkv_rt import _core
n = _core.cuda_device_count()
print("rrwkv_rt sees", n, "device(s):", _core.cuda_status(), "| torch sees", torch.cuda.device_count())
assert n > 0, "nvidia-smi lists a GPU but the built module cannot use it: " + _core.cuda_status()
assert torch.cuda.is_available(), "torch cannot use the GPU (a CPU-only torch?): the Python GPU tests would be skipped"
EOF
step module-device 45 env -C "$ROOT/tests" "$PYTHON" "$OUT/module_device.py"

# ---- 4. every GPU test on the GPU, none skipped ----------------------------------------------------
step gpu-tests-cpp 90 "$GPU_TESTS" --gtest_output="xml:$OUT/gpu-tests-cpp.xml"
no_skips gpu-tests-cpp "$OUT/gpu-tests-cpp.xml"
# only the files that have GPU tests are collected (the device API, CLI, server, C API and bench
# tests among them), so a missing test-only package elsewhere
# (rwkv, openai, ...) on an offline machine does not stop them
mapfile -t GPU_TEST_FILES < <(cd "$ROOT/tests" && grep -rl --include='test_*.py' 'pytest.mark.cuda' . | sort)
[ "${#GPU_TEST_FILES[@]}" -gt 0 ] || die 1 "no test file under tests/ is marked cuda"
# the server on the GPU needs the server extra and the openai client: without them that file is
# left out by name (said in the summary), not skipped
if ! "$PYTHON" -c "import fastapi, uvicorn, httpx, openai" 2>/dev/null; then
  note "NOT RUN: tests/gpu/test_serve_cuda.py (this Python lacks fastapi, uvicorn, httpx or openai)"
  mapfile -t GPU_TEST_FILES < <(printf '%s\n' "${GPU_TEST_FILES[@]}" | grep -v 'test_serve_cuda.py$')
fi
step gpu-tests-py 180 env -C "$ROOT/tests" "$PYTHON" -m pytest -q -rs -m "cuda or real_gpu" \
  --junitxml="$OUT/gpu-tests-py.xml" "${GPU_TEST_FILES[@]}"
no_skips gpu-tests-py "$OUT/gpu-tests-py.xml"

# ---- 5. compute-sanitizer on short runs: memory errors, then shared-memory races -------------------
SHORT='GpuVendor.*:GpuGemm.*:GpuOps.*:GpuWkvRuns.*:*GpuWkv.MisalignedBuffersAndInPlaceState/*:*GpuRecurrence*:GpuGraph.*:GpuTimeMix.*:GpuSplit16.*:EngineGraphsBuckets.*:EngineWaits.*'
if command -v compute-sanitizer >/dev/null; then
  step memcheck 90 compute-sanitizer --tool memcheck --error-exitcode 1 --leak-check full "$GPU_TESTS" \
    --gtest_filter="$SHORT" --gtest_brief=1
  step racecheck 90 compute-sanitizer --tool racecheck --error-exitcode 1 "$GPU_TESTS" \
    --gtest_filter="$SHORT" --gtest_brief=1
else
  die 2 "compute-sanitizer not found (it comes with the CUDA toolkit); memcheck and racecheck cannot run"
fi

# ---- 6. benchmarks on the GPU ---------------------------------------------------------------------
step bench-train 120 env -C "$ROOT/tests" "$PYTHON" "$ROOT/tools/bench_train.py" --no-torch || true
# the decode recurrences against the memory floor (a copy of the same state bytes, same run)
step bench-recurrence 60 "$BUILD/tests/gpu/rrwkv_gpu_bench" || true
# prefill projections: ops::linear's GEMM paths (f32, split f16/bf16) against its matvec kernels
step bench-linear 90 "$BUILD/tests/gpu/rrwkv_gpu_bench_linear" || true

# ---- 7. inference on the GPU: tools/bench.py --device cuda --------------------------------------
# Batch-1 decode ms/token beside the HBM floor (weight bytes per token / the device-to-device copy
# bandwidth measured in the same rounds), prefill tokens/s, aggregate tokens/s by batch size, and
# the official rwkv package's `cuda fp16` on the same weights (skipped if it is not installed).
# Small round counts to fit the lease; the figures (stdout) go to the summary.
BENCH_MODELS=$OUT/bench-models
bench_step() {  # bench_step NAME SECONDS BENCH_ARGS...
  local name=$1 secs=$2
  shift 2
  step "$name" "$secs" env -C "$ROOT/tests" bash -c 'set -o pipefail; "$0" "$@" | tee "'"$OUT/$name.txt"'"' \
    "$PYTHON" "$ROOT/tools/bench.py" --device cuda --models-dir "$BENCH_MODELS" --no-memory "$@" || return 0
  { echo "-- figures of $name:"; cat "$OUT/$name.txt"; } >>"$SUMMARY"
}
bench_step bench-inference-169m 180 --shape 169m --archs rwkv4,rwkv7 --dtypes f16,q8_0,q4_1 \
  --batch-sizes 1,8,64,256 --rounds 3 --repeats 2 --decode-tokens 16 --pkg-decode-tokens 8 --prefill-len 512 \
  --batch-rounds 2 --batch-steps 4 --bandwidth-mib 1024
# the 1.5B shape of the speed goals (RWKV-7, f16 and q8_0); RRWKV_GPU_CHECK_LARGE=0 leaves it out
if [ "${RRWKV_GPU_CHECK_LARGE:-1}" = 1 ]; then
  bench_step bench-inference-1.5b 240 --shape 1.5b --archs rwkv7 --dtypes f16,q8_0 --batch-sizes 1,64,256 \
    --rounds 2 --repeats 2 --decode-tokens 16 --pkg-decode-tokens 8 --prefill-len 1024 --batch-rounds 2 \
    --batch-steps 4 --bandwidth-mib 1024
fi

if [ "${RRWKV_GPU_CHECK_NCU:-0}" = 1 ] && command -v ncu >/dev/null; then
  step ncu 180 env -C "$ROOT/tests" ncu --target-processes all --kernel-name regex:wkv --launch-count 4 \
    "$GPU_TESTS" --gtest_filter='GpuWkvRuns.BackwardIsDeterministic' || true
fi

if [ "${#LEFT_OUT[@]}" -gt 0 ]; then
  note "ALL PASSED in $((SECONDS - T0))s (logs in $OUT); left out for the budget: ${LEFT_OUT[*]}"
else
  note "ALL PASSED in $((SECONDS - T0))s (logs in $OUT)"
fi
