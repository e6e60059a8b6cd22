#include <cmath>

#include "ops/norm.h"
#include "ops/parallel.h"

namespace rrwkv::ops::detail {

void layer_norm_row(const float* x, int64_t dim, const float* w, const float* b, double eps, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < dim; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(dim);
  double sq = 0.0;
  for (int64_t i = 0; i < dim; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  const float rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(dim) + eps));
  const float m = static_cast<float>(mean);
  for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] - m) * rstd * w[i] + b[i];
}

void layer_norm_cpu(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w,
                    const float* b, double eps, float* y, int64_t ldy) {
  for_rows(ctx, n, dim, [&](int64_t i) { layer_norm_row(x + i * ldx, dim, w, b, eps, y + i * ldy); });
}

void group_norm_cpu(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups,
                    const float* w, const float* b, double eps, float* y, int64_t ldy) {
  const int64_t g = dim / groups;
  for_rows(ctx, n * groups, g, [&](int64_t task) {
    const int64_t i = task / groups, off = task % groups * g;
    layer_norm_row(x + i * ldx + off, g, w + off, b + off, eps, y + i * ldy + off);
  });
}

}  // namespace rrwkv::ops::detail
