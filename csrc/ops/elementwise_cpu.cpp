#include <algorithm>

#include "ops/elementwise.h"
#include "ops/parallel.h"

namespace rrwkv::ops::detail {

void elementwise_cpu(ExecContext& ctx, Elementwise op, float* y, const float* a, const float* b, int64_t n,
                     int64_t dim, int64_t ld) {
  for_rows(ctx, n, dim, [&](int64_t i) {
    float* yi = y + i * ld;
    const float* ai = a + i * ld;
    const float* bi = b ? b + i * ld : nullptr;
    switch (op) {
      case Elementwise::Add: for (int64_t c = 0; c < dim; ++c) yi[c] += ai[c]; break;
      case Elementwise::AddProduct: for (int64_t c = 0; c < dim; ++c) yi[c] += ai[c] * bi[c]; break;
      case Elementwise::Multiply: for (int64_t c = 0; c < dim; ++c) yi[c] = ai[c] * bi[c]; break;
    }
  });
}

void lerp_cpu(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
              int64_t ld) {
  for_rows(ctx, n, dim, [&](int64_t i) {
    const float *xi = x + i * ld, *pi = prev + i * ld;
    float* yi = y + i * ld;
    for (int64_t c = 0; c < dim; ++c) yi[c] = xi[c] * mu[c] + pi[c] * (1.0f - mu[c]);
  });
}

void shift_mix_cpu(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
                   int64_t ldm, int64_t n, int64_t dim, int64_t ld) {
  for_rows(ctx, n, dim, [&](int64_t i) {
    const float *xi = x + i * ld, *pi = prev + i * ld;
    float* yi = y + i * ld;
    if (m) {
      const float* mi = m + i * ldm;
      for (int64_t c = 0; c < dim; ++c) yi[c] = xi[c] + (pi[c] - xi[c]) * (mu[c] + mi[c]);
    } else {
      for (int64_t c = 0; c < dim; ++c) yi[c] = xi[c] + (pi[c] - xi[c]) * mu[c];
    }
  });
}

void gather_cpu(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim,
                float* dst, int64_t ldd) {
  for_rows(ctx, n, dim, [&](int64_t i) { std::copy(src + rows[i] * lds, src + rows[i] * lds + dim, dst + i * ldd); });
}

}  // namespace rrwkv::ops::detail
