// Row-wise GPU ops on device buffers, asynchronous on `stream` (a cudaStream_t; nullptr: the
// default stream): the GPU twins of ops/elementwise.h and of linear's epilogues. n rows of `dim`
// floats with the given row strides (in floats). Throws InvalidArgument on bad sizes.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// The activations applied after a projection (the epilogues of ops::linear, in its order).
enum class Activation { None, Sigmoid, ReluSquare, Tanh, Silu };

// y[i] += a[i]
void add(float* y, const float* a, int64_t n, int64_t dim, int64_t ld, void* stream);
// y[i] += a[i] ⊙ b[i]
void add_product(float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld, void* stream);
// y[i] = a[i] ⊙ b[i]
void multiply(float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld, void* stream);
// y[i] = act(y[i])
void activate(Activation act, float* y, int64_t n, int64_t dim, int64_t ld, void* stream);
// dst[i] = src[rows[i]] (rows: n indices in device memory)
void gather(const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst, int64_t ldd,
            void* stream);

}  // namespace rrwkv::gpu
