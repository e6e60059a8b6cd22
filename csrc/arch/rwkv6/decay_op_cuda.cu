// RWKV-6's decay on the GPU (gpu/time_mix.h).
#include "arch/rwkv6/decay_op.h"
#include "gpu/time_mix.h"

namespace rrwkv::rwkv6::detail {

void decay_cuda(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim) {
  if (n > 0) gpu::rwkv6_decay(w, time_decay, m, n, dim, ctx.stream());
}

}  // namespace rrwkv::rwkv6::detail
