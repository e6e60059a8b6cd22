// Normalisation of a batch of rows: LayerNorm (every architecture) and GroupNorm (the ln_x of
// RWKV-5/6/7). Mean and variance are accumulated in double.
#pragma once

#include <cstdint>

#include "ops/context.h"

namespace rrwkv::ops {

// y[i] = LayerNorm(x[i]) * w + b for n rows of `dim` floats; y may be x.
void layer_norm(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w, const float* b,
                double eps, float* y, int64_t ldy);

namespace detail {
void layer_norm_cpu(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w,
                    const float* b, double eps, float* y, int64_t ldy);
// One row (also used inside other CPU bodies).
void layer_norm_row(const float* x, int64_t dim, const float* w, const float* b, double eps, float* y);
}  // namespace detail

}  // namespace rrwkv::ops
