#include <cmath>

#include "arch/rwkv6/decay_op.h"
#include "ops/parallel.h"

namespace rrwkv::rwkv6::detail {

void decay_cpu(ExecContext& ctx, float* w, const float* time_decay, const float* m, int64_t n, int64_t dim) {
  ops::detail::for_rows(ctx, n, dim, [&](int64_t i) {
    for (int64_t c = 0; c < dim; ++c) w[i * dim + c] = std::exp(-std::exp(time_decay[c] + m[i * dim + c]));
  });
}

}  // namespace rrwkv::rwkv6::detail
