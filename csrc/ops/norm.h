// Normalisation of a batch of rows: LayerNorm (every architecture) and GroupNorm (the ln_x of
// RWKV-5/6/7). Mean and variance are accumulated in double.
#pragma once

#include <cstdint>

#include "ops/context.h"

namespace rrwkv::ops {

// y[i] = LayerNorm(x[i]) * w + b for n rows of `dim` floats; y may be x.
void layer_norm(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w, const float* b,
                double eps, float* y, int64_t ldy);

// y[i] = GroupNorm(x[i]) * w + b: each row's `dim` floats split into `groups` equal groups, each
// normalised on its own (the ln_x of RWKV-5/6/7, one group per head); y may be x.
void group_norm(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups, const float* w,
                const float* b, double eps, float* y, int64_t ldy);

namespace detail {
void group_norm_cpu(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups,
                    const float* w, const float* b, double eps, float* y, int64_t ldy);
void layer_norm_cpu(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w,
                    const float* b, double eps, float* y, int64_t ldy);
void group_norm_cuda(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups,
                     const float* w, const float* b, double eps, float* y, int64_t ldy);
void layer_norm_cuda(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w,
                     const float* b, double eps, float* y, int64_t ldy);
// One row (also used inside other CPU bodies).
void layer_norm_row(const float* x, int64_t dim, const float* w, const float* b, double eps, float* y);
}  // namespace detail

}  // namespace rrwkv::ops
