// How the CPU steps of the matrix-state recurrences (ops/wkv5_cpu.cpp, ops/wkv7_cpu.cpp) ask for
// their state ahead. A head's state is walked row by row, read and written once a token; at a
// batch of many rows the states stream from memory (64 rows of a 169M RWKV-6 or RWKV-7: 151 MB
// read and written a step), and without this the steps waited on each row's first load (perf:
// 41% of RWKV-7's step samples). Prefetches never fault, so asking past a head's end is harmless.
#pragma once

#include <cstdint>

namespace rrwkv::ops::detail {

constexpr int64_t kStateRowsAhead = 8;  // 4 measured 1.05x, 8 1.1x on RWKV-7's fast batch of 64

// Asks for the `floats` values at `row` into the cache, for writing.
inline void prefetch_state_row(const float* row, int64_t floats) {
  const char* p = reinterpret_cast<const char*>(row);
  const int64_t bytes = floats * static_cast<int64_t>(sizeof(float));
  for (int64_t line = 0; line < bytes; line += 64) __builtin_prefetch(p + line, 1);
}

}  // namespace rrwkv::ops::detail
