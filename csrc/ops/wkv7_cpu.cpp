// RWKV-7 recurrence on the CPU: one task per (row, head), walking the row's tokens in order. Per
// value channel (a state row): the removal term S κ, then the update and the output in one pass
// over the key channels (both loops vectorize; cloned for AVX2, core/clones.h).
#include <algorithm>

#include "core/clones.h"
#include "ops/parallel.h"
#include "ops/wkv7.h"

namespace rrwkv::ops::detail {
namespace {

// Σ a_i b_i with 16 partial sums, so that it vectorizes without reordering licence (-ffast-math).
inline float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int q = 0; q < 16; ++q) part[q] += a[i + q] * b[i + q];
  for (int q = 0; i + q < n; ++q) part[q] += a[i + q] * b[i + q];
  float s = 0.0f;
  for (int q = 0; q < 16; ++q) s += part[q];
  return s;
}

// One token of one head: S = S diag(w) - (S κ)(κ ⊙ a)ᵀ + v kᵀ, then y = S r.
RRWKV_CLONES void head_step(int64_t S, float* __restrict state, const float* __restrict r,
                            const float* __restrict w, const float* __restrict k, const float* __restrict v,
                            const float* __restrict kappa, const float* __restrict a, float* __restrict y) {
  for (int64_t vi = 0; vi < S; ++vi) {
    float* __restrict row = state + vi * S;
    const float sk = dot(row, kappa, S);  // (S κ)_vi
    const float vv = v[vi];
    for (int64_t j = 0; j < S; ++j) row[j] = row[j] * w[j] - sk * (kappa[j] * a[j]) + vv * k[j];
    y[vi] = dot(row, r, S);
  }
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
