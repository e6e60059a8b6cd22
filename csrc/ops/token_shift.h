// Token shift over a ragged batch: prev[t] = the previous token's x in the same row, the row's
// carried value (state field `field`, dim floats) for its first token; then the field takes the
// row's last x. Every RWKV block mixes its input with this.
#pragma once

#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::ops {

void token_shift(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field, float* prev);

namespace detail {
void token_shift_cpu(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field, float* prev);
void token_shift_cuda(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field, float* prev);
}

}  // namespace rrwkv::ops
