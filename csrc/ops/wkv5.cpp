#include "ops/wkv5.h"

#include "core/errors.h"

namespace rrwkv::ops {

void wkv5(ExecContext& ctx, const Wkv5Batch& b) {
  const bool ok = b.valid() && b.r && b.k && b.v && b.w && b.u && b.y && (b.ldw == 0 || b.ldw >= b.C);
  if (!ok) throw InvalidArgument("wkv5: incomplete or inconsistent operands");
  RRWKV_DISPATCH("wkv5", ctx.device, detail::wkv5_cpu(ctx, b),
                 detail::wkv5_cuda(ctx, b));
}

}  // namespace rrwkv::ops
