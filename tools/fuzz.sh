#!/usr/bin/env bash
# Runs one libFuzzer target (tests/fuzz/README.md):
#   tools/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
# TARGET: model_file | state | vocab | tokenizer | tokenizer_json | all (each for SECONDS). Builds the targets
# with clang, ASan and UBSan in build/fuzz, replays every saved crash in
# tests/fuzz/regressions/TARGET (each must now run clean), then fuzzes for SECONDS starting from
# the committed seeds (tests/fuzz/corpus/TARGET) plus what earlier runs found (build/fuzz/corpus).
# A crash stops the run; its input is in build/fuzz/artifacts/TARGET/: fix the bug, then add the
# input to tests/fuzz/regressions/TARGET/ so that it is replayed from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: tools/fuzz.sh model_file|state|vocab|tokenizer|tokenizer_json|all SECONDS [libFuzzer flags]" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
targets=(model_file state vocab tokenizer tokenizer_json)
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do bash "$0" "$t" "$seconds" "$@"; done
  exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "unknown target '$target'; expected one of: ${targets[*]} all" >&2; exit 2 ;; esac

if ! command -v clang++ >/dev/null; then
  echo "installing clang (libFuzzer and the sanitizers)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
build=build/fuzz
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRRWKV_CUDA=OFF \
    -DRRWKV_BUILD_FUZZERS=ON -DRRWKV_SANITIZE=address,undefined -DRRWKV_BUILD_PYTHON=OFF -DRRWKV_BUILD_CAPI=OFF >/dev/null
fi
cmake --build "$build" --target "fuzz_$target" >/dev/null
bin=$build/tests/fuzz/fuzz_$target

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
seeds=tests/fuzz/corpus/$target regressions=tests/fuzz/regressions/$target
case $target in
  model_file|vocab|tokenizer_json) max_len=65536 ;;
  *) max_len=8192 ;;
esac
# Every input must be handled in well under a second and in bounded memory: a slow input or a
# big allocation is a finding like a crash.
flags=(-max_len=$max_len -timeout=10 -rss_limit_mb=1536 -malloc_limit_mb=512 -print_final_stats=1)
[ -f "tests/fuzz/$target.dict" ] && flags+=(-dict="tests/fuzz/$target.dict")

shopt -s nullglob
saved=("$regressions"/*)
if [ ${#saved[@]} -gt 0 ]; then
  echo "fuzz_$target: replaying ${#saved[@]} saved crash input(s) from $regressions"
  "$bin" "${flags[@]}" "${saved[@]}" >"$build/replay_$target.log" 2>&1 ||
    { tail -40 "$build/replay_$target.log"; echo "fuzz_$target: a saved crash input fails again" >&2; exit 1; }
fi
[ "$seconds" -gt 0 ] || exit 0
mkdir -p "$build/corpus/$target" "$build/artifacts/$target"
echo "fuzz_$target: fuzzing for ${seconds}s"
"$bin" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$build/artifacts/$target/" \
  "$@" "$build/corpus/$target" "$seeds" 2>"$build/fuzz_$target.log" ||
  { tail -60 "$build/fuzz_$target.log"
    echo "fuzz_$target: FOUND A CRASH; input in $build/artifacts/$target/ — fix it, then add it to $regressions/" >&2
    exit 1; }
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$build/fuzz_$target.log" | sed "s/^/fuzz_$target: /"
