// RWKV-7 recurrence on the CPU: one task per (row, head), walking the row's tokens in order. The
// step is kernels/wkv/wkv7_step.h's: per value channel (a state row) the removal term S κ, then
// the update and the output in one pass over the key channels (both loops vectorize; cloned for
// AVX2, core/clones.h).
#include <algorithm>

#include "core/clones.h"
#include "kernels/wkv/wkv7_step.h"
#include "ops/parallel.h"
#include "ops/state_prefetch.h"
#include "ops/wkv7.h"

namespace rrwkv::ops::detail {
namespace {

// One token of one head: kernels/wkv/wkv7_step.h's head_step (whose element update the GPU kernel
// runs too), each row asking for one further on (ops/state_prefetch.h).
RRWKV_CLONES void head_step(int64_t S, float* __restrict state, const float* __restrict r,
                            const float* __restrict w, const float* __restrict k, const float* __restrict v,
                            const float* __restrict kappa, const float* __restrict a, float* __restrict y) {
  wkv7::head_step(S, state, r, w, k, v, kappa, a, y,
                  [&](int64_t i) { prefetch_state_row(state + (i + kStateRowsAhead) * S, S); });
}

}  // namespace

void wkv7_cpu(ExecContext& ctx, const Wkv7Batch& b) {
  const int64_t C = b.C, S = b.head_size;
  for_row_heads(ctx, b, [&](int64_t i, int64_t h, float* state) {
    const int64_t o = h * S;
    for (int64_t t = b.rows.start[i]; t < b.rows.start[i + 1]; ++t) {
      const int64_t at = t * C + o;
      head_step(S, state, b.r + at, b.w + at, b.k + at, b.v + at, b.kappa + at, b.a + at, b.y + at);
    }
  });
}

}  // namespace rrwkv::ops::detail
