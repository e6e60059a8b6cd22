// Rows of an embedding matrix in device memory as f32, asynchronous on `stream`: the GPU twin of
// ops::embedding. out[i] = emb[ids[i]] for any weight type; ids (n, device memory) are validated
// by the caller, as on the CPU.
#pragma once

#include <cstdint>

#include "core/matrix.h"

namespace rrwkv::gpu {

void embedding(const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo, void* stream);

}  // namespace rrwkv::gpu
