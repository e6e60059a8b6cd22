// Matrix-vector products (matvec.h). A block of kWarps warps takes kWarps rows of W, one per warp.
// The block walks the columns in chunks: its threads stage the chunk of every vector in shared
// memory, then each warp reads its row's weights of the chunk once (lane l: columns l, l + 32, ...,
// coalesced) and multiplies each with all vectors. At the end each warp sums its lanes.
#include <string>

#include "gpu/activation.h"
#include "gpu/matvec.h"
#include "gpu/reduce.h"
#include "gpu/vendor.h"
#include "gpu/weights.h"

namespace rrwkv::gpu {
namespace {

constexpr int kWarps = 4;      // rows per block
constexpr int kChunk = 256;    // columns of the vectors staged per step

template <DType D, int kVecs>
__global__ void matvec_kernel(const std::uint8_t* w, int64_t ld, int64_t rows, int64_t cols, const float* x,
                              int64_t ldx, int nvec, float* y, int64_t ldy, Activation act) {
  RRWKV_DYNAMIC_SHARED(float, xs);  // xs[v * kChunk + c] = x[v][c0 + c]
  const int64_t r = blockIdx.x * static_cast<int64_t>(kWarps) + warp();
  const std::uint8_t* row = w + (r < rows ? r : 0) * ld;
  float acc[kVecs];
  for (int v = 0; v < kVecs; ++v) acc[v] = 0.0f;
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int len = static_cast<int>(cols - c0 < kChunk ? cols - c0 : kChunk);
    for (unsigned i = thread_rank(); i < static_cast<unsigned>(nvec * kChunk); i += blockDim.x) {
      const unsigned v = i / kChunk, c = i % kChunk;
      xs[i] = static_cast<int>(c) < len ? x[v * ldx + c0 + c] : 0.0f;
    }
    __syncthreads();
    if (r < rows) {
      for (int c = static_cast<int>(lane()); c < len; c += kWarp) {
        const float wv = weight_at<D>(row, cols, c0 + c);
#pragma unroll
        for (int v = 0; v < kVecs; ++v)
          if (v < nvec) acc[v] += wv * xs[v * kChunk + c];
      }
    }
    __syncthreads();  // the next chunk overwrites xs
  }
#pragma unroll
  for (int v = 0; v < kVecs; ++v)
    if (v < nvec) acc[v] = warp_sum(acc[v]);  // nvec is the same in every thread: all reach the shuffles
  if (r < rows && lane() == 0)
    for (int v = 0; v < nvec; ++v) y[v * ldy + r] = apply(act, acc[v]);
}

template <DType D, int kVecs>
void run(const Matrix& w, const float* x, int64_t ldx, int nvec, float* y, int64_t ldy, Activation act,
         void* stream) {
  launch("gpu matvec", matvec_kernel<D, kVecs>, dim3(static_cast<unsigned>((w.rows + kWarps - 1) / kWarps)),
         dim3(kWarps * kWarp), static_cast<size_t>(nvec) * kChunk * sizeof(float), to_stream(stream),
         static_cast<const std::uint8_t*>(w.data), w.ld, w.rows, w.cols, x, ldx, nvec, y, ldy, act);
}

}  // namespace

void matvec(const Matrix& w, const float* x, int64_t ldx, int nvec, float* y, int64_t ldy, Activation act,
            void* stream) {
  if (nvec < 1 || nvec > kMaxMatvecVectors)
    throw InvalidArgument("gpu matvec: takes 1 to " + std::to_string(kMaxMatvecVectors) + " vectors, got " +
                          std::to_string(nvec));
  if (w.rows < 0 || w.cols < 0 || (nvec > 1 && (ldx < w.cols || ldy < w.rows)))
    throw InvalidArgument("gpu matvec: need ldx >= cols=" + std::to_string(w.cols) + " and ldy >= rows=" +
                          std::to_string(w.rows) + ", got ldx=" + std::to_string(ldx) + ", ldy=" + std::to_string(ldy));
  if (traits(w.dtype).quantized && w.cols % kQuantBlock)
    throw InvalidArgument("gpu matvec: " + std::string(dtype_name(w.dtype)) + " rows hold whole blocks of 32, got cols=" +
                          std::to_string(w.cols));
  with_weight_type(w.dtype, "gpu matvec", [&](auto type) {
    constexpr DType D = decltype(type)::value;
    if (nvec <= 1) run<D, 1>(w, x, ldx, nvec, y, ldy, act, stream);
    else if (nvec <= 2) run<D, 2>(w, x, ldx, nvec, y, ldy, act, stream);
    else if (nvec <= 4) run<D, 4>(w, x, ldx, nvec, y, ldy, act, stream);
    else if (nvec <= 8) run<D, 8>(w, x, ldx, nvec, y, ldy, act, stream);
    else run<D, 16>(w, x, ldx, nvec, y, ldy, act, stream);
  });
}

}  // namespace rrwkv::gpu
