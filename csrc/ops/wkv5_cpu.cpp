// RWKV-5/6 recurrence on the CPU: one task per (row, head), walking the row's tokens in order.
// The step is kernels/wkv/wkv5_step.h's: for each key channel the inner loop over value channels
// reads the old state for the output and writes the new one in the same pass; it vectorizes
// (cloned for AVX2, core/clones.h).
#include <algorithm>

#include "core/clones.h"
#include "kernels/wkv/wkv5_step.h"
#include "ops/parallel.h"
#include "ops/state_prefetch.h"
#include "ops/wkv5.h"

namespace rrwkv::ops::detail {
namespace {

// One token of one head: kernels/wkv/wkv5_step.h's head_step (the step the GPU kernel runs too),
// each row asking for one further on (ops/state_prefetch.h).
RRWKV_CLONES void head_step(int64_t S, float* __restrict state, const float* __restrict r,
                            const float* __restrict k, const float* __restrict v, const float* __restrict w,
                            const float* __restrict u, float* __restrict y) {
  wkv5::head_step(S, state, r, k, v, w, u, y,
                  [&](int64_t a) { prefetch_state_row(state + (a + kStateRowsAhead) * S, S); });
}

}  // namespace

void wkv5_cpu(ExecContext& ctx, const Wkv5Batch& b) {
  const int64_t C = b.C, S = b.head_size;
  for_row_heads(ctx, b, [&](int64_t i, int64_t h, float* state) {
    const int64_t o = h * S;
    for (int64_t t = b.rows.start[i]; t < b.rows.start[i + 1]; ++t)
      head_step(S, state, b.r + t * C + o, b.k + t * C + o, b.v + t * C + o, b.w + t * b.ldw + o, b.u + o,
                b.y + t * C + o);
  });
}

}  // namespace rrwkv::ops::detail
