// The int8 family of the fast kernels (fast_kernels.h) on AVX-512 VNNI. vpdpbusd multiplies
// unsigned bytes by signed ones, four per 32-bit lane, so the kernel keeps the weights in the
// lanes (one weight row per lane, 16 rows per vector) and broadcasts four activation bytes: each
// lane then sums one block of 32 products of its own row in 8 instructions, an exact integer, and
// the block's scales follow as one multiply and one FMA per 16 rows (the definition's order). The
// weights are the unsigned operand: q4_1's values are 0..15 as they are; q8_0's are offset by
// 128 (q + 128 in 1..255) and the accumulator starts at -128 * (sum of the block's activations).
// A task repacks its weight rows once into that layout ("tile": per group of 16 rows and block,
// 8 vectors of 16 rows x 4 bytes, q4_1's two to a byte, then the 16 rows' scales: q8_0's as f32,
// q4_1's and its offsets as the f16 they are stored as); 2 groups x 6 activation rows run at a
// time. Compiled with AVX-512 VNNI flags for this file only.
#include "kernels/cpu/fast_int8_avx512_tile.h"
#include "kernels/cpu/prefetch.h"

namespace rrwkv::cpu {
namespace {

constexpr int kRows = 6;  // activation rows per block of work
using VnniTile = Tile<true>;  // q4_1's values two to a byte

// G groups of 16 weight rows (tile blocks at t[g], bb bytes apart per block) x N activation rows.
// stream: the first activation rows of the call, which bring the tile from memory; they ask for
// the next G groups' lines into the L2 as they go (prefetch.h). Fast tokens/s with / without, 169M
// RWKV-4 and RWKV-7: batch 1 0.99-1.06x, 2 1.06-1.27x, 8 1.13-1.29x, 64 0.99-1.04x. The later
// rows find the tile in the cache.
template <bool Q41, int G, int N>
void block(const uint8_t* const* t, int64_t nb, int64_t bb, const uint8_t* x, int64_t xs, const Int8Row& L,
           float* y, int64_t ldy, int valid_last, bool stream) {
  __m512 acc[G][N];
  for (int g = 0; g < G; ++g)
    for (int n = 0; n < N; ++n) acc[g][n] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    if (stream)
      for (int g = 0; g < G; ++g)
        for (int64_t line = 0; line < bb; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(t[g] + b * bb + line + G * nb * bb), kFarPrefetchHint);
    __m512i p[G][N];
    for (int n = 0; n < N; ++n) {
      const __m512i start = Q41 ? _mm512_setzero_si512()
                                : _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(x + n * xs + L.aux + 4 * b));
      for (int g = 0; g < G; ++g) p[g][n] = start;
    }
    // vector k of the weights times bytes 4k..4k+3 of each activation row, k = 0..7
    auto multiply = [&](int k, const __m512i* wv) {
      for (int n = 0; n < N; ++n) {
        int32_t four;
        std::memcpy(&four, x + n * xs + kChunk * b + 4 * k, 4);
        const __m512i xv = _mm512_set1_epi32(four);
        for (int g = 0; g < G; ++g) p[g][n] = _mm512_dpbusd_epi32(p[g][n], wv[g], xv);
      }
    };
    if constexpr (Q41) {  // vectors j and j + 4 in the low and high nibbles of one (Tile<true>)
      const __m512i nibble = _mm512_set1_epi8(0x0f);
      for (int j = 0; j < 4; ++j) {
        __m512i low[G], high[G];
        for (int g = 0; g < G; ++g) {
          const __m512i v = _mm512_load_si512(t[g] + b * bb + 64 * j);
          low[g] = _mm512_and_si512(v, nibble);
          high[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
        }
        multiply(j, low);
        multiply(j + 4, high);
      }
    } else {
      for (int k = 0; k < 8; ++k) {
        __m512i wv[G];
        for (int g = 0; g < G; ++g) wv[g] = _mm512_load_si512(t[g] + b * bb + 64 * k);
        multiply(k, wv);
      }
    }
    static_assert(VnniTile::half_scales(DType::Q4_1) && !VnniTile::half_scales(DType::Q8_0),
                  "the loads below: q4_1's scales and offsets f16, q8_0's scales f32");
    constexpr int64_t kScales = VnniTile::value_bytes(Q41 ? DType::Q4_1 : DType::Q8_0);
    auto half = [](const uint8_t* p) { return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p))); };
    for (int g = 0; g < G; ++g) {
      const uint8_t* s = t[g] + b * bb + kScales;
      const __m512 dw = Q41 ? half(s) : _mm512_load_ps(reinterpret_cast<const float*>(s));
      const __m512 m = Q41 ? half(s + 32) : _mm512_setzero_ps();
      for (int n = 0; n < N; ++n) {
        const float* dx = reinterpret_cast<const float*>(x + n * xs + L.dx);
        acc[g][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p[g][n]), _mm512_mul_ps(dw, _mm512_set1_ps(dx[b])), acc[g][n]);
        if (Q41) {
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
  for (; i + kRows <= n; i += kRows)
    block<Q41, G, kRows>(t, nb, bb, x + i * xs, xs, L, y + i * ldy, ldy, valid_last, i == 0);
  const uint8_t* xi = x + i * xs;
  float* yi = y + i * ldy;
  const bool stream = i == 0;
  switch (n - i) {
    case 1: return block<Q41, G, 1>(t, nb, bb, xi, xs, L, yi, ldy, valid_last, stream);
    case 2: return block<Q41, G, 2>(t, nb, bb, xi, xs, L, yi, ldy, valid_last, stream);
    case 3: return block<Q41, G, 3>(t, nb, bb, xi, xs, L, yi, ldy, valid_last, stream);
    case 4: return block<Q41, G, 4>(t, nb, bb, xi, xs, L, yi, ldy, valid_last, stream);
    case 5: return block<Q41, G, 5>(t, nb, bb, xi, xs, L, yi, ldy, valid_last, stream);
    default: return;
  }
}

int64_t pack_bytes(DType w, int64_t cols, int64_t rows) { return VnniTile::tile_bytes(w, cols, rows); }
int64_t tile_bytes(DType w, int64_t cols, int64_t rows) { return VnniTile::tile_bytes(w, cols, rows); }

void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t gb = w.cols / kChunk * VnniTile::block_bytes(w.dtype), groups = (r1 - r0 + kGroup - 1) / kGroup;
  for (int64_t g = 0; g < groups; ++g) repack_group<true, true>(w, r0 + kGroup * g, r1, out + g * gb);
}

int64_t scratch_bytes(DType, int64_t, int64_t) { return 0; }

template <bool Q41>
void gemm_q(const Matrix& w, const uint8_t* tile, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
            int64_t n, float* y, int64_t ldy) {
  const int64_t nb = w.cols / kChunk, bb = VnniTile::block_bytes(w.dtype), gb = nb * bb;
  const int64_t groups = (r1 - r0 + kGroup - 1) / kGroup;
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

void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                 int64_t n, float* y, int64_t ldy, uint8_t*) {
  if (w.dtype == DType::Q4_1) return gemm_q<true>(w, packed, r0, r1, xp, xstride, n, y, ldy);
  gemm_q<false>(w, packed, r0, r1, xp, xstride, n, y, ldy);
}

void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
          int64_t ldy, uint8_t* tile) {
  pack(w, r0, r1, tile);
  gemm_packed(w, tile, r0, r1, xp, xstride, n, y, ldy, nullptr);
}

const FastKernels kTable = {"avx512vnni", FastFamily::Int8, kGroup,  &act_row_bytes, &prepare, &tile_bytes, &gemm,
                             &pack_bytes, &pack,           &scratch_bytes, &gemm_packed};

}  // namespace

const FastKernels* fast_int8_avx512vnni() { return &kTable; }

}  // namespace rrwkv::cpu
