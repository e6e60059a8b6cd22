#include "kernels/cpu/gemm.h"

#include <algorithm>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/ops.h"

namespace rrwkv::cpu {
namespace {

constexpr int64_t kMatvecRowBlock = 32;
constexpr int64_t kBlasMinRows = 64, kBlasMaxRows = 1024;  // weight rows per BLAS call

void apply(Epilogue ep, float* y, int64_t ldy, int64_t t, int64_t r0, int64_t r1) {
  if (ep == Epilogue::None) return;
  for (int64_t i = 0; i < t; ++i) {
    float* row = y + i * ldy;
    if (ep == Epilogue::Sigmoid)
      for (int64_t r = r0; r < r1; ++r) row[r] = sigmoid(row[r]);
    else
      for (int64_t r = r0; r < r1; ++r) row[r] = relu_square(row[r]);
  }
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

GemmWorkspace::GemmWorkspace(int n_threads, int64_t tile_floats)
    : tile_floats_(tile_floats), buf_(static_cast<size_t>(n_threads) * static_cast<size_t>(tile_floats)) {}

void gemm_xwt_rows_matvec(const MatRef& w, const float* x, int64_t ldx, int64_t t, float* y, int64_t ldy,
                          int64_t r0, int64_t r1) {
  const KernelTable& k = kernels();
  for (int64_t g = 0; g < t; g += kMaxVecs) {
    const int nvec = static_cast<int>(std::min<int64_t>(kMaxVecs, t - g));
    const float* xs[kMaxVecs];
    float* ys[kMaxVecs];
    for (int n = 0; n < nvec; ++n) {
      xs[n] = x + (g + n) * ldx;
      ys[n] = y + (g + n) * ldy;
    }
    k.matvec(w, xs, nvec, ys, r0, r1);
  }
}

void gemm_xwt(ThreadPool& pool, GemmWorkspace& ws, const MatRef& w, const float* x, int64_t ldx, int64_t t,
              float* y, int64_t ldy, Epilogue ep) {
  const int64_t n = w.rows, k = w.cols;
  if (t <= 0) return;
  const SgemmNT sgemm = t >= kBlasMinTokens ? blas_sgemm_nt() : nullptr;

  if (!sgemm) {
    // Each task keeps a block of weight rows hot in cache while it runs through all tokens.
    const int64_t n_tasks = (n + kMatvecRowBlock - 1) / kMatvecRowBlock;
    pool.run(n_tasks, [&](int64_t task, int) {
      const int64_t r0 = task * kMatvecRowBlock, r1 = std::min(n, r0 + kMatvecRowBlock);
      gemm_xwt_rows_matvec(w, x, ldx, t, y, ldy, r0, r1);
      apply(ep, y, ldy, t, r0, r1);
    });
    return;
  }

  // Few, large BLAS calls (each packs all of X again), split by the shape alone so that results
  // do not depend on the thread count.
  int64_t nb = std::min<int64_t>(kBlasMaxRows, std::max<int64_t>(kBlasMinRows, round_up((n + 3) / 4, 16)));
  if (w.dtype != DType::F32) nb = std::min(nb, std::max<int64_t>(16, ws.tile_floats() / k / 16 * 16));
  nb = std::max<int64_t>(16, std::min(nb, n));
  const int64_t n_tasks = (n + nb - 1) / nb;
  pool.run(n_tasks, [&](int64_t task, int thread) {
    const int64_t r0 = task * nb, r1 = std::min(n, r0 + nb);
    const float* wt;
    if (w.dtype == DType::F32) {
      wt = static_cast<const float*>(w.data) + r0 * k;
    } else {
      float* tile = ws.tile(thread);
      kernels().rows_to_f32(w, r0, r1, tile);
      wt = tile;
    }
    sgemm(static_cast<int>(t), static_cast<int>(r1 - r0), static_cast<int>(k), x, static_cast<int>(ldx), wt,
          static_cast<int>(k), y + r0, static_cast<int>(ldy));
    apply(ep, y, ldy, t, r0, r1);
  });
}

}  // namespace rrwkv::cpu
