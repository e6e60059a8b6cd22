// Token shift over a ragged batch on the GPU (gpu/mix.h).
#include "gpu/mix.h"
#include "ops/token_shift.h"

namespace rrwkv::ops::detail {

void token_shift_cuda(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field,
                      float* prev) {
  if (rows.n_rows > 0)
    gpu::token_shift(rows.start, rows.row, rows.n_rows, rows.states, rows.state_floats, field, x, dim, prev,
                     ctx.stream());
}

}  // namespace rrwkv::ops::detail
