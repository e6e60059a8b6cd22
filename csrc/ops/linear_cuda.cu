// Projections on the GPU: the matvec kernels (gpu/matvec.h) for every weight type, up to 16 rows
// a launch, each row's result independent of the others (decode, and any call with
// ctx.batch_invariant); f32 weights with more rows go through the GEMM wrapper (cuBLAS on a GPU)
// with the epilogue after it. f16 / bf16 / quantized weights stay on the matvec kernels, which
// accumulate in f32 as the CPU does (a GEMM of f16 weights would round the activations to f16).
#include <algorithm>

#include "gpu/elementwise.h"
#include "gpu/gemm.h"
#include "gpu/matvec.h"
#include "ops/linear.h"

namespace rrwkv::ops::detail {
namespace {

gpu::Activation activation(Epilogue e) {
  switch (e) {
    case Epilogue::Sigmoid: return gpu::Activation::Sigmoid;
    case Epilogue::ReluSquare: return gpu::Activation::ReluSquare;
    case Epilogue::Tanh: return gpu::Activation::Tanh;
    case Epilogue::Silu: return gpu::Activation::Silu;
    case Epilogue::None: break;
  }
  return gpu::Activation::None;
}

constexpr int64_t kGemmMinRows = 32;  // below, the matvec kernels in groups of 16

}  // namespace

void linear_cuda(ExecContext& ctx, const Projection* ps, int count) {
  void* stream = ctx.stream();
  for (int i = 0; i < count; ++i) {
    const Projection& p = ps[i];
    const Matrix& w = *p.w;
    if (p.n == 0) continue;
    if (w.dtype == DType::F32 && p.n >= kGemmMinRows && !ctx.batch_invariant) {
      // row-major Y (n x R) = X (n x C) · Wᵀ is column-major Yᵀ (R x n) = W' · Xᵀ, W' = the
      // column-major (C x R) view of W, transposed
      gpu::GemmArgs g;
      g.op_a = gpu::Op::T, g.op_b = gpu::Op::N;
      g.m = w.rows, g.n = p.n, g.k = w.cols;
      g.a = w.data, g.a_type = DType::F32, g.lda = w.ld / static_cast<int64_t>(sizeof(float));
      g.b = p.x, g.b_type = DType::F32, g.ldb = p.ldx;
      g.c = p.y, g.ldc = p.ldy;
      static_cast<gpu::Blas*>(ctx.gpu().blas_handle())->gemm(g);
      if (p.epilogue != Epilogue::None) gpu::activate(activation(p.epilogue), p.y, p.n, w.rows, p.ldy, stream);
      continue;
    }
    for (int64_t r = 0; r < p.n; r += gpu::kMaxMatvecVectors) {
      const int nvec = static_cast<int>(std::min<int64_t>(gpu::kMaxMatvecVectors, p.n - r));
      gpu::matvec(w, p.x + r * p.ldx, p.ldx, nvec, p.y + r * p.ldy, p.ldy, activation(p.epilogue), stream);
    }
  }
}

}  // namespace rrwkv::ops::detail
