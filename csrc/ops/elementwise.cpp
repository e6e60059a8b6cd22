#include "ops/elementwise.h"

#include <string>

#include "core/errors.h"

namespace rrwkv::ops {
namespace {

void run(ExecContext& ctx, detail::Elementwise op, float* y, const float* a, const float* b, int64_t n, int64_t dim,
         int64_t ld) {
  if (n < 0 || dim < 0 || ld < dim || (n > 0 && (!y || !a || (op != detail::Elementwise::Add && !b))))
    throw InvalidArgument("elementwise: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ")");
  RRWKV_DISPATCH("elementwise", ctx.device, detail::elementwise_cpu(ctx, op, y, a, b, n, dim, ld),
                 detail::elementwise_cuda(ctx, op, y, a, b, n, dim, ld));
}

}  // namespace

void add(ExecContext& ctx, float* y, const float* a, int64_t n, int64_t dim, int64_t ld) {
  run(ctx, detail::Elementwise::Add, y, a, nullptr, n, dim, ld);
}

void add_product(ExecContext& ctx, float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld) {
  run(ctx, detail::Elementwise::AddProduct, y, a, b, n, dim, ld);
}

void multiply(ExecContext& ctx, float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld) {
  run(ctx, detail::Elementwise::Multiply, y, a, b, n, dim, ld);
}

void lerp(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
          int64_t ld) {
  if (n < 0 || dim < 0 || ld < dim || (n > 0 && (!y || !x || !prev || !mu)))
    throw InvalidArgument("lerp: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ")");
  RRWKV_DISPATCH("lerp", ctx.device, detail::lerp_cpu(ctx, y, x, prev, mu, n, dim, ld),
                 detail::lerp_cuda(ctx, y, x, prev, mu, n, dim, ld));
}

void shift_mix(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
               int64_t ldm, int64_t n, int64_t dim, int64_t ld) {
  if (n < 0 || dim < 0 || ld < dim || (m && ldm < dim) || (n > 0 && (!y || !x || !prev || !mu)))
    throw InvalidArgument("shift_mix: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ")");
  RRWKV_DISPATCH("shift_mix", ctx.device, detail::shift_mix_cpu(ctx, y, x, prev, mu, m, ldm, n, dim, ld),
                 detail::shift_mix_cuda(ctx, y, x, prev, mu, m, ldm, n, dim, ld));
}

void gather(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst,
            int64_t ldd) {
  if (n < 0 || dim < 0 || lds < dim || ldd < dim || (n > 0 && (!src || !rows || !dst)))
    throw InvalidArgument("gather: bad operands (n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ")");
  RRWKV_DISPATCH("gather", ctx.device, detail::gather_cpu(ctx, src, lds, rows, n, dim, dst, ldd),
                 detail::gather_cuda(ctx, src, lds, rows, n, dim, dst, ldd));
}

}  // namespace rrwkv::ops
