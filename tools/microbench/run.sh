#!/usr/bin/env bash
# Builds and runs one micro-benchmark of tools/microbench/ against the core library of a pip build
# of this worktree (build/<wheel tag>/csrc/librrwkv_core.a, made by `pip install .`):
#   bash tools/microbench/run.sh NAME [ARGS...]
# BASE=<a matvec_avx512.cpp or a fast_bf16_avx512.cpp> (another version of those kernels, e.g.
# from a checkout of main) compiles it in beside them, renamed, for the benchmarks that compare
# the two in one run (matvec_bytes, decode_stream, fast_bf16).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
name=${1:?"usage: run.sh NAME [ARGS...] (NAME.cpp in tools/microbench/)"}
shift
lib=$(ls -d "$root"/build/cp*/csrc/librrwkv_core.a 2>/dev/null | head -1)  # the pip build (build/<wheel tag>)
[ -n "$lib" ] || { echo "no build/cp*/csrc/librrwkv_core.a: run 'pip install .' in $root first" >&2; exit 1; }
out=${TMPDIR:-/tmp}/rrwkv_microbench_$name
extra=()
if [ -n "${BASE:-}" ]; then
  case "$(basename "$BASE")" in
    matvec_avx512.cpp) rename=kernels_avx512 define=RRWKV_MICROBENCH_BASE ;;
    fast_bf16_avx512.cpp) rename=fast_bf16_avx512 define=RRWKV_MICROBENCH_BASE_FAST_BF16 ;;
    *) echo "BASE must be a matvec_avx512.cpp or a fast_bf16_avx512.cpp" >&2; exit 1 ;;
  esac
  g++ -O3 -std=c++17 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c -I"$root/csrc" \
    -D$rename=${rename}_base -c "$BASE" -o "$out.base.o"
  extra=(-D$define "$out.base.o")
fi
g++ -O3 -std=c++17 -I"$root/csrc" "${extra[@]}" "$here/$name.cpp" "$lib" -o "$out" -lpthread -ldl
"$out" "$@"
