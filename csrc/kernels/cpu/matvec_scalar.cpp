// Portable weight-streaming kernels (any CPU, any compiler): the fallback and the reference the
// SIMD kernels are tested against. Eight partial sums per row keep the loop vectorisable.
#include <cmath>
#include <cstring>

#include "kernels/cpu/half.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv::cpu {
namespace {

inline uint16_t u16_at(const uint8_t* p, int64_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}

// Element c of a row (quantized rows: kernels/cpu/quant.h).
template <DType D>
inline float load(const uint8_t* row, int64_t cols, int64_t c) {
  if constexpr (D == DType::F32) {
    return reinterpret_cast<const float*>(row)[c];
  } else if constexpr (D == DType::F16) {
    return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]);
  } else if constexpr (D == DType::BF16) {
    return bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[c]);
  } else if constexpr (D == DType::Q8_0) {
    const int8_t q = static_cast<int8_t>(row[2 * (cols / 32) + c]);
    return static_cast<float>(q) * f16_to_f32(u16_at(row, c >> 5));
  } else {  // Q4_1
    const int64_t nb = cols / 32, b = c >> 5, j = c & 31;
    const uint8_t byte = row[4 * nb + 16 * b + (j & 15)];
    const float q = static_cast<float>(j < 16 ? byte & 15 : byte >> 4);
    return std::fma(q, f16_to_f32(u16_at(row, b)), f16_to_f32(u16_at(row, nb + b)));
  }
}

template <DType D>
void matvec_dtype(const Matrix& w, const float* const* x, int nvec, float* const* y, int64_t r0, int64_t r1) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t ld = w.ld, cols = w.cols;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = base + r * ld;
    for (int n = 0; n < nvec; ++n) {
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t c = 0;
      for (; c + 8 <= cols; c += 8)
        for (int j = 0; j < 8; ++j) part[j] += load<D>(row, cols, c + j) * x[n][c + j];
      for (int j = 0; c + j < cols; ++j) part[j] += load<D>(row, cols, c + j) * x[n][c + j];
      y[n][r] = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
    }
  }
}

template <DType D>
void rows_to_f32_dtype(const Matrix& w, int64_t r0, int64_t r1, float* out) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t ld = w.ld, cols = w.cols;
  for (int64_t r = r0; r < r1; ++r, out += cols)
    for (int64_t c = 0; c < cols; ++c) out[c] = load<D>(base + r * ld, cols, c);
}

float sum(const float* p, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) part[j] += p[i + j];
  float s = 0;
  for (int j = 0; j < 8; ++j) s += part[j];
  for (; i < n; ++i) s += p[i];
  return s;
}

template <DType D>
using Kernels = TypeKernelsOf<&matvec_dtype<D>, &rows_to_f32_dtype<D>>;

constexpr KernelTable kTable = make_kernel_table<Kernels>("scalar", kMaxVecs, &sum);

}  // namespace

const KernelTable* kernels_scalar() { return &kTable; }

}  // namespace rrwkv::cpu
