// Normalisation of rows on device buffers, asynchronous on `stream`: the GPU twins of
// ops::layer_norm and ops::group_norm, with mean and variance accumulated in double as on the CPU.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// y[i] = LayerNorm(x[i]) * w + b for n rows of `dim` floats; y may be x.
void layer_norm(const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w, const float* b, double eps,
                float* y, int64_t ldy, void* stream);

// Each row split into `groups` equal groups, each normalised on its own; y may be x.
void group_norm(const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups, const float* w, const float* b,
                double eps, float* y, int64_t ldy, void* stream);

}  // namespace rrwkv::gpu
