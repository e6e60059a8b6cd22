// RWKV-5/6 recurrence on the CPU: one task per (row, head), walking the row's tokens in order.
// For each key channel i the inner loop over value channels j reads the old state for the output
// and writes the new one in the same pass (it vectorizes over j).
#include <algorithm>

#include "ops/parallel.h"
#include "ops/wkv5.h"

namespace rrwkv::ops::detail {

void wkv5_cpu(ExecContext& ctx, const Wkv5Batch& b) {
  const int64_t C = b.C, S = b.head_size, H = C / S;
  const int64_t N = b.rows.n_tokens();
  for_rows(ctx, b.rows.n_rows * H, (N / std::max<int64_t>(1, b.rows.n_rows)) * S * S, [&](int64_t task) {
    const int64_t i = task / H, h = task % H, o = h * S;
    float* state = b.rows.state[i] + b.field + h * S * S;
    for (int64_t t = b.rows.start[i]; t < b.rows.start[i + 1]; ++t) {
      const float *r = b.r + t * C + o, *k = b.k + t * C + o, *v = b.v + t * C + o;
      const float *w = b.w + t * b.ldw + o, *u = b.u + o;
      float* y = b.y + t * C + o;
      float bonus = 0.0f;  // rᵀ diag(u) k, a scalar: its term of y is bonus * v
      for (int64_t a = 0; a < S; ++a) bonus += r[a] * u[a] * k[a];
      for (int64_t j = 0; j < S; ++j) y[j] = bonus * v[j];
      for (int64_t a = 0; a < S; ++a) {
        float* row = state + a * S;
        const float ra = r[a], ka = k[a], wa = w[a];
        for (int64_t j = 0; j < S; ++j) {
          y[j] += ra * row[j];
          row[j] = ka * v[j] + wa * row[j];
        }
      }
    }
  });
}

}  // namespace rrwkv::ops::detail
