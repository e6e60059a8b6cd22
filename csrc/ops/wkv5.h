// The matrix-state recurrence of RWKV-5.2 and RWKV-6 over a ragged batch. Per head h (S = head
// size channels) a row keeps an S x S state (rows = key channels, columns = value channels):
//     y_t = r_tᵀ (diag(u) k_t v_tᵀ + S)        (the output reads the state before the token)
//     S   = k_t v_tᵀ + diag(w_t) S
// w is a decay in (0, 1): one vector for every token (RWKV-5, ldw = 0) or one per token (RWKV-6).
#pragma once

#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::ops {

struct Wkv5Batch : HeadBatch {
  const float *r = nullptr, *k = nullptr, *v = nullptr;  // token rows of C
  const float* w = nullptr;  // decay rows of C, row stride ldw (0: the same for all)
  int64_t ldw = 0;
  const float* u = nullptr;  // (C) bonus of the current token
  float* y = nullptr;        // token rows of C
};

void wkv5(ExecContext& ctx, const Wkv5Batch& b);

namespace detail {
void wkv5_cpu(ExecContext& ctx, const Wkv5Batch& b);
void wkv5_cuda(ExecContext& ctx, const Wkv5Batch& b);
}

}  // namespace rrwkv::ops
