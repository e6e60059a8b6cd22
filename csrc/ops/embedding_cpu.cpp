#include "kernels/cpu/matvec.h"
#include "ops/embedding.h"
#include "ops/parallel.h"

namespace rrwkv::ops::detail {

void embedding_cpu(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo) {
  for_rows(ctx, n, emb.cols, [&](int64_t i) { cpu::kernels().rows_to_f32(emb, ids[i], ids[i] + 1, out + i * ldo); });
}

}  // namespace rrwkv::ops::detail
