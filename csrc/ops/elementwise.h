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

// dst[i] = src[rows[i]] for n rows of `dim` floats (row strides lds, ldd).
void gather(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst,
            int64_t ldd);

namespace detail {
void gather_cpu(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim,
                float* dst, int64_t ldd);
enum class Elementwise { Add, AddProduct, Multiply };
void elementwise_cpu(ExecContext& ctx, Elementwise op, float* y, const float* a, const float* b, int64_t n,
                     int64_t dim, int64_t ld);
}  // namespace detail

}  // namespace rrwkv::ops
