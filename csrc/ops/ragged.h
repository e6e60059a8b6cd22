// The rows of a ragged batch, as every op that walks tokens in order sees them: row i has the
// token rows [start[i], start[i+1]) and its state, row row[i] of the engine's state store (all of
// it device memory: the arrays are staged where the device reads them once per call, and the
// states are the store's). RaggedBatch (arch/architecture.h) is one call: these rows plus
// tokens, positions, logits.
#pragma once

#include <cstdint>

namespace rrwkv::ops {

struct RaggedRows {
  int64_t n_rows = 0;
  const int64_t* start = nullptr;  // n_rows + 1 token offsets, start[0] = 0
  const int64_t* row = nullptr;    // each batch row's row in the state store
  float* states = nullptr;         // the store (StateStore::data()): state_floats per row
  int64_t state_floats = 0;

  int64_t n_tokens() const { return start[n_rows]; }
  int64_t len(int64_t i) const { return start[i + 1] - start[i]; }
  // Batch row i's state (the architecture's schema).
  float* state(int64_t i) const { return states + row[i] * state_floats; }
  bool valid() const { return n_rows >= 0 && start && (n_rows == 0 || (row && states && state_floats > 0)); }
};

// RRWKV's mediums in a ragged batch (arch/rwkv4/mediums.h builds them): row i's mediums are
// [med_start[i], med_start[i+1]), and medium j folds in right after the row's local token
// fold_at[j]. s == 0: no mediums (RWKV-4).
struct MediumRows {
  int64_t s = 0;                       // medium interval
  const int64_t* med_start = nullptr;  // n_rows + 1 offsets
  const int64_t* fold_at = nullptr;    // local token index per medium
};

// The operands every matrix-state recurrence (wkv5, wkv7) has: its rows, C channels in heads of
// head_size, and where in a row's state its C / head_size states of head_size^2 floats lie.
struct HeadBatch {
  RaggedRows rows;
  int64_t C = 0, head_size = 0;
  int64_t field = -1;
  bool valid() const {
    return C > 0 && head_size > 0 && C % head_size == 0 && field >= 0 && rows.valid();
  }
};

}  // namespace rrwkv::ops
