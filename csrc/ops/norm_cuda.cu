// LayerNorm and GroupNorm on the GPU (gpu/norm.h).
#include "gpu/norm.h"
#include "ops/norm.h"

namespace rrwkv::ops::detail {

void layer_norm_cuda(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w,
                     const float* b, double eps, float* y, int64_t ldy) {
  if (n > 0) gpu::layer_norm(x, ldx, n, dim, w, b, eps, y, ldy, ctx.stream());
}

void group_norm_cuda(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups,
                     const float* w, const float* b, double eps, float* y, int64_t ldy) {
  if (n > 0) gpu::group_norm(x, ldx, n, dim, groups, w, b, eps, y, ldy, ctx.stream());
}

}  // namespace rrwkv::ops::detail
