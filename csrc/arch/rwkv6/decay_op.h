// RWKV-6's data-dependent decay, an op of this architecture: w = exp(-exp(time_decay + m)) for
// token rows m (the decay LoRA's output), in (0, 1).
#pragma once

#include <cstdint>

#include "ops/context.h"

namespace rrwkv::rwkv6 {

void decay(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim);

namespace detail {
void decay_cpu(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim);
void decay_cuda(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim);
}

}  // namespace rrwkv::rwkv6
