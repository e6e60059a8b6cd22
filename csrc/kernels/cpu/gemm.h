// Matrix-matrix products of prefill: Y = X · Wᵀ for a weight matrix W (out, in) in the model
// mapping, split over the rows of W across a ThreadPool. Uses BLAS (blas.h) when loaded and the
// product is large enough, converting f16 / bf16 weights tile by tile into per-thread f32
// scratch; otherwise the matvec kernels, reading each weight block once per 4 tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv::cpu {

enum class Epilogue { None, Sigmoid, ReluSquare };  // applied to every output element

// Per-thread f32 tiles for converting f16 / bf16 weights (allocated once, by the Session).
class GemmWorkspace {
 public:
  GemmWorkspace(int n_threads, int64_t tile_floats);
  float* tile(int thread) { return buf_.data() + thread * tile_floats_; }
  int64_t tile_floats() const { return tile_floats_; }

 private:
  int64_t tile_floats_;
  std::vector<float> buf_;
};

// Y (t, w.rows; row stride ldy) = X (t, w.cols; row stride ldx) · Wᵀ, then the epilogue.
void gemm_xwt(ThreadPool& pool, GemmWorkspace& ws, const MatRef& w, const float* x, int64_t ldx, int64_t t,
              float* y, int64_t ldy, Epilogue ep = Epilogue::None);

// Y (t, w.rows) = X · Wᵀ with the matvec kernels only, for rows [r0, r1) of W (one thread).
void gemm_xwt_rows_matvec(const MatRef& w, const float* x, int64_t ldx, int64_t t, float* y, int64_t ldy,
                          int64_t r0, int64_t r1);

// Tokens from which gemm_xwt uses BLAS (below, the matvec kernels win).
constexpr int64_t kBlasMinTokens = 8;

}  // namespace rrwkv::cpu
