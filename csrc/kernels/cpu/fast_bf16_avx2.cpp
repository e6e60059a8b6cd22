// The bf16 family of the fast kernels (fast_kernels.h) on AVX2 + FMA: the exact emulation of
// vdpbf16ps with f32 FMAs (fast_bf16_avx512.cpp explains it), its 16 lanes as two vectors of 8
// (lanes 0-7 and 8-15), in 2 x 2 blocks of weight and activation rows. Compiled with AVX2 flags
// for this file only; internal linkage throughout.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"
#include "kernels/cpu/prefetch.h"

namespace rrwkv::cpu {
namespace {

using fast_ref::kChunk;
using fast_ref::padded;

inline __m256i splat(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }

// f32 bits -> the bf16 family's value as f32 bits (fast_ref::bf16_round), 8 lanes.
inline __m256i round_bf16(__m256i b) {
  const __m256i abs = _mm256_and_si256(b, splat(0x7fffffffu));
  const __m256i nan = _mm256_cmpgt_epi32(abs, splat(0x7f800000u));
  const __m256i tiny = _mm256_cmpeq_epi32(_mm256_and_si256(b, splat(0x7f800000u)), _mm256_setzero_si256());
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), splat(1));
  __m256i r = _mm256_add_epi32(b, _mm256_add_epi32(lsb, splat(0x7fffu)));
  r = _mm256_blendv_epi8(r, _mm256_or_si256(b, splat(0x00400000u)), nan);
  r = _mm256_and_si256(r, splat(0xffff0000u));
  return _mm256_blendv_epi8(r, _mm256_and_si256(b, splat(0x80000000u)), tiny);
}

inline __m256i widen_bf16(__m128i h) {
  const __m256i b = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
  const __m256i tiny = _mm256_cmpeq_epi32(_mm256_and_si256(b, splat(0x7f800000u)), _mm256_setzero_si256());
  return _mm256_blendv_epi8(b, _mm256_and_si256(b, splat(0x80000000u)), tiny);
}

// 8 elements c.. of a row of dtype dt as the family's values (f32 bits).
inline __m256i load8(DType dt, const uint8_t* src, int64_t c) {
  if (dt == DType::F32) return round_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4 * c)));
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * c));
  if (dt == DType::F16) return round_bf16(_mm256_castps_si256(_mm256_cvtph_ps(h)));
  return widen_bf16(h);
}

// One chunk of 32 values (four vectors of 8, in order) stored split: 16 evens, then 16 odds.
inline void store_split(const __m256i v[4], float* out) {
  const __m256 a = _mm256_castsi256_ps(v[0]), b = _mm256_castsi256_ps(v[1]);
  const __m256 c = _mm256_castsi256_ps(v[2]), d = _mm256_castsi256_ps(v[3]);
  auto fix = [](__m256 s) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8)); };
  _mm256_storeu_ps(out, fix(_mm256_shuffle_ps(a, b, 0x88)));
  _mm256_storeu_ps(out + 8, fix(_mm256_shuffle_ps(c, d, 0x88)));
  _mm256_storeu_ps(out + 16, fix(_mm256_shuffle_ps(a, b, 0xDD)));
  _mm256_storeu_ps(out + 24, fix(_mm256_shuffle_ps(c, d, 0xDD)));
}

void to_split(DType dt, const uint8_t* src, int64_t cols, float* out) {
  const int64_t es = traits(dt).block_bytes;  // plain types: one element per block
  for (int64_t c = 0; c < padded(cols); c += kChunk, out += kChunk) {
    const uint8_t* p = src;
    int64_t at = c;
    alignas(32) uint8_t tail[4 * kChunk];
    if (c + kChunk > cols) {  // the last, partial chunk: zero-padded copy
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, src + es * c, static_cast<size_t>(es * (cols - c)));
      p = tail, at = 0;
    }
    __m256i v[4];
    for (int q = 0; q < 4; ++q) v[q] = load8(dt, p, at + 8 * q);
    store_split(v, out);
  }
}

int64_t act_row_bytes(DType, int64_t cols) { return fast_layout::split_row_bytes(cols); }

void prepare(DType, const float* x, int64_t cols, uint8_t* out) {
  to_split(DType::F32, reinterpret_cast<const uint8_t*>(x), cols, reinterpret_cast<float*>(out));
}

int64_t tile_bytes(DType, int64_t cols, int64_t rows) { return rows * fast_layout::split_row_bytes(cols); }

// lanes 0-7 in lo, 8-15 in hi: the fixed reduction tree of fast_reference.h
inline float reduce(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// stream: the first activation rows of the call, which bring the weights from memory; they ask for
// each weight row's lines ahead into the L2 (prefetch.h; the later rows find them in the cache).
template <int R, int N>
void block(const float* w, int64_t ws, const float* x, int64_t xs, int64_t kp, float* y, int64_t ldy, bool stream) {
  __m256 lo[R][N], hi[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) lo[r][n] = hi[r][n] = _mm256_setzero_ps();
  for (int64_t c = 0; c < kp; c += kChunk) {
    for (int r = 0; r < R; ++r) {
      const float* wr = w + r * ws + c;
      if (stream) {  // the chunk's 128 bytes: two lines
        _mm_prefetch(reinterpret_cast<const char*>(wr) + kFarPrefetchBytes, kFarPrefetchHint);
        _mm_prefetch(reinterpret_cast<const char*>(wr + 16) + kFarPrefetchBytes, kFarPrefetchHint);
      }
      const __m256 el = _mm256_loadu_ps(wr), eh = _mm256_loadu_ps(wr + 8);
      const __m256 ol = _mm256_loadu_ps(wr + 16), oh = _mm256_loadu_ps(wr + 24);
      for (int n = 0; n < N; ++n) {
        const float* xn = x + n * xs + c;
        lo[r][n] = _mm256_fmadd_ps(ol, _mm256_loadu_ps(xn + 16), lo[r][n]);
        lo[r][n] = _mm256_fmadd_ps(el, _mm256_loadu_ps(xn), lo[r][n]);
        hi[r][n] = _mm256_fmadd_ps(oh, _mm256_loadu_ps(xn + 24), hi[r][n]);
        hi[r][n] = _mm256_fmadd_ps(eh, _mm256_loadu_ps(xn + 8), hi[r][n]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) y[n * ldy + r] = reduce(lo[r][n], hi[r][n]);
}

template <int R>
void rows_block(const float* w, int64_t ws, const float* x, int64_t xs, int64_t n, int64_t kp, float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) block<R, 2>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, i == 0);
  if (i < n) block<R, 1>(w, ws, x + i * xs, xs, kp, y + i * ldy, ldy, i == 0);
}

int64_t pack_bytes(DType, int64_t cols, int64_t rows) { return tile_bytes(DType::F32, cols, rows); }

void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t ws = fast_layout::split_row_bytes(w.cols) / 4;
  auto* t = reinterpret_cast<float*>(out);
  for (int64_t r = r0; r < r1; ++r) to_split(w.dtype, w.row(r), w.cols, t + (r - r0) * ws);
}

int64_t scratch_bytes(DType, int64_t, int64_t) { return 0; }

void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                 int64_t n, float* y, int64_t ldy, uint8_t*) {
  const int64_t kp = padded(w.cols), ws = fast_layout::split_row_bytes(w.cols) / 4, xs = xstride / 4;
  const auto* t = reinterpret_cast<const float*>(packed);
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040u);  // FTZ | DAZ: vdpbf16ps's arithmetic
  const auto* x = reinterpret_cast<const float*>(xp);
  int64_t r = r0;
  for (; r + 2 <= r1; r += 2) rows_block<2>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy);
  if (r < r1) rows_block<1>(t + (r - r0) * ws, ws, x, xs, n, kp, y + r, ldy);
  _mm_setcsr(csr);
}

void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
          int64_t ldy, uint8_t* tile) {
  pack(w, r0, r1, tile);
  gemm_packed(w, tile, r0, r1, xp, xstride, n, y, ldy, nullptr);
}

const FastKernels kTable = {"avx2", FastFamily::Bf16, 2,             &act_row_bytes, &prepare, &tile_bytes, &gemm,
                             &pack_bytes, &pack,           &scratch_bytes, &gemm_packed};

}  // namespace

const FastKernels* fast_bf16_avx2() { return &kTable; }

}  // namespace rrwkv::cpu
