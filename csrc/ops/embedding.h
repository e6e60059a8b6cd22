// Rows of an embedding matrix as f32: out[i] = emb[ids[i]] (ids validated by the caller).
#pragma once

#include <cstdint>

#include "core/matrix.h"
#include "ops/context.h"

namespace rrwkv::ops {

void embedding(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo);

namespace detail {
void embedding_cpu(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo);
void embedding_cuda(ExecContext& ctx, const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo);
}

}  // namespace rrwkv::ops
