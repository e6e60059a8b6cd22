// Embedding rows on the GPU (gpu/embedding.h).
#include "gpu/embedding.h"
#include "ops/embedding.h"

namespace rrwkv::ops::detail {

void embedding_cuda(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo) {
  if (n > 0) gpu::embedding(emb, ids, n, out, ldo, ctx.stream());
}

}  // namespace rrwkv::ops::detail
