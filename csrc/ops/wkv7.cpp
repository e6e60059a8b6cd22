#include "ops/wkv7.h"

#include "core/errors.h"

namespace rrwkv::ops {

void wkv7(ExecContext& ctx, const Wkv7Batch& b) {
  const bool ok = b.valid() && b.r && b.w && b.k && b.v && b.kappa && b.a && b.y;
  if (!ok) throw InvalidArgument("wkv7: incomplete or inconsistent operands");
  RRWKV_DISPATCH("wkv7", ctx.device, detail::wkv7_cpu(ctx, b),
                 detail::wkv7_cuda(ctx, b));
}

}  // namespace rrwkv::ops
