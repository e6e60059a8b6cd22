#include "ops/norm.h"

#include "core/errors.h"

namespace rrwkv::ops {

void layer_norm(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w, const float* b,
                double eps, float* y, int64_t ldy) {
  if (n < 0 || dim < 1 || ldx < dim || ldy < dim || (n > 0 && (!x || !y || !w || !b)) || !(eps > 0))
    throw InvalidArgument("layer_norm: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ")");
  RRWKV_DISPATCH("layer_norm", ctx.device, detail::layer_norm_cpu(ctx, x, ldx, n, dim, w, b, eps, y, ldy),
                 detail::layer_norm_cuda(ctx, x, ldx, n, dim, w, b, eps, y, ldy));
}

void group_norm(ExecContext& ctx, const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups, const float* w,
                const float* b, double eps, float* y, int64_t ldy) {
  if (n < 0 || dim < 1 || groups < 1 || dim % groups != 0 || ldx < dim || ldy < dim ||
      (n > 0 && (!x || !y || !w || !b)) || !(eps > 0))
    throw InvalidArgument("group_norm: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) +
                          ", groups=" + std::to_string(groups) + ")");
  RRWKV_DISPATCH("group_norm", ctx.device, detail::group_norm_cpu(ctx, x, ldx, n, dim, groups, w, b, eps, y, ldy),
                 detail::group_norm_cuda(ctx, x, ldx, n, dim, groups, w, b, eps, y, ldy));
}

}  // namespace rrwkv::ops
