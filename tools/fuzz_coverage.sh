#!/usr/bin/env bash
# Line and region coverage of csrc/format/ and csrc/tokenizer/ reached by the fuzzers' corpora
# (the committed seeds, the saved crash inputs and what tools/fuzz.sh runs found in
# build/fuzz/corpus): builds the targets with clang source-based coverage in build/coverage,
# replays every input once and prints llvm-cov's report.
#   tools/fuzz_coverage.sh [TARGET...]     (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model_file state vocab tokenizer)
build=build/coverage
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRRWKV_CUDA=OFF \
    -DRRWKV_BUILD_FUZZERS=ON -DRRWKV_COVERAGE=ON -DRRWKV_BUILD_PYTHON=OFF -DRRWKV_BUILD_CAPI=OFF >/dev/null
fi
rm -f "$build"/*.profraw
objects=()
for t in "${targets[@]}"; do
  cmake --build "$build" --target "fuzz_$t" >/dev/null
  dirs=()
  for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" "build/fuzz/corpus/$t"; do
    [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && dirs+=("$d")
  done
  LLVM_PROFILE_FILE="$build/$t.profraw" "$build/tests/fuzz/fuzz_$t" -runs=0 "${dirs[@]}" >/dev/null 2>&1
  objects+=(-object "$build/tests/fuzz/fuzz_$t")
done
llvm-profdata merge -sparse "$build"/*.profraw -o "$build/fuzz.profdata"
llvm-cov report -instr-profile="$build/fuzz.profdata" "${objects[@]:1}" \
  "$PWD/csrc/format/" "$PWD/csrc/tokenizer/" "$PWD/csrc/core/text.cpp" "$PWD/csrc/core/crc32.cpp"
