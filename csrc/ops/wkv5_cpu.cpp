// RWKV-5/6 recurrence on the CPU: one task per (row, head), walking the row's tokens in order.
// For each key channel the inner loop over value channels reads the old state for the output and
// writes the new one in the same pass; it vectorizes (cloned for AVX2, core/clones.h).
#include <algorithm>

#include "core/clones.h"
#include "ops/parallel.h"
#include "ops/wkv5.h"

namespace rrwkv::ops::detail {
namespace {

// One token of one head: y = rᵀ (diag(u) k vᵀ + S), then S = k vᵀ + diag(w) S.
RRWKV_CLONES void head_step(int64_t S, float* __restrict state, const float* __restrict r,
                            const float* __restrict k, const float* __restrict v, const float* __restrict w,
                            const float* __restrict u, float* __restrict y) {
  float bonus = 0.0f;  // rᵀ diag(u) k, a scalar: its term of y is bonus * v (S terms, once a token)
  for (int64_t a = 0; a < S; ++a) bonus += r[a] * u[a] * k[a];
  for (int64_t j = 0; j < S; ++j) y[j] = bonus * v[j];
  for (int64_t a = 0; a < S; ++a) {
    float* __restrict row = state + a * S;
    const float ra = r[a], ka = k[a], wa = w[a];
    for (int64_t j = 0; j < S; ++j) {
      y[j] += ra * row[j];
      row[j] = ka * v[j] + wa * row[j];
    }
  }
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
