// The recurrences on the GPU (gpu/recurrence.h): the same operands, the rows as DeviceRows.
#include "gpu/recurrence.h"
#include "ops/wkv4.h"
#include "ops/wkv5.h"
#include "ops/wkv7.h"

namespace rrwkv::ops::detail {

gpu::DeviceRows device_rows(const RaggedRows& r) { return {r.n_rows, r.start, r.row, r.states, r.state_floats}; }

void wkv4_cuda(ExecContext& ctx, const Wkv4Batch& b) {
  if (b.rows.n_rows == 0) return;
  gpu::Wkv4Batch g;
  g.rows = device_rows(b.rows);
  g.C = b.C, g.w = b.w, g.u = b.u, g.wm = b.wm, g.bm = b.bm;
  g.med_start = b.mediums.med_start, g.fold_at = b.mediums.fold_at;
  g.km = b.km, g.vm = b.vm, g.k = b.k, g.v = b.v;
  for (int f = 0; f < 6; ++f) g.field[f] = b.field[f];
  g.r = b.r, g.out = b.out;
  gpu::wkv4(g, ctx.stream());
}

void wkv5_cuda(ExecContext& ctx, const Wkv5Batch& b) {
  if (b.rows.n_rows == 0) return;
  gpu::Wkv5Batch g;
  g.rows = device_rows(b.rows);
  g.C = b.C, g.head_size = b.head_size, g.field = b.field;
  g.r = b.r, g.k = b.k, g.v = b.v, g.w = b.w, g.ldw = b.ldw, g.u = b.u, g.y = b.y;
  gpu::wkv5(g, ctx.stream());
}

void wkv7_cuda(ExecContext& ctx, const Wkv7Batch& b) {
  if (b.rows.n_rows == 0) return;
  gpu::Wkv7Batch g;
  g.rows = device_rows(b.rows);
  g.C = b.C, g.head_size = b.head_size, g.field = b.field;
  g.r = b.r, g.w = b.w, g.k = b.k, g.v = b.v, g.kappa = b.kappa, g.a = b.a, g.y = b.y;
  gpu::wkv7(g, ctx.stream());
}

}  // namespace rrwkv::ops::detail
