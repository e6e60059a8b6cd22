#include "ops/token_shift.h"

#include "core/errors.h"

namespace rrwkv::ops {

void token_shift(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field, float* prev) {
  if (dim < 1 || field < 0 || !rows.valid() || (rows.n_rows > 0 && (!x || !prev)) ||
      x == prev)
    throw InvalidArgument("token_shift: bad operands");
  RRWKV_DISPATCH("token_shift", ctx.device, detail::token_shift_cpu(ctx, rows, x, dim, field, prev),
                 detail::token_shift_cuda(ctx, rows, x, dim, field, prev));
}

}  // namespace rrwkv::ops
