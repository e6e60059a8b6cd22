// Weight-streaming kernels for AVX2 with FMA and F16C. Compiled with those flags for this file
// only; called only after the CPU was checked (matvec.cpp). Everything here has internal linkage
// (and no header inline functions are called) so that no AVX code leaks into other files.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/matvec.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/quant.h"

namespace rrwkv::cpu {
namespace {

template <DType D>
constexpr int64_t kElemBytes = dtype_traits(D).block_bytes;  // plain types: blocks of one element

// Quantized rows (kernels/cpu/quant.h): the f16 scales (and, for q4_1, offsets) of the row's
// blocks first, then the values. c is a multiple of 8; cols a multiple of 32.
template <DType D>
inline __m256 load8(const uint8_t* row, int64_t cols, int64_t c) {
  if constexpr (D == DType::Q8_0) {
    const auto* scales = reinterpret_cast<const uint16_t*>(row);
    const auto* q = reinterpret_cast<const int8_t*>(row + 2 * (cols / 32));
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c))));
    return _mm256_mul_ps(v, _mm256_set1_ps(_cvtsh_ss(scales[c >> 5])));
  } else if constexpr (D == DType::Q4_1) {
    const int64_t nb = cols / 32, b = c >> 5, j = c & 31;
    const auto* scales = reinterpret_cast<const uint16_t*>(row);
    const uint8_t* q = row + 4 * nb + 16 * b + (j & 15);  // element j: low nibble, j + 16: high
    __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
    if (j & 16) bytes = _mm_srli_epi16(bytes, 4);
    bytes = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    return _mm256_fmadd_ps(v, _mm256_set1_ps(_cvtsh_ss(scales[b])), _mm256_set1_ps(_cvtsh_ss(scales[nb + b])));
  } else if constexpr (D == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  } else if constexpr (D == DType::F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + c)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + c));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

// The last cols - c (< 8) elements, zero padded (plain types: quantized rows have no tail).
template <DType D>
inline __m256 load8_tail(const uint8_t* row, int64_t cols, int64_t c, int64_t n) {
  if constexpr (D == DType::Q8_0 || D == DType::Q4_1) {
    return load8<D>(row, cols, c);  // never called
  } else {
    alignas(32) uint8_t buf[32] = {};
    std::memcpy(buf, row + c * kElemBytes<D>, static_cast<size_t>(n * kElemBytes<D>));
    return load8<D>(buf, 8, 0);
  }
}

// Asks for the lines holding the next `N` elements' weights ahead (prefetch.h).
template <DType D, int N>
inline void prefetch_ahead(const uint8_t* row, int64_t cols, int64_t c) {
  const char* p;
  int64_t bytes;
  if constexpr (D == DType::Q8_0) {
    p = reinterpret_cast<const char*>(row + 2 * (cols / 32) + c);
    bytes = N;
  } else if constexpr (D == DType::Q4_1) {
    p = reinterpret_cast<const char*>(row + 4 * (cols / 32) + c / 2);
    bytes = N / 2;
  } else {
    p = reinterpret_cast<const char*>(row + kElemBytes<D> * c);
    bytes = N * kElemBytes<D>;
  }
  constexpr auto hint = D == DType::Q8_0 || D == DType::Q4_1 ? kBlockPrefetchHint : kPlainPrefetchHint;
  for (int64_t line = 0; line < bytes; line += 64) _mm_prefetch(p + kPrefetchBytes + line, hint);
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// One row against NV vectors, read once front to back (see matvec_avx512.cpp); A accumulators
// per vector along the columns. The result depends only on the row and the vector.
template <DType D, int NV, int A>
inline void row_dot(const uint8_t* row, int64_t cols, const float* const* x, float* const* y, int64_t r) {
  __m256 acc[NV][A];
  for (int n = 0; n < NV; ++n)
    for (int a = 0; a < A; ++a) acc[n][a] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 * A <= cols; c += 8 * A) {
    prefetch_ahead<D, 8 * A>(row, cols, c);
    for (int a = 0; a < A; ++a) {
      const __m256 wv = load8<D>(row, cols, c + 8 * a);
      for (int n = 0; n < NV; ++n) acc[n][a] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[n] + c + 8 * a), acc[n][a]);
    }
  }
  for (; c + 8 <= cols; c += 8) {
    const __m256 wv = load8<D>(row, cols, c);
    for (int n = 0; n < NV; ++n) acc[n][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[n] + c), acc[n][0]);
  }
  if (c < cols) {
    const __m256 wv = load8_tail<D>(row, cols, c, cols - c);
    for (int n = 0; n < NV; ++n) {
      const __m256 xv = load8_tail<DType::F32>(reinterpret_cast<const uint8_t*>(x[n]), cols, c, cols - c);
      acc[n][0] = _mm256_fmadd_ps(wv, xv, acc[n][0]);
    }
  }
  for (int n = 0; n < NV; ++n) {
    __m256 s = acc[n][0];
    for (int a = 1; a < A; ++a) s = _mm256_add_ps(s, acc[n][a]);
    y[n][r] = hsum(s);
  }
}

// The same A for every NV (see matvec_avx512.cpp: batched rows equal single rows, bit for bit).
constexpr int kAccumulators = 4;  // x 3 vectors = 12 of the 16 ymm registers
constexpr int kVectors = 3;

template <DType D, int NV>
void matvec_rows(const Matrix& w, const float* const* x, float* const* y, int64_t r0, int64_t r1) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t ld = w.ld;
  for (int64_t r = r0; r < r1; ++r) row_dot<D, NV, kAccumulators>(base + r * ld, w.cols, x, y, r);
}

// Quantized rows a block of 32 at a time, as in matvec_avx512.cpp: the integer values converted
// to float, their dot product with x scaled once per block, and for q4_1 the offsets' part from
// block sums of x computed once per call. Fixed order per (row, vector), whatever the call.
constexpr int64_t kMaxBlockSums = 2048;  // rows of up to 65,536 elements take this path

// Block b's 32 values as four vectors of 8 floats, in element order.
template <DType D>
inline void block_values(const uint8_t* qv, int64_t b, __m256* w) {
  if constexpr (D == DType::Q8_0) {
    const uint8_t* q = qv + 32 * b;
    for (int j = 0; j < 4; ++j)
      w[j] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8 * j))));
  } else {  // byte j: element j in the low nibble, j + 16 in the high one; widened whole, then split
    const uint8_t* q = qv + 16 * b;
    const __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)));
    const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + 8)));
    const __m256i mask = _mm256_set1_epi32(0x0f);
    w[0] = _mm256_cvtepi32_ps(_mm256_and_si256(a, mask));
    w[1] = _mm256_cvtepi32_ps(_mm256_and_si256(c, mask));
    w[2] = _mm256_cvtepi32_ps(_mm256_srli_epi32(a, 4));
    w[3] = _mm256_cvtepi32_ps(_mm256_srli_epi32(c, 4));
  }
}

// acc += d[b] * (block b of the row . block b of x), for each vector.
template <DType D, int NV>
inline void block_step(const uint8_t* qv, const float* d, int64_t b, const float* const* x, __m256* acc) {
  __m256 w[4];
  block_values<D>(qv, b, w);
  const __m256 scale = _mm256_set1_ps(d[b]);  // a broadcast from memory (matvec_avx512.cpp)
  for (int n = 0; n < NV; ++n) {
    const float* xp = x[n] + 32 * b;
    __m256 dot = _mm256_mul_ps(w[0], _mm256_loadu_ps(xp));
    for (int j = 1; j < 4; ++j) dot = _mm256_fmadd_ps(w[j], _mm256_loadu_ps(xp + 8 * j), dot);
    acc[n] = _mm256_fmadd_ps(dot, scale, acc[n]);
  }
}

template <DType D, int NV>
inline void row_dot_blocks(const uint8_t* row, int64_t cols, const float* const* x, const float (*xs)[kMaxBlockSums],
                           float* const* y, int64_t r) {
  const int64_t nb = cols / 32;
  const auto* d = reinterpret_cast<const uint16_t*>(row);
  const uint8_t* qv = row + kScaleBytes<D> * nb;
  constexpr int64_t kBlockBytes = kValueBytes<D>;
  alignas(32) float scale[kMaxBlockSums];  // the row's scales as f32 (matvec_avx512.cpp)
  int64_t s = 0;
  for (; s + 8 <= nb; s += 8)
    _mm256_store_ps(scale + s, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + s))));
  for (; s < nb; ++s) scale[s] = _cvtsh_ss(d[s]);
  __m256 even[NV], odd[NV];  // two independent FMA chains (named arrays: see matvec_avx512.cpp)
  for (int n = 0; n < NV; ++n) even[n] = odd[n] = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const char* ahead = reinterpret_cast<const char*>(qv + kBlockBytes * b);
    _mm_prefetch(ahead + kPrefetchBytes, kBlockPrefetchHint);
    if constexpr (D == DType::Q8_0) _mm_prefetch(ahead + kFarPrefetchBytes, kFarPrefetchHint);  // prefetch.h
    block_step<D, NV>(qv, scale, b, x, even);
    block_step<D, NV>(qv, scale, b + 1, x, odd);
  }
  if (b < nb) block_step<D, NV>(qv, scale, b, x, even);
  for (int n = 0; n < NV; ++n) {
    float sum = hsum(_mm256_add_ps(even[n], odd[n]));
    if constexpr (D == DType::Q4_1) {  // the offsets' part, 8 blocks at a time
      __m256 off = _mm256_setzero_ps();
      int64_t k = 0;
      for (; k + 8 <= nb; k += 8)
        off = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + nb + k))),
                              _mm256_loadu_ps(xs[n] + k), off);
      float offsets = hsum(off);
      for (; k < nb; ++k) offsets += _cvtsh_ss(d[nb + k]) * xs[n][k];
      sum += offsets;
    }
    y[n][r] = sum;
  }
}

template <DType D, int NV>
void matvec_rows_blocks(const Matrix& w, const float* const* x, float* const* y, int64_t r0, int64_t r1) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t nb = w.cols / 32;
  float xs[D == DType::Q4_1 ? NV : 1][kMaxBlockSums];
  if constexpr (D == DType::Q4_1)
    for (int n = 0; n < NV; ++n)
      for (int64_t b = 0; b < nb; ++b) {
        const float* p = x[n] + 32 * b;
        xs[n][b] = hsum(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)),
                                      _mm256_add_ps(_mm256_loadu_ps(p + 16), _mm256_loadu_ps(p + 24))));
      }
  for (int64_t r = r0; r < r1; ++r) row_dot_blocks<D, NV>(base + r * w.ld, w.cols, x, xs, y, r);
}

template <DType D, int NV>
void matvec_rows_any(const Matrix& w, const float* const* x, float* const* y, int64_t r0, int64_t r1) {
  if constexpr (D == DType::Q8_0 || D == DType::Q4_1) {
    if (w.cols / 32 <= kMaxBlockSums) return matvec_rows_blocks<D, NV>(w, x, y, r0, r1);
  }
  matvec_rows<D, NV>(w, x, y, r0, r1);
}

template <DType D>
void matvec_dtype(const Matrix& w, const float* const* x, int nvec, float* const* y, int64_t r0, int64_t r1) {
  switch (nvec) {
    case 1: return matvec_rows_any<D, 1>(w, x, y, r0, r1);
    case 2: return matvec_rows_any<D, 2>(w, x, y, r0, r1);
    default: return matvec_rows_any<D, kVectors>(w, x, y, r0, r1);
  }
}

template <DType D>
void rows_to_f32_dtype(const Matrix& w, int64_t r0, int64_t r1, float* out) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t ld = w.ld, cols = w.cols;
  for (int64_t r = r0; r < r1; ++r, out += cols) {
    const uint8_t* row = base + r * ld;
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) _mm256_storeu_ps(out + c, load8<D>(row, cols, c));
    if (c < cols) {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, load8_tail<D>(row, cols, c, cols - c));
      std::memcpy(out + c, tmp, static_cast<size_t>(cols - c) * sizeof(float));
    }
  }
}

float sum(const float* p, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

template <DType D>
using Kernels = TypeKernelsOf<&matvec_dtype<D>, &rows_to_f32_dtype<D>>;

constexpr KernelTable kTable = make_kernel_table<Kernels>("avx2", kVectors, &sum);

}  // namespace

const KernelTable* kernels_avx2() { return &kTable; }

}  // namespace rrwkv::cpu
