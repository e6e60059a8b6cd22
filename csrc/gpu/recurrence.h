// The recurrences of every architecture on device buffers, asynchronous on `stream`: the GPU twins
// of ops::wkv4 (RWKV-4 and RRWKV), ops::wkv5 (RWKV-5.2, RWKV-6) and ops::wkv7 (RWKV-7), with the
// same operands, over a ragged batch whose bookkeeping lies in device memory. One call serves a
// decode step of many rows at their own positions (one token each) and a prefill (many tokens):
// each row walks its tokens in order in its own state. The per-step math is the CPU's
// (kernels/wkv/wkv_step.h, wkv5_step.h, wkv7_step.h), so a row's results do not depend on the
// other rows of the call.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// Row i owns the token rows [start[i], start[i+1]) and row row[i] of a state store: the state at
// states + row[i] * state_floats, laid out as the architecture's state schema (ops::RaggedRows's
// fields, all in device memory).
struct DeviceRows {
  int64_t n_rows = 0;
  const int64_t* start = nullptr;  // n_rows + 1 token offsets
  const int64_t* row = nullptr;    // n_rows store rows
  float* states = nullptr;
  int64_t state_floats = 0;
  bool valid() const { return n_rows >= 0 && (n_rows == 0 || (start && row && states && state_floats > 0)); }
};

// ops::Wkv4Batch on the device: per channel (docs/RRWKV.md §5) the output from the state before
// the token, the token update, and, where the row's medium j folds in right after its local token
// fold_at[j], the medium fold. wm == nullptr: RWKV-4 (no mediums, the medium fields unused).
struct Wkv4Batch {
  DeviceRows rows;
  int64_t C = 0;
  const float *w = nullptr, *u = nullptr;    // (C) decay rate exp(time_decay), time_first
  const float *wm = nullptr, *bm = nullptr;  // (C) exp(time_decay_m), time_first_m; null: RWKV-4
  const int64_t* med_start = nullptr;        // RRWKV: row i's mediums [med_start[i], med_start[i+1])
  const int64_t* fold_at = nullptr;          //   medium j folds in after the row's local token fold_at[j]
  const float *km = nullptr, *vm = nullptr;  //   medium rows of C
  const float *k = nullptr, *v = nullptr;    // token rows of C
  int64_t field[6] = {-1, -1, -1, -1, -1, -1};  // aa, bb, pp, ma, mb, mp in a row state (C floats each)
  const float* r = nullptr;                  // if set, out = r ⊙ wkv
  float* out = nullptr;                      // token rows of C
};
void wkv4(const Wkv4Batch& b, void* stream);

// ops::Wkv5Batch on the device: per head of S = head_size channels, y = rᵀ (diag(u) k vᵀ + S_old),
// S = k vᵀ + diag(w) S_old; w rows have stride ldw (0: one decay for every token, RWKV-5).
struct Wkv5Batch {
  DeviceRows rows;
  int64_t C = 0, head_size = 0;
  int64_t field = -1;  // the C / S states of S x S floats in a row state
  const float *r = nullptr, *k = nullptr, *v = nullptr, *w = nullptr;
  int64_t ldw = 0;
  const float* u = nullptr;  // (C)
  float* y = nullptr;
};
void wkv5(const Wkv5Batch& b, void* stream);

// ops::Wkv7Batch on the device: per head S = S diag(w) - (S κ)(κ ⊙ a)ᵀ + v kᵀ, then y = S r.
struct Wkv7Batch {
  DeviceRows rows;
  int64_t C = 0, head_size = 0;
  int64_t field = -1;
  const float *r = nullptr, *w = nullptr, *k = nullptr, *v = nullptr, *kappa = nullptr, *a = nullptr;
  float* y = nullptr;
};
void wkv7(const Wkv7Batch& b, void* stream);

}  // namespace rrwkv::gpu
