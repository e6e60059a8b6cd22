// What the AVX-512 int8 kernels (fast_int8_avx512vnni.cpp, fast_int8_amx.cpp) share: the
// activation rows' quantization (the common int8 layout, fast_layout.h) and the weight tile, 16
// rows per group with each row's 4 consecutive bytes in one 32-bit lane: the operand layout of
// vpdpbusd with the weights in the lanes, and of an AMX B tile. Included by those files only,
// each compiling it for its own ISA (everything is in an anonymous namespace).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"

namespace rrwkv::cpu {
namespace {

using fast_layout::Int8Row;
using fast_ref::kChunk;

constexpr int kGroup = 16;  // weight rows per group (per vector, per AMX tile)

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

// The bytes of the tile. Per (group, block): the values, 16 scales and (q4_1) 16 offsets: as f32,
// or with Nibbles, q4_1's as the f16 they are stored as, so that tile is the file's size.
// The values are 8 vectors of 64 bytes (vector k: bytes 4k..4k+3 of each row), the operand as it
// is; or, for q4_1 with Nibbles, 4 vectors, vector j holding vector j in its bytes' low nibbles and
// vector j + 4 in their high ones (the stored size again: a batch-1 decode streams the tile).
template <bool Nibbles>
struct Tile {
  static constexpr int64_t value_bytes(DType w) { return Nibbles && w == DType::Q4_1 ? 4 * 64 : 8 * 64; }
  // f16 scales: a one-row decode streams the tile, and 5 lines a block instead of 6 gave q4_1's
  // fast tokens/s at one row 1.10-1.15x (docs/FAST_PATH.md). q8_0 keeps f32: 544-byte blocks
  // would misalign its vectors (measured: no gain).
  static constexpr bool half_scales(DType w) { return Nibbles && w == DType::Q4_1; }
  static int64_t block_bytes(DType w) {
    if (half_scales(w)) return value_bytes(w) + 2 * 32;
    return value_bytes(w) + 64 + (w == DType::Q4_1 ? 64 : 0);
  }
  static int64_t tile_bytes(DType w, int64_t cols, int64_t rows) {
    return (rows + kGroup - 1) / kGroup * (cols / kChunk) * block_bytes(w);
  }
};

// The 32 values of block b of a row as bytes in element order (q8_0 offset by 128 if Offset).
template <bool Offset>
inline __m256i block_bytes_of(DType w, const uint8_t* row, int64_t nb, int64_t b) {
  if (w == DType::Q8_0) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * nb + kChunk * b));
    return Offset ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
  }
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 4 * nb + 16 * b));
  const __m128i low = _mm_set1_epi8(0x0f);
  return _mm256_setr_m128i(_mm_and_si128(packed, low), _mm_and_si128(_mm_srli_epi16(packed, 4), low));
}

// Rows [r, r + 16) (those past `end`: zero scales) into the layout of Tile<Nibbles>, block by
// block: per block 8 vectors of 16 rows x 4 bytes (vector k: bytes 4k..4k+3 of each row; q4_1 with
// Nibbles: 4 vectors, k and k + 4 in one), then the 16 rows' scales and (q4_1) offsets.
// Offset: q8_0 values + 128 (unsigned, for vpdpbusd).
template <bool Offset, bool Nibbles>
void repack_group(const Matrix& w, int64_t r, int64_t end, uint8_t* out) {
  using T = Tile<Nibbles>;
  const int64_t nb = w.cols / kChunk, bb = T::block_bytes(w.dtype), vb = T::value_bytes(w.dtype);
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
        return rows[row] ? block_bytes_of<Offset>(w.dtype, rows[row], nb, b)
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
      const __m512i low = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88), high = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xDD);
      if (vb == 4 * 64) {  // q4_1's values are 0..15: a byte shifted by 4 stays in its byte
        _mm512_store_si512(q + k, _mm512_or_si512(low, _mm512_slli_epi16(high, 4)));
      } else {
        _mm512_store_si512(q + k, low);
        _mm512_store_si512(q + 4 + k, high);
      }
    }
    // scales of blocks b (and b + 1: the same 32 bits) of the 16 rows
    auto halves = [&](int64_t at) {  // the f16 at byte offset `at` of each row
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, offs,
                                                    reinterpret_cast<const int*>(reinterpret_cast<const uint8_t*>(base) + at), 1);
      return _mm512_cvtepi32_epi16(g);
    };
    if (T::half_scales(w.dtype)) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + vb), halves(2 * b));
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + vb + 32), halves(2 * (nb + b)));
    } else {
      _mm512_store_ps(reinterpret_cast<float*>(out + vb), _mm512_cvtph_ps(halves(2 * b)));
      if (w.dtype == DType::Q4_1) _mm512_store_ps(reinterpret_cast<float*>(out + vb + 64), _mm512_cvtph_ps(halves(2 * (nb + b))));
    }
  }
}

}  // namespace
}  // namespace rrwkv::cpu
