// The delta-rule recurrence of RWKV-7 over a ragged batch. Per head a row keeps an S x S state
// (rows = value channels, columns = key channels) that decays per key channel, forgets along
// the removal key κ at the rate a, and learns v kᵀ:
//     S = S diag(w) - (S κ)(κ ⊙ a)ᵀ + v kᵀ
//     y = S r                                  (the output reads the state after the token)
#pragma once

#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::ops {

struct Wkv7Batch : HeadBatch {
  // token rows of C: receptance, decay in (0, 1), key, value, unit removal key per head, rate
  const float *r = nullptr, *w = nullptr, *k = nullptr, *v = nullptr, *kappa = nullptr, *a = nullptr;
  float* y = nullptr;  // token rows of C
};

void wkv7(ExecContext& ctx, const Wkv7Batch& b);

namespace detail {
void wkv7_cpu(ExecContext& ctx, const Wkv7Batch& b);
void wkv7_cuda(ExecContext& ctx, const Wkv7Batch& b);
}

}  // namespace rrwkv::ops
