// Matrix-vector products on device buffers for every weight type (f32, f16, bf16, q8_0, q4_1),
// asynchronous on `stream`: the GPU twin of the CPU matvec kernels behind ops::linear's decode
// path, with linear's epilogue fused.
//   y[v][r] = act(sum_c W[r, c] * x[v][c])   for every row r of W and v < nvec
// 1 <= nvec <= kMaxMatvecVectors vectors (rows of x, stride ldx floats; rows of y, stride ldy), each
// weight read from memory once for all of them; f32 accumulation. x and y must not alias.
#pragma once

#include <cstdint>

#include "core/matrix.h"
#include "gpu/elementwise.h"

namespace rrwkv::gpu {

constexpr int kMaxMatvecVectors = 16;

void matvec(const Matrix& w, const float* x, int64_t ldx, int nvec, float* y, int64_t ldy, Activation act,
            void* stream);

}  // namespace rrwkv::gpu
