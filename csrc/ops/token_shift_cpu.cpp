#include <algorithm>

#include "ops/parallel.h"
#include "ops/token_shift.h"

namespace rrwkv::ops::detail {

void token_shift_cpu(ExecContext& ctx, const RaggedRows& rows, const float* x, int64_t dim, int64_t field,
                     float* prev) {
  for_rows(ctx, rows.n_rows, (rows.n_tokens() / std::max<int64_t>(1, rows.n_rows)) * dim, [&](int64_t i) {
    const int64_t t0 = rows.start[i], t1 = rows.start[i + 1];
    if (t1 == t0) return;
    float* carried = rows.state(i) + field;
    std::copy(carried, carried + dim, prev + t0 * dim);
    std::copy(x + t0 * dim, x + (t1 - 1) * dim, prev + (t0 + 1) * dim);
    std::copy(x + (t1 - 1) * dim, x + t1 * dim, carried);
  });
}

}  // namespace rrwkv::ops::detail
