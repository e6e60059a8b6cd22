#include "arch/rwkv6/decay_op.h"

#include "core/errors.h"

namespace rrwkv::rwkv6 {

void decay(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim) {
  if (n < 0 || dim < 1 || (n > 0 && (!w || !time_decay || !m))) throw InvalidArgument("rwkv6 decay: bad operands");
  RRWKV_DISPATCH("rwkv6 decay", ctx.device, detail::decay_cpu(ctx, w, time_decay, m, n, dim),
                 detail::decay_cuda(ctx, w, time_decay, m, n, dim));
}

}  // namespace rrwkv::rwkv6
