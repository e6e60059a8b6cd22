// Layer and group norm (norm.h): one block per (row, group), three passes over the group's values:
// the sum and the sum of squared deviations in double (two block sums), then the normalised output
// with the CPU's float arithmetic (ops/norm_cpu.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/norm.h"
#include "gpu/reduce.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

__global__ void group_norm_kernel(const float* x, int64_t ldx, int64_t dim, int64_t groups, const float* w,
                                  const float* b, double eps, float* y, int64_t ldy) {
  __shared__ double slots[2][kWarp];  // one set per block sum: no barrier between them
  const int64_t g = dim / groups, row = blockIdx.x / groups, off = blockIdx.x % groups * g;
  const float* xr = x + row * ldx + off;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < g; i += blockDim.x) s += xr[i];
  const double mean = block_sum(s, slots[0]) / static_cast<double>(g);
  double sq = 0.0;
  for (int64_t i = threadIdx.x; i < g; i += blockDim.x) {
    const double d = xr[i] - mean;
    sq += d * d;
  }
  const double var = block_sum(sq, slots[1]) / static_cast<double>(g);
  const float rstd = static_cast<float>(1.0 / sqrt(var + eps)), m = static_cast<float>(mean);
  float* yr = y + row * ldy + off;
  for (int64_t i = threadIdx.x; i < g; i += blockDim.x) yr[i] = (xr[i] - m) * rstd * w[off + i] + b[off + i];
}

}  // namespace

void group_norm(const float* x, int64_t ldx, int64_t n, int64_t dim, int64_t groups, const float* w, const float* b,
                double eps, float* y, int64_t ldy, void* stream) {
  if (n < 0 || dim < 1 || groups < 1 || dim % groups || (n > 1 && (ldx < dim || ldy < dim)))
    throw InvalidArgument("gpu group_norm: need n >= 0, dim >= 1 split into groups >= 1 equal groups and row strides "
                          ">= dim, got n=" + std::to_string(n) + ", dim=" + std::to_string(dim) + ", groups=" +
                          std::to_string(groups) + ", ldx=" + std::to_string(ldx) + ", ldy=" + std::to_string(ldy));
  const int64_t g = dim / groups;
  // a warp per 32 values up to 256 threads: small groups (a head of 64) take small blocks
  const unsigned threads = static_cast<unsigned>(std::min<int64_t>(256, (g + kWarp - 1) / kWarp * kWarp));
  launch("gpu group_norm", group_norm_kernel, dim3(static_cast<unsigned>(n * groups)), dim3(threads), 0,
         to_stream(stream), x, ldx, dim, groups, w, b, eps, y, ldy);
}

void layer_norm(const float* x, int64_t ldx, int64_t n, int64_t dim, const float* w, const float* b, double eps,
                float* y, int64_t ldy, void* stream) {
  group_norm(x, ldx, n, dim, 1, w, b, eps, y, ldy, stream);
}

}  // namespace rrwkv::gpu
