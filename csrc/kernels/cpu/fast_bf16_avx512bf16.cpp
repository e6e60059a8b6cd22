// The bf16 family of the fast kernels (fast_kernels.h) on AVX512_BF16: vdpbf16ps itself, which
// defines the family's arithmetic. Weights and activations as bf16 pairs in order (fast_layout.h);
// a task converts its weight rows once, then runs 4 x 4 blocks. The conversions to bf16 are the
// same integer rounding as the emulations' (not vcvtne2ps2bf16), so all implementations round
// alike by construction. Compiled with AVX512_BF16 flags for this file only.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"

namespace rrwkv::cpu {
namespace {

using fast_ref::kChunk;
using fast_ref::padded;

// f32 bits -> bf16 bits in the low half of each lane (fast_ref::bf16_bits, 16 lanes at once).
inline __m256i to_bf16(__m512i b) {
  const __m512i abs = _mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
  const __mmask16 tiny = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000));
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(b, _mm512_set1_epi32(0x00400000)));
  r = _mm512_mask_and_epi32(r, tiny, b, _mm512_set1_epi32(static_cast<int>(0x80000000u)));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << std::max<int64_t>(0, left)) - 1u);
}

// One row of `cols` elements of dtype dt (activations: f32) as bf16 pairs, padded with zeros.
// bf16 rows are copied: vdpbf16ps reads their denormals as zero itself.
void to_pairs(DType dt, const uint8_t* src, int64_t cols, uint16_t* out) {
  for (int64_t c = 0; c < padded(cols); c += 16) {
    const __mmask16 m = tail_mask(cols - c);
    __m256i h;
    if (dt == DType::F32) {
      h = to_bf16(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(src) + c)));
    } else if (dt == DType::F16) {
      h = to_bf16(_mm512_castps_si512(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(src) + c))));
    } else {
      h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(src) + c);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), h);
  }
}

int64_t act_row_bytes(DType, int64_t cols) { return fast_layout::pairs_row_bytes(cols); }

void prepare(DType, const float* x, int64_t cols, uint8_t* out) {
  to_pairs(DType::F32, reinterpret_cast<const uint8_t*>(x), cols, reinterpret_cast<uint16_t*>(out));
}

int64_t tile_bytes(DType, int64_t cols, int64_t rows) { return fast_layout::pairs_tile_bytes(cols, rows); }

inline float reduce(__m512 acc) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// R weight rows x N activation rows; strides and kp in bf16 elements.
template <int R, int N>
void block(const uint16_t* w, int64_t ws, const uint16_t* x, int64_t xs, int64_t kp, float* y, int64_t ldy) {
  __m512 acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = _mm512_setzero_ps();
  for (int64_t c = 0; c < kp; c += kChunk) {
    __m512bh wv[R], xv[N];
    for (int r = 0; r < R; ++r) wv[r] = (__m512bh)_mm512_loadu_si512(w + r * ws + c);
    for (int n = 0; n < N; ++n) xv[n] = (__m512bh)_mm512_loadu_si512(x + n * xs + c);
    for (int r = 0; r < R; ++r)
      for (int n = 0; n < N; ++n) acc[r][n] = _mm512_dpbf16_ps(acc[r][n], wv[r], xv[n]);
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) y[n * ldy + r] = reduce(acc[r][n]);
}

template <int R>
void rows_block(const uint16_t* w, int64_t ws, const uint16_t* x, int64_t xs, int64_t n, int64_t kp, float* y,
                int64_t ldy) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) block<R, 4>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy);
  switch (n - i) {
    case 1: return block<R, 1>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy);
    case 2: return block<R, 2>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy);
    case 3: return block<R, 3>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy);
    default: return;
  }
}

int64_t pack_bytes(DType, int64_t cols, int64_t rows) { return fast_layout::pairs_tile_bytes(cols, rows); }

void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) { fast_layout::pack_pairs(w, r0, r1, out, to_pairs); }

int64_t scratch_bytes(DType, int64_t, int64_t) { return 0; }

void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                 int64_t n, float* y, int64_t ldy, uint8_t*) {
  const int64_t kp = padded(w.cols), ws = fast_layout::pairs_row_bytes(w.cols) / 2, xs = xstride / 2;
  const auto* t = reinterpret_cast<const uint16_t*>(packed);
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040u);  // the reduction flushes denormals as vdpbf16ps does
  const auto* x = reinterpret_cast<const uint16_t*>(xp);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) rows_block<4>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy);
  switch (r1 - r) {
    case 1: rows_block<1>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy); break;
    case 2: rows_block<2>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy); break;
    case 3: rows_block<3>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy); break;
    default: break;
  }
  _mm_setcsr(csr);
}

void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
          int64_t ldy, uint8_t* tile) {
  pack(w, r0, r1, tile);
  gemm_packed(w, tile, r0, r1, xp, xstride, n, y, ldy, nullptr);
}

const FastKernels kTable = {"avx512bf16", FastFamily::Bf16, 4,       &act_row_bytes, &prepare, &tile_bytes, &gemm,
                             &pack_bytes, &pack,           &scratch_bytes, &gemm_packed};

}  // namespace

const FastKernels* fast_bf16_avx512bf16() { return &kTable; }

}  // namespace rrwkv::cpu
