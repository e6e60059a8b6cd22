// The int8 family of the fast kernels (fast_kernels.h) on AVX-512 VNNI. vpdpbusd multiplies
// unsigned bytes by signed ones, four per 32-bit lane, so the kernel keeps the weights in the
// lanes (one weight row per lane, 16 rows per vector) and broadcasts four activation bytes: each
// lane then sums one block of 32 products of its own row in 8 instructions, an exact integer, and
// the block's scales follow as one multiply and one FMA per 16 rows (the definition's order). The
// weights are the unsigned operand: q4_1's values are 0..15 as they are; q8_0's are offset by
// 128 (q + 128 in 1..255) and the accumulator starts at -128 * (sum of the block's activations).
// A task repacks its weight rows once into that layout ("tile": per group of 16 rows and block,
// 8 vectors of 16 rows x 4 bytes, then the 16 rows' scales and offsets as f32); 2 groups x 6
// activation rows run at a time. Compiled with AVX-512 VNNI flags for this file only.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"

namespace rrwkv::cpu {
namespace {

using fast_layout::Int8Row;
using fast_ref::kChunk;

constexpr int kGroup = 16;  // weight rows per vector
constexpr int kRows = 6;    // activation rows per block of work

int64_t act_row_bytes(DType, int64_t cols) { return Int8Row(cols).bytes; }

// The common int8 layout (fast_layout.h), the quantization of fast_ref::quantize_block.
void prepare(DType w, const float* x, int64_t cols, uint8_t* out) {
  const Int8Row L(cols);
  for (int64_t b = 0; b < L.nb; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + kChunk * b), x1 = _mm512_loadu_ps(x + kChunk * b + 16);
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    const __m512i a = _mm512_max_epi32(_mm512_and_si512(_mm512_castps_si512(x0), abs_mask),
                                       _mm512_and_si512(_mm512_castps_si512(x1), abs_mask));
    const uint32_t amax_bits = static_cast<uint32_t>(_mm512_reduce_max_epi32(a));
    float amax;
    std::memcpy(&amax, &amax_bits, 4);
    const bool usable = amax_bits != 0 && amax_bits < 0x7f800000u;
    __m512i q0 = _mm512_setzero_si512(), q1 = q0;
    if (usable) {
      const __m512 inv = _mm512_set1_ps(127.0f / amax);
      q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, inv));  // nearest even (the default rounding mode)
      q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, inv));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + kChunk * b), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + kChunk * b + 16), _mm512_cvtepi32_epi8(q1));
    const float d = amax / 127.0f;
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    std::memcpy(out + L.dx + 4 * b, &d, 4);
    std::memcpy(out + L.sx + 4 * b, &sum, 4);
    if (w == DType::Q4_1) {
      const float cx = d * static_cast<float>(sum);
      std::memcpy(out + L.aux + 4 * b, &cx, 4);
    } else {
      const int32_t corr = -128 * sum;
      std::memcpy(out + L.aux + 4 * b, &corr, 4);
    }
  }
}

// Bytes of one (group, block) of the tile: 8 x 64 bytes of values, 16 scales (and 16 offsets).
int64_t block_bytes(DType w) { return 8 * 64 + 64 + (w == DType::Q4_1 ? 64 : 0); }

int64_t tile_bytes(DType w, int64_t cols, int64_t rows) {
  return (rows + kGroup - 1) / kGroup * (cols / kChunk) * block_bytes(w);
}

// The 32 values of block b of a row as bytes in element order (q8_0 offset by 128).
inline __m256i block_bytes_of(DType w, const uint8_t* row, int64_t nb, int64_t b) {
  if (w == DType::Q8_0)
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * nb + kChunk * b)),
                            _mm256_set1_epi8(static_cast<char>(0x80)));
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 4 * nb + 16 * b));
  const __m128i low = _mm_set1_epi8(0x0f);
  return _mm256_setr_m128i(_mm_and_si128(packed, low), _mm_and_si128(_mm_srli_epi16(packed, 4), low));
}

// Rows [r, r + 16) (those past `end` as zeros) into the tile's layout, block by block.
void repack_group(const Matrix& w, int64_t r, int64_t end, uint8_t* out) {
  const int64_t nb = w.cols / kChunk, bb = block_bytes(w.dtype);
  const uint8_t* rows[kGroup];
  alignas(64) static const uint8_t kZeroRow[64] = {};  // a missing row: zero scale (its values do not matter)
  const int valid = static_cast<int>(std::min<int64_t>(kGroup, end - r));
  for (int i = 0; i < kGroup; ++i) rows[i] = i < valid ? w.row(r + i) : nullptr;
  // gather offsets of the rows' scales (a missing row reads row r, masked off)
  __m512i offs = _mm512_setzero_si512();
  alignas(64) int32_t off[kGroup];
  for (int i = 0; i < kGroup; ++i) off[i] = static_cast<int32_t>(i < valid ? i * w.ld : 0);
  offs = _mm512_load_si512(off);
  const __mmask16 live = static_cast<__mmask16>((1u << valid) - 1u);
  const auto* base = reinterpret_cast<const int*>(w.row(r));
  for (int64_t b = 0; b < nb; ++b, out += bb) {
    // 16 rows x 32 bytes -> 8 vectors, vector k holding bytes 4k..4k+3 of each row
    __m512i z[8];
    for (int i = 0; i < 4; ++i) {
      auto vals = [&](int row) {
        return rows[row] ? block_bytes_of(w.dtype, rows[row], nb, b)
                         : _mm256_load_si256(reinterpret_cast<const __m256i*>(kZeroRow));
      };
      z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(vals(i)), vals(i + 4), 1);
      z[4 + i] = _mm512_inserti64x4(_mm512_castsi256_si512(vals(8 + i)), vals(12 + i), 1);
    }
    __m512i t[8], u[8];
    for (int h = 0; h < 2; ++h) {
      __m512i* zz = z + 4 * h;
      t[4 * h + 0] = _mm512_unpacklo_epi32(zz[0], zz[1]);
      t[4 * h + 1] = _mm512_unpackhi_epi32(zz[0], zz[1]);
      t[4 * h + 2] = _mm512_unpacklo_epi32(zz[2], zz[3]);
      t[4 * h + 3] = _mm512_unpackhi_epi32(zz[2], zz[3]);
      u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h + 0], t[4 * h + 2]);
      u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h + 0], t[4 * h + 2]);
      u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
      u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    auto* q = reinterpret_cast<__m512i*>(out);
    for (int k = 0; k < 4; ++k) {
      _mm512_store_si512(q + k, _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88));
      _mm512_store_si512(q + 4 + k, _mm512_shuffle_i32x4(u[k], u[4 + k], 0xDD));
    }
    // scales of blocks b (and b + 1: the same 32 bits) of the 16 rows
    auto halves = [&](int64_t at) {  // f16 pair at byte offset `at` of each row -> (low, high) as f32
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, offs,
                                                    reinterpret_cast<const int*>(reinterpret_cast<const uint8_t*>(base) + at), 1);
      return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
    };
    _mm512_store_ps(reinterpret_cast<float*>(out + 512), halves(2 * b));
    if (w.dtype == DType::Q4_1) _mm512_store_ps(reinterpret_cast<float*>(out + 576), halves(2 * (nb + b)));
  }
}

// G groups of 16 weight rows (tile blocks at t[g], bb bytes apart per block) x N activation rows.
template <bool Q41, int G, int N>
void block(const uint8_t* const* t, int64_t nb, int64_t bb, const uint8_t* x, int64_t xs, const Int8Row& L,
           float* y, int64_t ldy, int valid_last) {
  __m512 acc[G][N];
  for (int g = 0; g < G; ++g)
    for (int n = 0; n < N; ++n) acc[g][n] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i p[G][N];
    for (int n = 0; n < N; ++n) {
      const __m512i start = Q41 ? _mm512_setzero_si512()
                                : _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(x + n * xs + L.aux + 4 * b));
      for (int g = 0; g < G; ++g) p[g][n] = start;
    }
    for (int k = 0; k < 8; ++k) {
      __m512i wv[G];
      for (int g = 0; g < G; ++g) wv[g] = _mm512_load_si512(t[g] + b * bb + 64 * k);
      for (int n = 0; n < N; ++n) {
        int32_t four;
        std::memcpy(&four, x + n * xs + kChunk * b + 4 * k, 4);
        const __m512i xv = _mm512_set1_epi32(four);
        for (int g = 0; g < G; ++g) p[g][n] = _mm512_dpbusd_epi32(p[g][n], wv[g], xv);
      }
    }
    for (int g = 0; g < G; ++g) {
      const __m512 dw = _mm512_load_ps(reinterpret_cast<const float*>(t[g] + b * bb + 512));
      for (int n = 0; n < N; ++n) {
        const float* dx = reinterpret_cast<const float*>(x + n * xs + L.dx);
        acc[g][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p[g][n]), _mm512_mul_ps(dw, _mm512_set1_ps(dx[b])), acc[g][n]);
        if (Q41) {
          const __m512 m = _mm512_load_ps(reinterpret_cast<const float*>(t[g] + b * bb + 576));
          const float* cx = reinterpret_cast<const float*>(x + n * xs + L.aux);
          acc[g][n] = _mm512_fmadd_ps(m, _mm512_set1_ps(cx[b]), acc[g][n]);
        }
      }
    }
  }
  for (int g = 0; g < G; ++g) {
    const __mmask16 m = g == G - 1 ? static_cast<__mmask16>((1u << valid_last) - 1u) : static_cast<__mmask16>(0xffff);
    for (int n = 0; n < N; ++n) _mm512_mask_storeu_ps(y + n * ldy + kGroup * g, m, acc[g][n]);
  }
}

template <bool Q41, int G>
void groups_block(const uint8_t* const* t, int64_t nb, int64_t bb, const uint8_t* x, int64_t xs, int64_t n,
                  const Int8Row& L, float* y, int64_t ldy, int valid_last) {
  int64_t i = 0;
  for (; i + kRows <= n; i += kRows) block<Q41, G, kRows>(t, nb, bb, x + i * xs, xs, L, y + i * ldy, ldy, valid_last);
  const uint8_t* xi = x + i * xs;
  float* yi = y + i * ldy;
  switch (n - i) {
    case 1: return block<Q41, G, 1>(t, nb, bb, xi, xs, L, yi, ldy, valid_last);
    case 2: return block<Q41, G, 2>(t, nb, bb, xi, xs, L, yi, ldy, valid_last);
    case 3: return block<Q41, G, 3>(t, nb, bb, xi, xs, L, yi, ldy, valid_last);
    case 4: return block<Q41, G, 4>(t, nb, bb, xi, xs, L, yi, ldy, valid_last);
    case 5: return block<Q41, G, 5>(t, nb, bb, xi, xs, L, yi, ldy, valid_last);
    default: return;
  }
}

template <bool Q41>
void gemm_q(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
            int64_t ldy, uint8_t* tile) {
  const int64_t nb = w.cols / kChunk, bb = block_bytes(w.dtype), gb = nb * bb;
  const int64_t groups = (r1 - r0 + kGroup - 1) / kGroup;
  for (int64_t g = 0; g < groups; ++g) repack_group(w, r0 + kGroup * g, r1, tile + g * gb);
  const Int8Row L(w.cols);
  for (int64_t g = 0; g < groups; g += 2) {
    const int64_t left = r1 - r0 - kGroup * g;  // rows from group g on
    const uint8_t* t[2] = {tile + g * gb, tile + (g + 1) * gb};
    float* yg = y + r0 + kGroup * g;
    if (left > kGroup)
      groups_block<Q41, 2>(t, nb, bb, xp, xstride, n, L, yg, ldy, static_cast<int>(std::min<int64_t>(kGroup, left - kGroup)));
    else
      groups_block<Q41, 1>(t, nb, bb, xp, xstride, n, L, yg, ldy, static_cast<int>(left));
  }
}

void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
          int64_t ldy, uint8_t* tile) {
  if (w.dtype == DType::Q4_1) return gemm_q<true>(w, r0, r1, xp, xstride, n, y, ldy, tile);
  gemm_q<false>(w, r0, r1, xp, xstride, n, y, ldy, tile);
}

const FastKernels kTable = {"avx512vnni", FastFamily::Int8, kGroup, &act_row_bytes, &prepare, &tile_bytes, &gemm};

}  // namespace

const FastKernels* fast_int8_avx512vnni() { return &kTable; }

}  // namespace rrwkv::cpu
