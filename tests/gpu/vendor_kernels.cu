#include "gpu/vendor.h"
#include "gpu/vendor_kernels.h"

namespace rrwkv::gpu::test {
namespace {

__global__ void shuffles_kernel(const float* x, float* out) {
  const unsigned t = thread_rank();
  const float v = x[t];
  float* o = out + t * kShuffleCases;
  o[0] = shfl_xor(v, 1);
  o[1] = shfl_xor(v, 2);
  o[2] = shfl_xor(v, 4);
  o[3] = shfl_xor(v, 8);
  o[4] = shfl_xor(v, 16);
  o[5] = shfl_down(v, 1);
  o[6] = shfl_down(v, 5);
  o[7] = shfl_down(v, 16);
  o[8] = shfl_down(v, 31);
  o[9] = shfl(v, 0);
  o[10] = shfl(v, 7);
  o[11] = shfl(v, 31);
}

__global__ void reverse_kernel(const float* x, float* y, unsigned n) {
  RRWKV_DYNAMIC_SHARED(float, s);
  const unsigned t = threadIdx.x;
  s[t] = x[t];
  __syncthreads();
  y[t] = s[n - 1 - t];
}

__global__ void histogram_kernel(const uint32_t* x, int64_t n, uint32_t* counts, float* total) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  atomic_add(counts + x[i] % 8, 1u);
  atomic_add(total, 0.5f);
}

__global__ void half_kernel(const uint16_t* h, float* f, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) f[i] = gpu::half_to_float(h[i]);
}

__global__ void bf16_kernel(const uint16_t* h, float* f, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) f[i] = gpu::bf16_to_float(h[i]);
}

__global__ void to_bf16_kernel(const float* f, uint16_t* h, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) h[i] = gpu::float_to_bf16(f[i]);
}

__global__ void poison_kernel(float* x) { x[threadIdx.x] = -1.0f; }

unsigned blocks(int64_t n, unsigned threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

void shuffles(const float* x, float* out, unsigned bx, unsigned by) {
  launch("shuffles", shuffles_kernel, dim3(1), dim3(bx, by), 0, nullptr, x, out);
  stream_synchronize(nullptr);
}

void reverse_in_shared(const float* x, float* y, unsigned n) {
  launch("reverse", reverse_kernel, dim3(1), dim3(n), n * sizeof(float), nullptr, x, y, n);
  stream_synchronize(nullptr);
}

void reverse_via_scratch(const float* x, float* y, unsigned n, void* stream) {
  const Stream s = to_stream(stream);
  float* scratch = static_cast<float*>(malloc_async(n * sizeof(float), s));
  launch("reverse", reverse_kernel, dim3(1), dim3(n), n * sizeof(float), s, x, scratch, n);
  copy_async(y, scratch, n * sizeof(float), s);
  free_async(scratch, s);
}

void histogram(const uint32_t* x, int64_t n, uint32_t* counts, float* total) {
  launch("histogram", histogram_kernel, dim3(blocks(n, 64)), dim3(64), 0, nullptr, x, n, counts, total);
  stream_synchronize(nullptr);
}

void half_to_float(const uint16_t* h, float* f, int64_t n) {
  launch("half_to_float", half_kernel, dim3(blocks(n, 256)), dim3(256), 0, nullptr, h, f, n);
  stream_synchronize(nullptr);
}

void bf16_to_float(const uint16_t* h, float* f, int64_t n) {
  launch("bf16_to_float", bf16_kernel, dim3(blocks(n, 256)), dim3(256), 0, nullptr, h, f, n);
  stream_synchronize(nullptr);
}

void float_to_bf16(const float* f, uint16_t* h, int64_t n) {
  launch("float_to_bf16", to_bf16_kernel, dim3(blocks(n, 256)), dim3(256), 0, nullptr, f, h, n);
  stream_synchronize(nullptr);
}

void empty_launch(float* x) {
  launch("empty", poison_kernel, dim3(0), dim3(32), 0, nullptr, x);
  stream_synchronize(nullptr);
}

}  // namespace rrwkv::gpu::test
