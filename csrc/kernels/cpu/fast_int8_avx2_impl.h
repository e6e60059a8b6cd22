// The int8 family of the fast kernels on 256-bit vectors, for two files that include this one
// with their own ISA flags: fast_int8_avxvnni.cpp (vpdpbusd, AVX-VNNI) and fast_int8_avx2.cpp
// (vpmaddubsw + vpmaddwd). The layout and order are those of fast_int8_avx512vnni.cpp with groups
// of 8 weight rows (q4_1 two values a byte, as there). Without VNNI, vpmaddubsw sums pairs of products into 16 bits, which q8_0
// values offset to 0..255 would overflow; there the tile keeps q8_0 signed and the kernel
// multiplies |w| by x carrying w's sign (at most 2 * 128 * 127 per pair), as llama.cpp does.
// Everything is in an anonymous namespace: each including file gets its own copy for its ISA.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"
#include "kernels/cpu/prefetch.h"

namespace rrwkv::cpu {
namespace {

template <bool Vnni>
struct Int8Avx2 {
  static constexpr int kGroup = 8;  // weight rows per vector
  static constexpr int kRows = 4;   // activation rows per block of work
  static constexpr int64_t kChunk = fast_ref::kChunk;
  using Int8Row = fast_layout::Int8Row;

  static int64_t act_row_bytes(DType, int64_t cols) { return Int8Row(cols).bytes; }

  static void prepare(DType w, const float* x, int64_t cols, uint8_t* out) {
    const Int8Row L(cols);
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    for (int64_t b = 0; b < L.nb; ++b) {
      __m256 v[4];
      __m256i a = _mm256_setzero_si256();
      for (int q = 0; q < 4; ++q) {
        v[q] = _mm256_loadu_ps(x + kChunk * b + 8 * q);
        a = _mm256_max_epi32(a, _mm256_and_si256(_mm256_castps_si256(v[q]), abs_mask));
      }
      alignas(32) uint32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
      const uint32_t amax_bits = *std::max_element(lanes, lanes + 8);
      float amax;
      std::memcpy(&amax, &amax_bits, 4);
      const bool usable = amax_bits != 0 && amax_bits < 0x7f800000u;
      __m256i q[4];
      __m256i sum = _mm256_setzero_si256();
      const __m256 inv = _mm256_set1_ps(usable ? 127.0f / amax : 0.0f);
      for (int k = 0; k < 4; ++k) {
        q[k] = usable ? _mm256_cvtps_epi32(_mm256_mul_ps(v[k], inv)) : _mm256_setzero_si256();
        sum = _mm256_add_epi32(sum, q[k]);
      }
      // 32 int32 in -127..127 -> 32 bytes in order
      const __m256i w16a = _mm256_packs_epi32(q[0], q[1]), w16b = _mm256_packs_epi32(q[2], q[3]);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w16a, w16b),
                                                        _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + kChunk * b), bytes);
      alignas(32) int32_t s[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(s), sum);
      const int32_t total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
      const float d = amax / 127.0f;
      std::memcpy(out + L.dx + 4 * b, &d, 4);
      std::memcpy(out + L.sx + 4 * b, &total, 4);
      if (w == DType::Q4_1) {
        const float cx = d * static_cast<float>(total);
        std::memcpy(out + L.aux + 4 * b, &cx, 4);
      } else {
        const int32_t corr = -128 * total;
        std::memcpy(out + L.aux + 4 * b, &corr, 4);
      }
    }
  }

  // Per (group, block): the values, then q8_0's 8 scales as f32, or q4_1's 8 scales and 8 offsets
  // as the f16 they are stored as (so a q4_1 tile is the file's size: a decode streams it). The
  // values are 8 vectors of 32 bytes (vector k: bytes 4k..4k+3 of each row); q4_1's two to a byte,
  // 4 vectors, vector j holding vector j in its bytes' low nibbles and vector j + 4 in their high ones.
  static constexpr int64_t value_bytes(DType w) { return w == DType::Q4_1 ? 4 * 32 : 8 * 32; }
  static int64_t block_bytes(DType w) { return value_bytes(w) + 32; }

  static int64_t tile_bytes(DType w, int64_t cols, int64_t rows) {
    return (rows + kGroup - 1) / kGroup * (cols / kChunk) * block_bytes(w);
  }

  // Block b of a row as 32 bytes in element order: q4_1 unpacked to 0..15; q8_0 offset by 128
  // for vpdpbusd, signed as stored otherwise.
  static __m256i values(DType w, const uint8_t* row, int64_t nb, int64_t b) {
    if (w == DType::Q8_0) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * nb + kChunk * b));
      return Vnni ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
    }
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 4 * nb + 16 * b));
    const __m128i low = _mm_set1_epi8(0x0f);
    return _mm256_setr_m128i(_mm_and_si128(packed, low), _mm_and_si128(_mm_srli_epi16(packed, 4), low));
  }

  // Rows [r, r + 8) (those past `end`: zero scales) into the tile layout, block by block:
  // the values (block_bytes), 8 scales, (q4_1) 8 offsets.
  static void repack_group(const Matrix& w, int64_t r, int64_t end, uint8_t* out) {
    const int64_t nb = w.cols / kChunk, bb = block_bytes(w.dtype), vb = value_bytes(w.dtype);
    const int valid = static_cast<int>(std::min<int64_t>(kGroup, end - r));
    alignas(32) int32_t off[kGroup], live[kGroup];
    for (int i = 0; i < kGroup; ++i) off[i] = static_cast<int32_t>(i < valid ? i * w.ld : 0), live[i] = i < valid ? -1 : 0;
    const __m256i offs = _mm256_load_si256(reinterpret_cast<const __m256i*>(off));
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(live));
    const uint8_t* base = w.row(r);
    for (int64_t b = 0; b < nb; ++b, out += bb) {
      __m256i z[8];
      for (int i = 0; i < kGroup; ++i) z[i] = i < valid ? values(w.dtype, w.row(r + i), nb, b) : _mm256_setzero_si256();
      __m256i t[8], u[8];
      for (int h = 0; h < 2; ++h) {
        const __m256i* zz = z + 4 * h;
        t[4 * h + 0] = _mm256_unpacklo_epi32(zz[0], zz[1]);
        t[4 * h + 1] = _mm256_unpackhi_epi32(zz[0], zz[1]);
        t[4 * h + 2] = _mm256_unpacklo_epi32(zz[2], zz[3]);
        t[4 * h + 3] = _mm256_unpackhi_epi32(zz[2], zz[3]);
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
      }
      auto* q = reinterpret_cast<__m256i*>(out);
      for (int k = 0; k < 4; ++k) {
        const __m256i low = _mm256_permute2x128_si256(u[k], u[4 + k], 0x20);
        const __m256i high = _mm256_permute2x128_si256(u[k], u[4 + k], 0x31);
        if (w.dtype == DType::Q4_1) {  // values 0..15: a byte shifted by 4 stays in its byte
          _mm256_store_si256(q + k, _mm256_or_si256(low, _mm256_slli_epi16(high, 4)));
        } else {
          _mm256_store_si256(q + k, low);
          _mm256_store_si256(q + 4 + k, high);
        }
      }
      auto halves = [&](int64_t at) {  // the f16 at byte `at` of each row
        const __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(base + at),
                                                      offs, mask, 1);
        const __m256i lo16 = _mm256_and_si256(g, _mm256_set1_epi32(0xffff));
        return _mm_packus_epi32(_mm256_castsi256_si128(lo16), _mm256_extracti128_si256(lo16, 1));
      };
      if (w.dtype == DType::Q4_1) {
        _mm_store_si128(reinterpret_cast<__m128i*>(out + vb), halves(2 * b));
        _mm_store_si128(reinterpret_cast<__m128i*>(out + vb + 16), halves(2 * (nb + b)));
      } else {
        _mm256_store_ps(reinterpret_cast<float*>(out + vb), _mm256_cvtph_ps(halves(2 * b)));
      }
    }
  }

  // One group of 8 weight rows (tile at t) x N activation rows. stream: the first activation rows
  // of the call, which bring the tile from memory: they ask for the next group's lines into the L2
  // as they go (as fast_int8_avx512vnni.cpp does).
  template <bool Q41, int N>
  static void block(const uint8_t* t, int64_t nb, int64_t bb, const uint8_t* x, int64_t xs, const Int8Row& L,
                    float* y, int64_t ldy, int valid, bool stream) {
    __m256 acc[N];
    for (int n = 0; n < N; ++n) acc[n] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* tb = t + b * bb;
      if (stream)
        for (int64_t line = 0; line < bb; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(tb + nb * bb + line), kFarPrefetchHint);
      __m256i p[N];
      for (int n = 0; n < N; ++n)
        p[n] = Vnni && !Q41 ? _mm256_set1_epi32(*reinterpret_cast<const int32_t*>(x + n * xs + L.aux + 4 * b))
                            : _mm256_setzero_si256();
      // vector k of the weights times bytes 4k..4k+3 of each activation row, k = 0..7
      auto multiply = [&](int k, __m256i wv) {
        const __m256i aw = Vnni || Q41 ? wv : _mm256_abs_epi8(wv);
        for (int n = 0; n < N; ++n) {
          int32_t four;
          std::memcpy(&four, x + n * xs + kChunk * b + 4 * k, 4);
          const __m256i xv = _mm256_set1_epi32(four);
          if constexpr (Vnni) {
            p[n] = _mm256_dpbusd_avx_epi32(p[n], wv, xv);
          } else {
            const __m256i sx = Q41 ? xv : _mm256_sign_epi8(xv, wv);
            p[n] = _mm256_add_epi32(p[n], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones));
          }
        }
      };
      if constexpr (Q41) {  // vectors j and j + 4 in the low and high nibbles of one
        const __m256i nibble = _mm256_set1_epi8(0x0f);
        for (int j = 0; j < 4; ++j) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(tb + 32 * j));
          multiply(j, _mm256_and_si256(v, nibble));
          multiply(j + 4, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
        }
      } else {
        for (int k = 0; k < 8; ++k) multiply(k, _mm256_load_si256(reinterpret_cast<const __m256i*>(tb + 32 * k)));
      }
      constexpr int64_t kScales = value_bytes(Q41 ? DType::Q4_1 : DType::Q8_0);
      const __m256 dw = Q41 ? _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tb + kScales)))
                            : _mm256_load_ps(reinterpret_cast<const float*>(tb + kScales));
      const __m256 m = Q41 ? _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tb + kScales + 16)))
                           : _mm256_setzero_ps();
      for (int n = 0; n < N; ++n) {
        const float* dx = reinterpret_cast<const float*>(x + n * xs + L.dx);
        acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[n]), _mm256_mul_ps(dw, _mm256_set1_ps(dx[b])), acc[n]);
        if (Q41) acc[n] = _mm256_fmadd_ps(m, _mm256_set1_ps(reinterpret_cast<const float*>(x + n * xs + L.aux)[b]), acc[n]);
      }
    }
    for (int n = 0; n < N; ++n) {
      if (valid == kGroup) {
        _mm256_storeu_ps(y + n * ldy, acc[n]);
      } else {
        alignas(32) float tmp[kGroup];
        _mm256_store_ps(tmp, acc[n]);
        std::copy(tmp, tmp + valid, y + n * ldy);
      }
    }
  }

  static int64_t pack_bytes(DType w, int64_t cols, int64_t rows) { return tile_bytes(w, cols, rows); }

  static void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) {
    const int64_t gb = w.cols / kChunk * block_bytes(w.dtype), groups = (r1 - r0 + kGroup - 1) / kGroup;
    for (int64_t g = 0; g < groups; ++g) repack_group(w, r0 + kGroup * g, r1, out + g * gb);
  }

  static int64_t scratch_bytes(DType, int64_t, int64_t) { return 0; }

  template <bool Q41>
  static void gemm_q(const Matrix& w, const uint8_t* tile, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xs,
                     int64_t n, float* y, int64_t ldy) {
    const int64_t nb = w.cols / kChunk, bb = block_bytes(w.dtype), gb = nb * bb;
    const int64_t groups = (r1 - r0 + kGroup - 1) / kGroup;
    const Int8Row L(w.cols);
    for (int64_t g = 0; g < groups; ++g) {
      const uint8_t* t = tile + g * gb;
      const int valid = static_cast<int>(std::min<int64_t>(kGroup, r1 - r0 - kGroup * g));
      float* yg = y + r0 + kGroup * g;
      int64_t i = 0;
      for (; i + kRows <= n; i += kRows)
        block<Q41, kRows>(t, nb, bb, xp + i * xs, xs, L, yg + i * ldy, ldy, valid, i == 0);
      const bool stream = i == 0;
      switch (n - i) {
        case 1: block<Q41, 1>(t, nb, bb, xp + i * xs, xs, L, yg + i * ldy, ldy, valid, stream); break;
        case 2: block<Q41, 2>(t, nb, bb, xp + i * xs, xs, L, yg + i * ldy, ldy, valid, stream); break;
        case 3: block<Q41, 3>(t, nb, bb, xp + i * xs, xs, L, yg + i * ldy, ldy, valid, stream); break;
        default: break;
      }
    }
  }

  static void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp,
                          int64_t xs, int64_t n, float* y, int64_t ldy, uint8_t*) {
    if (w.dtype == DType::Q4_1) return gemm_q<true>(w, packed, r0, r1, xp, xs, n, y, ldy);
    gemm_q<false>(w, packed, r0, r1, xp, xs, n, y, ldy);
  }

  static void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xs, int64_t n, float* y,
                   int64_t ldy, uint8_t* tile) {
    pack(w, r0, r1, tile);
    gemm_packed(w, tile, r0, r1, xp, xs, n, y, ldy, nullptr);
  }
};

}  // namespace
}  // namespace rrwkv::cpu
