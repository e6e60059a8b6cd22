#include "ops/embedding.h"

#include <string>

#include "core/errors.h"
#include "ops/kernels.h"

namespace rrwkv::ops {

void embedding(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo) {
  if (n < 0 || ldo < emb.cols || (n > 0 && (!ids || !out)))
    throw InvalidArgument("embedding: bad operands (n=" + std::to_string(n) + ")");
  require_kernel("embedding", emb.dtype, ctx.device);
  RRWKV_DISPATCH("embedding", ctx.device, detail::embedding_cpu(ctx, emb, ids, n, out, ldo),
                 detail::embedding_cuda(ctx, emb, ids, n, out, ldo));
}

}  // namespace rrwkv::ops
