// Elementwise updates of a batch of rows (residual connections and gates) and row gathers.
#pragma once

#include <cstdint>

#include "ops/context.h"

namespace rrwkv::ops {

// y[i] += a[i]                (n rows of `dim` floats, all with row stride ld)
void add(ExecContext& ctx, float* y, const float* a, int64_t n, int64_t dim, int64_t ld);
// y[i] += a[i] ⊙ b[i]
void add_product(ExecContext& ctx, float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld);
// y[i] = a[i] ⊙ b[i]
void multiply(ExecContext& ctx, float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld);

// Token-shift mixes (mu a per-channel vector of `dim` floats, m optional token rows):
// y[i] = x[i] ⊙ mu + prev[i] ⊙ (1 - mu)                   (RWKV-4/5: the official operand order)
void lerp(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
          int64_t ld);
// y[i] = x[i] + (prev[i] - x[i]) ⊙ (mu + m[i])            (RWKV-6/7; m null: mu alone)
void shift_mix(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
               int64_t ldm, int64_t n, int64_t dim, int64_t ld);

// dst[i] = src[rows[i]] for n rows of `dim` floats (row strides lds, ldd).
void gather(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst,
            int64_t ldd);

namespace detail {
void lerp_cpu(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
              int64_t ld);
void shift_mix_cpu(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
                   int64_t ldm, int64_t n, int64_t dim, int64_t ld);
void gather_cpu(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim,
                float* dst, int64_t ldd);
enum class Elementwise { Add, AddProduct, Multiply };
void elementwise_cpu(ExecContext& ctx, Elementwise op, float* y, const float* a, const float* b, int64_t n,
                     int64_t dim, int64_t ld);
void lerp_cuda(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
               int64_t ld);
void shift_mix_cuda(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
                    int64_t ldm, int64_t n, int64_t dim, int64_t ld);
void gather_cuda(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim,
                 float* dst, int64_t ldd);
void elementwise_cuda(ExecContext& ctx, Elementwise op, float* y, const float* a, const float* b, int64_t n,
                      int64_t dim, int64_t ld);
}  // namespace detail

}  // namespace rrwkv::ops
