// Projections on the GPU. Up to 16 rows a launch, the matvec kernels (gpu/matvec.h) for every
// weight type, each row's result independent of the others (decode, and any call with
// ctx.batch_invariant). Calls of more rows (prefill chunks) go through the GEMM wrapper (cuBLAS on
// a GPU) with the epilogue after it:
//   f32 weights from 32 rows: one f32 GEMM.
//   f16 / bf16 weights from gpu::split_gemm_min_rows rows: the activations split into 16-bit parts
//     (gpu/split16.h: f16 2 parts with a per-row power-of-two shift, bf16 3 parts, exact), one
//     tensor-core GEMM per part (16-bit inputs, f32 products and accumulation) summed into y, then
//     the shift undone with the epilogue, so the GPU's exact path keeps the CPU's f32 activations.
//   q8_0 / q4_1 weights stay on the matvec kernels (dequantised in registers): their elements
//     need more bits than one f16 / bf16 holds (q8_0: f16 scale x int8, up to 18; q4_1: 4 bits x
//     f16 scale + f16 min, rounded to f32, up to 24), so an exact tensor-core product would take
//     2-3 weight parts times the activations' (4-9 GEMMs) over a dequantised copy of 4 bytes a
//     weight, rewritten every call in scratch that lives until the call ends.
// The split planes are one piece of the backend's scratch per linear_cuda call, reused by every
// projection of it (they run in order on the call's stream). Rounding the activations to f16 / bf16
// instead moved the session tests' logits 1e-3 / 1e-2 from the CPU's; the split keeps them ~2e-6.
#include <algorithm>
#include <cstdint>

#include "gpu/elementwise.h"
#include "gpu/gemm.h"
#include "gpu/matvec.h"
#include "gpu/split16.h"
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

constexpr int64_t kGemmMinRows = 32;  // f32 weights: below, the matvec kernels in groups of 16

enum class Path { Matvec, Gemm32, Gemm16 };

Path path_for(const ExecContext& ctx, const Projection& p) {
  if (ctx.batch_invariant) return Path::Matvec;
  const DType t = p.w->dtype;
  if (t == DType::F32 && p.n >= kGemmMinRows) return Path::Gemm32;
  if ((t == DType::F16 || t == DType::BF16) && p.n >= gpu::split_gemm_min_rows(t)) return Path::Gemm16;
  return Path::Matvec;
}

size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }

// The split planes of p's activations, then their inverse shifts.
size_t split_bytes(const Projection& p) {
  const auto planes = static_cast<size_t>(gpu::split_parts(p.w->dtype) * p.n * gpu::split_stride(p.w->cols));
  return align256(planes * sizeof(std::uint16_t)) + static_cast<size_t>(p.n) * sizeof(float);
}

// row-major Y (n x R) = X (n x C) · Wᵀ is column-major Yᵀ (R x n) = W' · Xᵀ, W' = the column-major
// (C x R) view of W, transposed
gpu::GemmArgs gemm_args(const Matrix& w, const void* x, DType x_type, int64_t ldx, int64_t n, float* y, int64_t ldy) {
  gpu::GemmArgs g;
  g.op_a = gpu::Op::T, g.op_b = gpu::Op::N;
  g.m = w.rows, g.n = n, g.k = w.cols;
  g.a = w.data, g.a_type = w.dtype, g.lda = w.ld / static_cast<int64_t>(dtype_traits(w.dtype).block_bytes);
  g.b = x, g.b_type = x_type, g.ldb = ldx;
  g.c = y, g.ldc = ldy;
  return g;
}

void gemm16(ExecContext& ctx, const Projection& p, void* scratch) {
  const Matrix& w = *p.w;
  const int parts = gpu::split_parts(w.dtype);
  const int64_t stride = gpu::split_stride(w.cols);
  auto* planes = static_cast<std::uint16_t*>(scratch);
  auto* inv_scale = reinterpret_cast<float*>(static_cast<char*>(scratch) + split_bytes(p) -
                                             static_cast<size_t>(p.n) * sizeof(float));
  gpu::split16(w.dtype, p.x, p.ldx, p.n, w.cols, planes, inv_scale, ctx.stream());
  auto& blas = *static_cast<gpu::Blas*>(ctx.gpu().blas_handle());
  for (int part = 0; part < parts; ++part) {
    gpu::GemmArgs g = gemm_args(w, planes + part * p.n * stride, w.dtype, stride, p.n, p.y, p.ldy);
    g.beta = part == 0 ? 0.0f : 1.0f;  // the later parts add to the first's products
    blas.gemm(g);
  }
  // bf16 has no shift: only an epilogue to apply
  const bool shifted = w.dtype == DType::F16;
  if (shifted || p.epilogue != Epilogue::None)
    gpu::scale_rows(p.y, p.n, w.rows, p.ldy, shifted ? inv_scale : nullptr, activation(p.epilogue), ctx.stream());
}

}  // namespace

void linear_cuda(ExecContext& ctx, const Projection* ps, int count) {
  void* stream = ctx.stream();
  size_t scratch_bytes = 0;
  for (int i = 0; i < count; ++i)
    if (ps[i].n > 0 && path_for(ctx, ps[i]) == Path::Gemm16) scratch_bytes = std::max(scratch_bytes, split_bytes(ps[i]));
  void* scratch = scratch_bytes ? ctx.gpu().scratch(scratch_bytes) : nullptr;
  for (int i = 0; i < count; ++i) {
    const Projection& p = ps[i];
    const Matrix& w = *p.w;
    if (p.n == 0) continue;
    switch (path_for(ctx, p)) {
      case Path::Gemm32:
        static_cast<gpu::Blas*>(ctx.gpu().blas_handle())->gemm(gemm_args(w, p.x, DType::F32, p.ldx, p.n, p.y, p.ldy));
        if (p.epilogue != Epilogue::None) gpu::activate(activation(p.epilogue), p.y, p.n, w.rows, p.ldy, stream);
        break;
      case Path::Gemm16:
        gemm16(ctx, p, scratch);
        break;
      case Path::Matvec:
        for (int64_t r = 0; r < p.n; r += gpu::kMaxMatvecVectors) {
          const int nvec = static_cast<int>(std::min<int64_t>(gpu::kMaxMatvecVectors, p.n - r));
          gpu::matvec(w, p.x + r * p.ldx, p.ldx, nvec, p.y + r * p.ldy, p.ldy, activation(p.epilogue), stream);
        }
        break;
    }
  }
}

}  // namespace rrwkv::ops::detail
