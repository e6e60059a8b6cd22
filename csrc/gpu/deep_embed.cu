// DeepEmbed's steps (deep_embed.h): a thread per output element, each sum in the CPU's order
// (arch/rwkv7/deep_embed.cpp), over a capped grid.
#include <algorithm>
#include <string>

#include "gpu/deep_embed.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;

__global__ void mix_kernel(const float* proj, const float* table_rows, int64_t n, int64_t R, float* out) {
  for (int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; x < n * R;
       x += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = x / R, j = x % R;
    const float* p = proj + t * R;
    const float* e = table_rows + t * R * R + j;
    float o = 0.0f;
    for (int64_t i = 0; i < R; ++i) o += p[i] * e[i * R];
    out[x] = o;
  }
}

__global__ void scale_kernel(float* k, const float* mod, const float* s0, int64_t n, int64_t F) {
  for (int64_t x = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; x < n * F;
       x += static_cast<int64_t>(gridDim.x) * blockDim.x)
    k[x] *= mod[x] + s0[x % F];
}

dim3 grid(int64_t elements) {
  return dim3(static_cast<unsigned>(std::min<int64_t>(kMaxBlocks, (elements + kThreads - 1) / kThreads)));
}

}  // namespace

void deep_embed_mix(const float* proj, const float* table_rows, int64_t n, int64_t R, float* out, void* stream) {
  if (n < 0 || R < 1 || (n > 0 && (!proj || !table_rows || !out)))
    throw InvalidArgument("gpu deep_embed_mix: need n >= 0, R >= 1 and every operand; got n=" + std::to_string(n) +
                          ", R=" + std::to_string(R));
  launch("gpu deep_embed_mix", mix_kernel, grid(n * R), dim3(kThreads), 0, to_stream(stream), proj, table_rows, n, R,
         out);
}

void deep_embed_scale(float* k, const float* mod, const float* s0, int64_t n, int64_t F, void* stream) {
  if (n < 0 || F < 1 || (n > 0 && (!k || !mod || !s0)))
    throw InvalidArgument("gpu deep_embed_scale: need n >= 0, F >= 1 and every operand; got n=" + std::to_string(n) +
                          ", F=" + std::to_string(F));
  launch("gpu deep_embed_scale", scale_kernel, grid(n * F), dim3(kThreads), 0, to_stream(stream), k, mod, s0, n, F);
}

}  // namespace rrwkv::gpu
