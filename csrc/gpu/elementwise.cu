// Row-wise kernels (elementwise.h): one thread per element over a capped grid, rows and columns
// from the flat index.
#include <algorithm>
#include <string>

#include "gpu/activation.h"
#include "gpu/elementwise.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;

enum class Op { Add, AddProduct, Multiply };

template <Op kOp>
__global__ void binary_kernel(float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = i / dim * ld + i % dim;
    if (kOp == Op::Add) y[o] += a[o];
    else if (kOp == Op::AddProduct) y[o] += a[o] * b[o];
    else y[o] = a[o] * b[o];
  }
}

__global__ void activate_kernel(Activation act, float* y, int64_t n, int64_t dim, int64_t ld) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = i / dim * ld + i % dim;
    y[o] = apply(act, y[o]);
  }
}

__global__ void gather_kernel(const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst,
                              int64_t ldd) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, c = i % dim;
    dst[r * ldd + c] = src[rows[r] * lds + c];
  }
}

void check_rows(const char* op, int64_t n, int64_t dim, int64_t ld) {
  if (n < 0 || dim < 0 || (n > 1 && ld < dim))
    throw InvalidArgument(std::string(op) + ": need n >= 0, dim >= 0 and a row stride >= dim, got n=" +
                          std::to_string(n) + ", dim=" + std::to_string(dim) + ", ld=" + std::to_string(ld));
}

dim3 grid(int64_t n, int64_t dim) {
  return dim3(static_cast<unsigned>(std::min<int64_t>(kMaxBlocks, (n * dim + kThreads - 1) / kThreads)));
}

template <Op kOp>
void binary(const char* what, float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld,
            void* stream) {
  check_rows(what, n, dim, ld);
  launch(what, binary_kernel<kOp>, grid(n, dim), dim3(kThreads), 0, to_stream(stream), y, a, b, n, dim, ld);
}

}  // namespace

void add(float* y, const float* a, int64_t n, int64_t dim, int64_t ld, void* stream) {
  binary<Op::Add>("gpu add", y, a, nullptr, n, dim, ld, stream);
}

void add_product(float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld, void* stream) {
  binary<Op::AddProduct>("gpu add_product", y, a, b, n, dim, ld, stream);
}

void multiply(float* y, const float* a, const float* b, int64_t n, int64_t dim, int64_t ld, void* stream) {
  binary<Op::Multiply>("gpu multiply", y, a, b, n, dim, ld, stream);
}

void activate(Activation act, float* y, int64_t n, int64_t dim, int64_t ld, void* stream) {
  check_rows("gpu activate", n, dim, ld);
  if (act == Activation::None) return;
  launch("gpu activate", activate_kernel, grid(n, dim), dim3(kThreads), 0, to_stream(stream), act, y, n, dim, ld);
}

void gather(const float* src, int64_t lds, const int64_t* rows, int64_t n, int64_t dim, float* dst, int64_t ldd,
            void* stream) {
  check_rows("gpu gather", n, dim, ldd);
  launch("gpu gather", gather_kernel, grid(n, dim), dim3(kThreads), 0, to_stream(stream), src, lds, rows, n, dim, dst,
         ldd);
}

}  // namespace rrwkv::gpu
