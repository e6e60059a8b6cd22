// The recurrence on the CPU: one task per (batch row, block of channels), each the WKV kernels'
// scan (kernels/wkv/wkv.h: scan_rows_f32) over the row's tokens; the training entry points of
// kernels/wkv run the same per-step code (wkv_step.h).
#include "kernels/wkv/wkv.h"
#include "ops/parallel.h"
#include "ops/wkv4.h"

namespace rrwkv::ops::detail {
namespace {

constexpr int64_t kChannelBlock = 32;

}  // namespace

void wkv4_cpu(ExecContext& ctx, const Wkv4Batch& b) {
  const int64_t C = b.C;
  const RaggedRows& rows = b.rows;
  const MediumRows& med = b.mediums;
  for_row_blocks(ctx, rows.n_rows, C, rows.n_tokens() * C, kChannelBlock, [&](int64_t i, int64_t c0, int64_t c1) {
    const int64_t t0 = rows.start[i], T = rows.len(i);
    if (T == 0) return;
    const int64_t m0 = b.wm ? med.med_start[i] : 0, J = b.wm ? med.med_start[i + 1] - m0 : 0;
    wkv::RowScan scan{};
    scan.w = b.w;
    scan.u = b.u;
    scan.wm = b.wm;
    scan.bm = b.bm;
    scan.k = b.k + t0 * C;
    scan.v = b.v + t0 * C;
    scan.km = b.km ? b.km + m0 * C : nullptr;
    scan.vm = b.vm ? b.vm + m0 * C : nullptr;
    scan.fold_at = med.fold_at ? med.fold_at + m0 : nullptr;
    scan.n_fold = J;
    scan.ld = C;
    scan.T = T;
    float* state = rows.state(i);
    for (int f = 0; f < wkv::kStateFields; ++f) scan.state[f] = b.field[f] >= 0 ? state + b.field[f] : nullptr;
    scan.out = b.out + t0 * C;
    scan.ldo = C;
    wkv::scan_rows_f32(scan, c0, c1);
    if (b.r) {
      for (int64_t t = 0; t < T; ++t) {
        float* o = b.out + (t0 + t) * C;
        const float* r = b.r + (t0 + t) * C;
        for (int64_t c = c0; c < c1; ++c) o[c] *= r[c];
      }
    }
  });
}

}  // namespace rrwkv::ops::detail
