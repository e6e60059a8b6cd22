// Token-shift mixes (mix.h). The mixes are elementwise over a capped grid; the token shift is one
// thread per (row, channel) walking the row's tokens in order.
#include <algorithm>
#include <string>

#include "gpu/mix.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;

__global__ void lerp_kernel(float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim,
                            int64_t ld) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i % dim, o = i / dim * ld + c;
    y[o] = x[o] * mu[c] + prev[o] * (1.0f - mu[c]);
  }
}

__global__ void shift_mix_kernel(float* y, const float* x, const float* prev, const float* mu, const float* m,
                                 int64_t ldm, int64_t n, int64_t dim, int64_t ld) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i % dim, o = r * ld + c;
    const float k = m ? mu[c] + m[r * ldm + c] : mu[c];
    y[o] = x[o] + (prev[o] - x[o]) * k;
  }
}

// Block (kThreads channels) of row blockIdx.y.
__global__ void token_shift_kernel(const int64_t* start, const int64_t* row_index, float* states,
                                   int64_t state_stride, int64_t field, const float* x, int64_t dim, float* prev) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x, i = blockIdx.y;
  if (c >= dim) return;
  const int64_t t0 = start[i], t1 = start[i + 1];
  if (t1 == t0) return;
  float* carried = states + row_index[i] * state_stride + field + c;
  prev[t0 * dim + c] = *carried;
  for (int64_t t = t0 + 1; t < t1; ++t) prev[t * dim + c] = x[(t - 1) * dim + c];
  *carried = x[(t1 - 1) * dim + c];
}

void check_rows(const char* op, int64_t n, int64_t dim, int64_t ld) {
  if (n < 0 || dim < 0 || (n > 1 && ld < dim))
    throw InvalidArgument(std::string(op) + ": need n >= 0, dim >= 0 and a row stride >= dim, got n=" +
                          std::to_string(n) + ", dim=" + std::to_string(dim) + ", ld=" + std::to_string(ld));
}

dim3 grid(int64_t n, int64_t dim) {
  return dim3(static_cast<unsigned>(std::min<int64_t>(kMaxBlocks, (n * dim + kThreads - 1) / kThreads)));
}

}  // namespace

void lerp(float* y, const float* x, const float* prev, const float* mu, int64_t n, int64_t dim, int64_t ld,
          void* stream) {
  check_rows("gpu lerp", n, dim, ld);
  launch("gpu lerp", lerp_kernel, grid(n, dim), dim3(kThreads), 0, to_stream(stream), y, x, prev, mu, n, dim, ld);
}

void shift_mix(float* y, const float* x, const float* prev, const float* mu, const float* m, int64_t ldm, int64_t n,
               int64_t dim, int64_t ld, void* stream) {
  check_rows("gpu shift_mix", n, dim, ld);
  launch("gpu shift_mix", shift_mix_kernel, grid(n, dim), dim3(kThreads), 0, to_stream(stream), y, x, prev, mu, m,
         ldm, n, dim, ld);
}

void token_shift(const int64_t* start, const int64_t* row_index, int64_t n_rows, float* states, int64_t state_stride,
                 int64_t field, const float* x, int64_t dim, float* prev, void* stream) {
  if (n_rows < 0 || dim < 0 || n_rows > 65535)
    throw InvalidArgument("gpu token_shift: need 0 <= n_rows <= 65535 and dim >= 0, got n_rows=" +
                          std::to_string(n_rows) + ", dim=" + std::to_string(dim));
  launch("gpu token_shift", token_shift_kernel,
         dim3(static_cast<unsigned>((dim + kThreads - 1) / kThreads), static_cast<unsigned>(n_rows)), dim3(kThreads), 0,
         to_stream(stream), start, row_index, states, state_stride, field, x, dim, prev);
}

}  // namespace rrwkv::gpu
