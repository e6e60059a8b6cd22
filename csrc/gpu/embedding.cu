// Embedding gather (embedding.h): block (row i, 256 columns), one element per thread.
#include <string>

#include "gpu/embedding.h"
#include "gpu/vendor.h"
#include "gpu/weights.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;

template <DType D>
__global__ void embedding_kernel(const std::uint8_t* data, int64_t ld, int64_t cols, const int64_t* ids, float* out,
                                 int64_t ldo) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x, i = blockIdx.y;
  if (c < cols) out[i * ldo + c] = weight_at<D>(data + ids[i] * ld, cols, c);
}

}  // namespace

void embedding(const Matrix& emb, const int64_t* ids, int64_t n, float* out, int64_t ldo, void* stream) {
  if (n < 0 || n > 65535 || (n > 1 && ldo < emb.cols))
    throw InvalidArgument("gpu embedding: need 0 <= n <= 65535 rows and ldo >= cols=" + std::to_string(emb.cols) +
                          ", got n=" + std::to_string(n) + ", ldo=" + std::to_string(ldo));
  const dim3 grid(static_cast<unsigned>((emb.cols + kThreads - 1) / kThreads), static_cast<unsigned>(n));
  const auto* data = static_cast<const std::uint8_t*>(emb.data);
  with_weight_type(emb.dtype, "gpu embedding", [&](auto type) {
    launch("gpu embedding", embedding_kernel<decltype(type)::value>, grid, dim3(kThreads), 0, to_stream(stream), data,
           emb.ld, emb.cols, ids, out, ldo);
  });
}

}  // namespace rrwkv::gpu
