// Elementwise updates, token-shift mixes and gathers on the GPU (gpu/elementwise.h, gpu/mix.h).
#include "gpu/elementwise.h"
#include "gpu/mix.h"
#include "ops/elementwise.h"

namespace rrwkv::ops::detail {

void elementwise_cuda(ExecContext& ctx, Elementwise op, float* y, const float* a, const float* b, int64_t n,
                      int64_t dim, int64_t ld) {
  if (n == 0 || dim == 0) return;
  switch (op) {
    case Elementwise::Add: gpu::add(y, a, n, dim, ld, ctx.stream()); break;
    case Elementwise::AddProduct: gpu::add_product(y, a, b, n, dim, ld, ctx.stream()); break;
    case Elementwise::Multiply: gpu::multiply(y, a, b, n, dim, ld, ctx.stream()); break;
  }
}

void lerp_cuda(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
               int64_t ld) {
  if (n > 0 && dim > 0) gpu::lerp(y, x, prev, mu, n, dim, ld, ctx.stream());
}

void shift_mix_cuda(ExecContext& ctx, float* y, const float* x, const float* prev, const float* mu, const float* m,
                    int64_t ldm, int64_t n, int64_t dim, int64_t ld) {
  if (n > 0 && dim > 0) gpu::shift_mix(y, x, prev, mu, m, ldm, n, dim, ld, ctx.stream());
}

void gather_cuda(ExecContext& ctx, const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim,
                 float* dst, int64_t ldd) {
  if (n > 0 && dim > 0) gpu::gather(src, lds, rows, n, dim, dst, ldd, ctx.stream());
}

}  // namespace rrwkv::ops::detail
