// The WKV recurrence of RWKV-4 and RRWKV (docs/RRWKV.md §3, §5) over a ragged batch: row i of
// the batch has its own state and its tokens [start[i], start[i+1]) in the token matrices, and
// RRWKV mediums fold into its state at its own segment ends. One call serves a decode step of
// many sequences (one token each) and the prefill of one (many tokens) alike.
#pragma once

#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::ops {

struct Wkv4Batch {
  int64_t C = 0;
  const float *w = nullptr, *u = nullptr;    // (C) decay rate exp(time_decay), time_first
  const float *wm = nullptr, *bm = nullptr;  // (C) exp(time_decay_m), time_first_m; null: RWKV-4
  RaggedRows rows;
  const float *k = nullptr, *v = nullptr;    // token rows, C floats each
  // RRWKV: the mediums of row i are rows [med_start[i], med_start[i+1]) of km, vm (MediumRows).
  MediumRows mediums;
  const float *km = nullptr, *vm = nullptr;
  // The state of row i: fields aa, bb, pp, ma, mb, mp at rows.state(i) + field[f] (C floats
  // each); field[f] < 0 for the medium fields of RWKV-4.
  int64_t field[6] = {-1, -1, -1, -1, -1, -1};
  const float* r = nullptr;  // if set, out = r ⊙ wkv (token rows)
  float* out = nullptr;      // token rows
};

void wkv4(ExecContext& ctx, const Wkv4Batch& b);

namespace detail {
void wkv4_cpu(ExecContext& ctx, const Wkv4Batch& b);
void wkv4_cuda(ExecContext& ctx, const Wkv4Batch& b);
}

}  // namespace rrwkv::ops
