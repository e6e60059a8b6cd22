// Activations in 16-bit parts (split16.h): one block per row (f16: a max over the row for its
// shift first), then each thread its columns; and the row-scaling epilogue.
#include <algorithm>
#include <string>

#include "core/errors.h"
#include "gpu/activation.h"
#include "gpu/matvec.h"
#include "gpu/split16.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxShift = 126;  // 2^±126 are normal floats: inv_scale is one

// Round to the nearest f16, ties to even (subnormals and overflow to inf included).
RRWKV_DEVICE std::uint16_t float_to_half(float f) {
#if defined(RRWKV_GPU_EMULATION)
  const std::uint32_t b = float_as_bits(f), a = b & 0x7fffffffu;
  const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  if (a > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);   // NaN
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a >= 0x38800000u) {                        // f16 normals (>= 2^-14): rebias, round 13 bits away
    std::uint32_t h = (a - 0x38000000u) >> 13;
    const std::uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  // subnormals: units of 2^-24, rounded to the nearest even unit (0x400, the smallest normal, included)
  return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(rintf(bits_as_float(a) * 0x1p24f)));
#else
  return __half_as_ushort(__float2half_rn(f));
#endif
}

RRWKV_DEVICE float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, shfl_xor(v, o));
  return v;
}

RRWKV_DEVICE bool finite(float f) { return (float_as_bits(f) & 0x7f800000u) != 0x7f800000u; }

// 2^s for |s| <= 126
RRWKV_DEVICE float pow2(int s) { return bits_as_float(static_cast<std::uint32_t>(s + 127) << 23); }

template <bool kF16>
__global__ void split_kernel(const float* x, int64_t ldx, int64_t k, std::uint16_t* planes, int64_t plane,
                             int64_t stride, float* inv_scale) {
  __shared__ float slots[32];
  const int64_t r = blockIdx.x;
  const float* row = x + r * ldx;
  std::uint16_t* out = planes + r * stride;
  if constexpr (kF16) {
    float m = 0.0f;
    for (int64_t c = threadIdx.x; c < k; c += blockDim.x) m = fmaxf(m, fabsf(row[c]));
    m = warp_max(m);
    if (lane() == 0) slots[warp()] = m;
    __syncthreads();
    m = warp_max(lane() < blockDim.x / kWarp ? slots[lane()] : 0.0f);
    // m in [2^(E-127), 2^(E-126)) for its exponent field E: 2^(141-E) puts it in [2^14, 2^15)
    const int e = static_cast<int>((float_as_bits(m) >> 23) & 0xffu);
    int shift = m == 0.0f || e == 0xff ? 0 : 141 - e;
    shift = shift > kMaxShift ? kMaxShift : shift < -kMaxShift ? -kMaxShift : shift;
    const float scale = pow2(shift);
    if (threadIdx.x == 0) inv_scale[r] = pow2(-shift);
    for (int64_t c = threadIdx.x; c < k; c += blockDim.x) {
      const float v = row[c] * scale;  // exact: a power of two, the result below 2^15
      const std::uint16_t hi = float_to_half(v);
      const float h = half_to_float(hi);
      out[c] = hi;
      out[plane + c] = finite(h) ? float_to_half(v - h) : std::uint16_t{0};
    }
  } else {
    if (threadIdx.x == 0) inv_scale[r] = 1.0f;
    for (int64_t c = threadIdx.x; c < k; c += blockDim.x) {
      float v = row[c];  // each part rounds what the ones before left: v - part is exact
      for (int p = 0; p < 3; ++p) {
        const std::uint16_t part = float_to_bf16(v);
        out[p * plane + c] = part;
        const float h = bf16_to_float(part);
        v = finite(h) ? v - h : 0.0f;
      }
    }
  }
}

__global__ void scale_rows_kernel(float* y, int64_t n, int64_t dim, int64_t ld, const float* inv_scale,
                                  Activation act) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / dim, o = r * ld + i % dim;
    y[o] = apply(act, inv_scale ? y[o] * inv_scale[r] : y[o]);
  }
}

}  // namespace

int split_parts(DType type) {
  if (type == DType::F16) return 2;
  if (type == DType::BF16) return 3;
  throw InvalidArgument(std::string("split16: splits activations into f16 or bf16, not ") + dtype_name(type));
}

int64_t split_gemm_min_rows(DType type) { return kMaxMatvecVectors * split_parts(type) + 1; }

int64_t split_stride(int64_t k) { return (std::max<int64_t>(k, 1) + 7) / 8 * 8; }

void split16(DType type, const float* x, int64_t ldx, int64_t n, int64_t k, std::uint16_t* planes, float* inv_scale,
             void* stream) {
  split_parts(type);
  if (n < 0 || k < 0 || (n > 1 && ldx < k) || n > 0x7fffffff)
    throw InvalidArgument("split16: need 0 <= n < 2^31, k >= 0 and ldx >= k, got n=" + std::to_string(n) +
                          ", k=" + std::to_string(k) + ", ldx=" + std::to_string(ldx));
  if (n == 0) return;
  const int64_t stride = split_stride(k), plane = n * stride;
  launch("split16", type == DType::F16 ? split_kernel<true> : split_kernel<false>, dim3(static_cast<unsigned>(n)),
         dim3(kThreads), 0, to_stream(stream), x, ldx, k, planes, plane, stride, inv_scale);
}

void scale_rows(float* y, int64_t n, int64_t dim, int64_t ldy, const float* inv_scale, Activation act, void* stream) {
  if (n < 0 || dim < 0 || (n > 1 && ldy < dim))
    throw InvalidArgument("scale_rows: need n >= 0, dim >= 0 and ldy >= dim, got n=" + std::to_string(n) +
                          ", dim=" + std::to_string(dim) + ", ldy=" + std::to_string(ldy));
  if (n == 0 || dim == 0) return;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(65535, (n * dim + kThreads - 1) / kThreads));
  launch("scale_rows", scale_rows_kernel, dim3(blocks), dim3(kThreads), 0, to_stream(stream), y, n, dim, ldy,
         inv_scale, act);
}

}  // namespace rrwkv::gpu
