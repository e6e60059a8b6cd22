// The rows of a ragged batch as the ops that walk tokens in order see them: row i has the token
// rows [start[i], start[i+1]) and its own state (a pointer into the engine's state of that row).
#pragma once

#include <cstdint>

namespace rrwkv::ops {

struct RaggedRows {
  int64_t n_rows = 0;
  const int64_t* start = nullptr;  // n_rows + 1 token offsets
  float* const* state = nullptr;   // each row's state
  int64_t n_tokens() const { return start[n_rows]; }
};

}  // namespace rrwkv::ops
