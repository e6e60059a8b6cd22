// Projections on the CPU. Each projection's weight rows are split into tasks by the shape alone
// (so results never depend on the thread count), and all tasks of all projections of one call
// run in one parallel region. Two ways to do a task:
// - decode (few rows, or any number with ctx.batch_invariant): the matvec kernels stream ~128 KiB
//   of weight rows once and multiply them with up to max_vecs rows at a time, the block staying
//   in cache for the next group; a row's result does not depend on the other rows;
// - prefill (many rows): BLAS sgemm on blocks of weight rows, f16 / bf16 weights converted block
//   by block into the thread's f32 tile;
// and with ctx.fast, neither: the fast kernels (linear_fast_cpu.cpp) for every row count.
#include <algorithm>
#include <vector>

#include "core/errors.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/matvec.h"
#include "ops/epilogue.h"
#include "ops/linear.h"

namespace rrwkv::ops::detail {
namespace {

constexpr int64_t kMatvecTaskBytes = 131072;  // 16 KiB tasks measured 30% slower, 64-512 KiB alike
constexpr int64_t kBlasMinRows = 8;           // below, the matvec kernels win
constexpr int64_t kBlasMinBlock = 64, kBlasMaxBlock = 1024;  // weight rows per BLAS call
constexpr int kMaxProjections = 16;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t v, int64_t m) { return ceil_div(v, m) * m; }

struct Plan {
  bool blas;
  int64_t rows_per_task;
  int64_t tasks;
};

Plan plan(const Projection& p, const ExecContext& ctx, cpu::SgemmNT sgemm) {
  const Matrix& w = *p.w;
  if (p.n == 0) return {false, 1, 0};
  const Workspace* ws = ctx.cpu().workspace();
  const bool f32 = w.dtype == DType::F32;
  const bool tiles_fit = f32 || (ws && ws->tile_floats() >= 16 * w.cols);
  if (p.n >= kBlasMinRows && !ctx.batch_invariant && sgemm && tiles_fit) {
    // Few, large BLAS calls (each packs all of X again).
    int64_t nb = std::min(kBlasMaxBlock, std::max(kBlasMinBlock, round_up(ceil_div(w.rows, 4), 16)));
    if (!f32) nb = std::min(nb, std::max<int64_t>(16, ws->tile_floats() / w.cols / 16 * 16));
    nb = std::max<int64_t>(16, std::min(nb, w.rows));
    return {true, nb, ceil_div(w.rows, nb)};
  }
  const int64_t per = std::max<int64_t>(1, kMatvecTaskBytes / std::max<int64_t>(1, w.ld));
  return {false, per, ceil_div(w.rows, per)};
}

void matvec_task(const Projection& p, int64_t r0, int64_t r1) {
  const cpu::KernelTable& k = cpu::kernels();
  for (int64_t g = 0; g < p.n; g += k.max_vecs) {
    const int nvec = static_cast<int>(std::min<int64_t>(k.max_vecs, p.n - g));
    const float* xs[cpu::kMaxVecs];
    float* ys[cpu::kMaxVecs];
    for (int v = 0; v < nvec; ++v) {
      xs[v] = p.x + (g + v) * p.ldx;
      ys[v] = p.y + (g + v) * p.ldy;
    }
    k.matvec(*p.w, xs, nvec, ys, r0, r1);
  }
}

void blas_task(const Projection& p, cpu::SgemmNT sgemm, Workspace* ws, int thread, int64_t r0, int64_t r1) {
  const Matrix& w = *p.w;
  const float* wt;
  if (w.dtype == DType::F32) {
    wt = reinterpret_cast<const float*>(w.row(r0));
  } else {
    float* tile = ws->tile(thread);
    cpu::kernels().rows_to_f32(w, r0, r1, tile);
    wt = tile;
  }
  sgemm(static_cast<int>(p.n), static_cast<int>(r1 - r0), static_cast<int>(w.cols), p.x, static_cast<int>(p.ldx),
        wt, static_cast<int>(w.cols), p.y + r0, static_cast<int>(p.ldy));
}

}  // namespace

void linear_cpu(ExecContext& ctx, const Projection* ps, int count) {
  if (count > kMaxProjections) throw InvalidArgument("linear: at most 16 projections per call");
  if (ctx.fast) return linear_fast_cpu(ctx, ps, count);
  const cpu::SgemmNT sgemm = cpu::blas_sgemm_nt();
  Plan plans[kMaxProjections];
  int64_t first[kMaxProjections + 1];
  first[0] = 0;
  for (int i = 0; i < count; ++i) {
    plans[i] = plan(ps[i], ctx, sgemm);
    first[i + 1] = first[i] + plans[i].tasks;
  }
  ctx.cpu().pool().run(first[count], [&](int64_t task, int thread) {
    int i = 0;
    while (task >= first[i + 1]) ++i;
    const Projection& p = ps[i];
    const Plan& pl = plans[i];
    const int64_t r0 = (task - first[i]) * pl.rows_per_task, r1 = std::min(p.w->rows, r0 + pl.rows_per_task);
    if (pl.blas) blas_task(p, sgemm, ctx.cpu().workspace(), thread, r0, r1);
    else matvec_task(p, r0, r1);
    apply_epilogue(p.epilogue, p.y, p.ldy, p.n, r0, r1);
  });
}

}  // namespace rrwkv::ops::detail
