// Projections of a batch of rows through weight matrices: Y (n, W.rows) = X (n, W.cols) · Wᵀ,
// then an elementwise epilogue. The one op every architecture's matrix work goes through:
// decode (n = rows of a batch), prefill (n = tokens of a chunk) and mediums alike.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "core/matrix.h"
#include "ops/context.h"

namespace rrwkv::ops {

enum class Epilogue { None, Sigmoid, ReluSquare, Tanh, Silu };

struct Projection {
  const Matrix* w = nullptr;
  const float* x = nullptr;  // n rows of w->cols floats, row stride ldx
  int64_t ldx = 0;
  int64_t n = 0;
  float* y = nullptr;  // n rows of w->rows floats, row stride ldy
  int64_t ldy = 0;
  Epilogue epilogue = Epilogue::None;
};

// Runs every projection in one parallel region (weights are read once for all n rows; several
// independent projections share the region). Inputs must not alias outputs. Each output row
// depends only on its input row, the weights and the CPU's ISA: never on n, the other rows or
// the thread count.
void linear(ExecContext& ctx, const Projection* projections, int count);
inline void linear(ExecContext& ctx, std::initializer_list<Projection> ps) {
  linear(ctx, ps.begin(), static_cast<int>(ps.size()));
}

namespace detail {
void linear_cpu(ExecContext& ctx, const Projection* projections, int count);
// ctx.fast: activations rounded for the fast kernels (kernels/cpu/fast_kernels.h)
void linear_fast_cpu(ExecContext& ctx, const Projection* projections, int count);
void linear_cuda(ExecContext& ctx, const Projection* projections, int count);
}  // namespace detail

}  // namespace rrwkv::ops
