// Scratch buffers of a Session (internal to runtime/): one 64-byte aligned allocation each.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"

namespace rrwkv {

// Hands out 64-byte aligned float arrays from one block sized up front.
class Arena {
 public:
  explicit Arena(const std::vector<int64_t>& sizes);
  float* operator[](size_t i) const { return ptrs_[i]; }

 private:
  std::vector<float> buf_;
  std::vector<float*> ptrs_;
};

// Decode: vectors of one token.
struct Session::DecodeScratch {
  explicit DecodeScratch(const Model& m);
  Arena arena;
  float *x, *xa, *xk, *xv, *xr, *med, *k, *v, *r, *km, *vm, *rw, *out;  // C each
  float *y, *yk, *yr, *rr, *vv;                                         // C each
  float* kk;                                                            // F
};

// Prefill: matrices of one chunk of up to `chunk` tokens (rows of C or F floats). The K, V
// inputs and outputs have room for the mediums completing in the chunk below the token rows.
struct Session::PrefillScratch {
  PrefillScratch(const Model& m, int64_t chunk);
  int64_t max_mediums;
  Arena arena;
  float *x, *xa, *xr, *r;    // T x C
  float *xk, *xv, *k, *v;    // (T + max_mediums) x C
  float* kk;                 // T x F
  float *seg, *med;          // C: running segment sums / medium of the channel-mix walk
  std::vector<int64_t> fold_at;
};

}  // namespace rrwkv
