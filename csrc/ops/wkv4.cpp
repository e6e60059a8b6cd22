#include "ops/wkv4.h"

#include "core/errors.h"

namespace rrwkv::ops {

void wkv4(ExecContext& ctx, const Wkv4Batch& b) {
  const bool medium = b.wm != nullptr;
  bool ok = b.C > 0 && b.rows.valid() && b.w && b.u && b.k && b.v && b.out &&
            medium == (b.bm != nullptr);
  for (int f = 0; f < 3; ++f) ok = ok && b.field[f] >= 0;
  if (medium) {
    ok = ok && b.mediums.med_start && b.mediums.fold_at && b.km && b.vm;
    for (int f = 3; f < 6; ++f) ok = ok && b.field[f] >= 0;
  }
  if (!ok) throw InvalidArgument("wkv4: incomplete operands (a null buffer or a missing state field)");
  RRWKV_DISPATCH("wkv4", ctx.device, detail::wkv4_cpu(ctx, b),
                 detail::wkv4_cuda(ctx, b));
}

}  // namespace rrwkv::ops
