// RWKV-7 recurrence on the CPU: one task per (row, head), walking the row's tokens in order. Per
// value channel (a state row): the removal term S κ, then the update and the output in one pass
// over the key channels (both loops vectorize).
#include <algorithm>

#include "ops/parallel.h"
#include "ops/wkv7.h"

namespace rrwkv::ops::detail {

void wkv7_cpu(ExecContext& ctx, const Wkv7Batch& b) {
  const int64_t C = b.C, S = b.head_size, H = C / S;
  const int64_t N = b.rows.n_tokens();
  for_rows(ctx, b.rows.n_rows * H, (N / std::max<int64_t>(1, b.rows.n_rows)) * S * S, [&](int64_t task) {
    const int64_t i = task / H, h = task % H, o = h * S;
    float* state = b.rows.state[i] + b.field + h * S * S;
    for (int64_t t = b.rows.start[i]; t < b.rows.start[i + 1]; ++t) {
      const float *r = b.r + t * C + o, *w = b.w + t * C + o, *k = b.k + t * C + o, *v = b.v + t * C + o;
      const float *kappa = b.kappa + t * C + o, *a = b.a + t * C + o;
      float* y = b.y + t * C + o;
      for (int64_t vi = 0; vi < S; ++vi) {
        float* row = state + vi * S;
        float sk = 0.0f;  // (S κ)_vi
        for (int64_t j = 0; j < S; ++j) sk += row[j] * kappa[j];
        const float vv = v[vi];
        float out = 0.0f;
        for (int64_t j = 0; j < S; ++j) {
          row[j] = row[j] * w[j] - sk * (kappa[j] * a[j]) + vv * k[j];
          out += row[j] * r[j];
        }
        y[vi] = out;
      }
    }
  });
}

}  // namespace rrwkv::ops::detail
