// The bf16 family of the fast kernels (fast_kernels.h) on AVX-512F with f32 FMAs: the products of
// bf16 values are exact in f32, so two FMAs per lane, the odd element first, compute exactly what
// vdpbf16ps computes (with the FPU set to flush denormals, as that instruction does). Weights are
// bf16 "pairs" (fast_layout.h: the values in order, 2 bytes each, as vdpbf16ps reads them), split
// into even and odd f32 lanes in registers: a shift and a mask per 32 values. They are packed so
// once per model (core/pack_cache.h); at 2 bytes a weight they cost half the f32 "split" layout,
// which a single sequence, bound by the bytes it reads, gains from. Activations, read once per
// weight row block, are in the split layout. The kernel runs 4 x 4 blocks (4 weight rows x 4
// activation rows: 16 accumulators).
// Compiled with AVX-512 flags for this file only; internal linkage throughout (matvec_avx512.cpp).
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"
#include "kernels/cpu/prefetch.h"

namespace rrwkv::cpu {
namespace {

using fast_ref::kChunk;
using fast_ref::padded;

// f32 bits -> the bf16 family's value as f32 bits (fast_ref::bf16_round, 16 lanes at once).
inline __m512i round_bf16(__m512i b) {
  const __m512i abs = _mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
  const __mmask16 tiny = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000));
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(b, _mm512_set1_epi32(0x00400000)));
  r = _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xffff0000u)));
  return _mm512_mask_and_epi32(r, tiny, b, _mm512_set1_epi32(static_cast<int>(0x80000000u)));
}

// bf16 bits (16 in a __m256i) -> the family's value as f32 bits: denormals read as zero.
inline __m512i widen_bf16(__m256i h) {
  const __m512i b = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
  const __mmask16 tiny = _mm512_testn_epi32_mask(b, _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_and_epi32(b, tiny, b, _mm512_set1_epi32(static_cast<int>(0x80000000u)));
}

// 16 values of the family (f32 bits whose low 16 bits are zero) stored as bf16.
inline void store_bf16(__m512i v, uint16_t* out) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
}

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << std::max<int64_t>(0, left)) - 1u);
}

// One weight row of `cols` elements of dtype dt into bf16 pairs (zeros past cols).
void to_pairs(DType dt, const uint8_t* src, int64_t cols, uint16_t* out) {
  for (int64_t c = 0; c < padded(cols); c += kChunk, out += kChunk) {
    const __mmask16 m0 = tail_mask(cols - c), m1 = tail_mask(cols - c - 16);
    __m512i lo, hi;
    if (dt == DType::F32) {
      const auto* f = reinterpret_cast<const float*>(src);
      lo = round_bf16(_mm512_castps_si512(_mm512_maskz_loadu_ps(m0, f + c)));
      hi = round_bf16(_mm512_castps_si512(_mm512_maskz_loadu_ps(m1, f + c + 16)));
    } else if (dt == DType::F16) {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      lo = round_bf16(_mm512_castps_si512(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m0, h + c))));
      hi = round_bf16(_mm512_castps_si512(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m1, h + c + 16))));
    } else {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      lo = widen_bf16(_mm256_maskz_loadu_epi16(m0, h + c));
      hi = widen_bf16(_mm256_maskz_loadu_epi16(m1, h + c + 16));
    }
    store_bf16(lo, out);
    store_bf16(hi, out + 16);
  }
}

int64_t act_row_bytes(DType, int64_t cols) { return fast_layout::split_row_bytes(cols); }

// Activations in the split layout (fast_layout.h: per chunk of 32, the 16 even values then the 16
// odd ones, as f32): the kernel reads them straight into the FMAs' lanes, where the pairs layout
// cost a shift and a mask per activation row and chunk on the FMA ports (4 x 4 blocks: 48
// operations per 32 FMAs, 40 now). Twice the bytes of pairs, for rows that stay in the L2.
void prepare(DType, const float* x, int64_t cols, uint8_t* out) {
  auto* o = reinterpret_cast<float*>(out);
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t c = 0; c < padded(cols); c += kChunk, o += kChunk) {
    const __m512i lo = round_bf16(_mm512_castps_si512(_mm512_maskz_loadu_ps(tail_mask(cols - c), x + c)));
    const __m512i hi = round_bf16(_mm512_castps_si512(_mm512_maskz_loadu_ps(tail_mask(cols - c - 16), x + c + 16)));
    _mm512_storeu_si512(o, _mm512_permutex2var_epi32(lo, evens, hi));
    _mm512_storeu_si512(o + 16, _mm512_permutex2var_epi32(lo, odds, hi));
  }
}

int64_t tile_bytes(DType, int64_t cols, int64_t rows) { return fast_layout::pairs_tile_bytes(cols, rows); }

// y = the fixed reduction tree of the 16 lanes (fast_reference.h).
inline float reduce(__m512 acc) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// R weight rows (pairs, stride ws bf16 elements) x N activation rows (split, stride xs floats),
// kp = padded columns. A weight pair (even, odd) of bf16 in a 32-bit lane gives the even
// element's f32 by a shift and the odd one's by a mask, in the lanes of the split activations.
// stream: the first activation rows of the call, which bring the weights from memory (the
// later ones find them in the cache).
template <int R, int N>
void block(const uint16_t* w, int64_t ws, const float* x, int64_t xs, int64_t kp, float* y, int64_t ldy, bool stream) {
  __m512 acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = _mm512_setzero_ps();
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  for (int64_t c = 0; c < kp; c += kChunk) {
    __m512 xe[N], xo[N];
    for (int n = 0; n < N; ++n) {
      xe[n] = _mm512_loadu_ps(x + n * xs + c);
      xo[n] = _mm512_loadu_ps(x + n * xs + c + 16);
    }
    for (int r = 0; r < R; ++r) {
      // each weight row's line as far ahead as the exact kernels ask (prefetch.h): at a few
      // activation rows the weights stream from memory (1.2-1.4x at 1 and 8 rows in
      // tools/microbench/fast_bf16.cpp, the same at 64); and, while they stream, a line further
      // on into the L2 (fast f16 batches of 1, 4, 8 and 64: 1.05-1.07x, 1.23-1.25x, 1.14-1.17x
      // and 1.01-1.03x the tokens/s; asked for by every row block, 64 rows lost 3%)
      const char* row = reinterpret_cast<const char*>(w + r * ws + c);
      _mm_prefetch(row + kPrefetchBytes, _MM_HINT_T0);
      if (stream) _mm_prefetch(row + kFarPrefetchBytes, kFarPrefetchHint);
      const __m512i p = _mm512_loadu_si512(w + r * ws + c);
      const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(p, 16)), wo = _mm512_castsi512_ps(_mm512_and_si512(p, high));
      for (int n = 0; n < N; ++n) {
        acc[r][n] = _mm512_fmadd_ps(wo, xo[n], acc[r][n]);
        acc[r][n] = _mm512_fmadd_ps(we, xe[n], acc[r][n]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) y[n * ldy + r] = reduce(acc[r][n]);
}

template <int R>
void rows_block(const uint16_t* w, int64_t ws, const float* x, int64_t xs, int64_t n, int64_t kp, float* y,
                int64_t ldy) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) block<R, 4>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, i == 0);
  const bool stream = i == 0;
  switch (n - i) {
    case 1: return block<R, 1>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, stream);
    case 2: return block<R, 2>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, stream);
    case 3: return block<R, 3>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, stream);
    default: return;
  }
}

int64_t pack_bytes(DType, int64_t cols, int64_t rows) { return fast_layout::pairs_tile_bytes(cols, rows); }

void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) { fast_layout::pack_pairs(w, r0, r1, out, to_pairs); }

int64_t scratch_bytes(DType, int64_t, int64_t) { return 0; }

void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                 int64_t n, float* y, int64_t ldy, uint8_t*) {
  const int64_t kp = padded(w.cols), ws = fast_layout::pairs_row_bytes(w.cols) / 2, xs = xstride / 4;
  const auto* t = reinterpret_cast<const uint16_t*>(packed);
  // vdpbf16ps's arithmetic: denormal inputs read as zero, denormal results flushed
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040u);  // FTZ | DAZ
  const auto* x = reinterpret_cast<const float*>(xp);
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

const FastKernels kTable = {"avx512", FastFamily::Bf16, 4,           &act_row_bytes, &prepare, &tile_bytes, &gemm,
                             &pack_bytes, &pack,           &scratch_bytes, &gemm_packed};

}  // namespace

const FastKernels* fast_bf16_avx512() { return &kTable; }

}  // namespace rrwkv::cpu
