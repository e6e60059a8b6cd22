#include "ops/linear.h"

#include <string>

#include "core/errors.h"
#include "ops/kernels.h"

namespace rrwkv::ops {

void linear(ExecContext& ctx, const Projection* ps, int count) {
  for (int i = 0; i < count; ++i) {
    const Projection& p = ps[i];
    if (!p.w) throw InvalidArgument("linear: projection " + std::to_string(i) + " has no weight matrix");
    if (p.n < 0 || (p.n > 0 && (!p.x || !p.y)) || p.ldx < p.w->cols || p.ldy < p.w->rows)
      throw InvalidArgument("linear: projection " + std::to_string(i) + " has bad operands (n=" +
                            std::to_string(p.n) + ", ldx=" + std::to_string(p.ldx) + " for " +
                            std::to_string(p.w->cols) + " inputs, ldy=" + std::to_string(p.ldy) + " for " +
                            std::to_string(p.w->rows) + " outputs)");
    require_kernel("linear", p.w->dtype, ctx.device);
  }
  RRWKV_DISPATCH("linear", ctx.device, detail::linear_cpu(ctx, ps, count),
                 detail::linear_cuda(ctx, ps, count));
}

}  // namespace rrwkv::ops
