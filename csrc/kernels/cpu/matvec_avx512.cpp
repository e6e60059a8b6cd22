// Weight-streaming kernels for AVX-512 (F, BW, VL) with FMA and F16C. Compiled with those flags
// for this file only; called only after the CPU was checked (matvec.cpp). Everything here has
// internal linkage so that no AVX-512 code can leak into the rest of the program.
#include <immintrin.h>

#include "kernels/cpu/matvec.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/quant.h"

namespace rrwkv::cpu {
namespace {

// Local on purpose: header inline functions compiled here could be emitted with AVX-512 code and
// picked by the linker for other files.

// Quantized rows (kernels/cpu/quant.h): the f16 scales (and, for q4_1, offsets) of the
// row's blocks first, then the values. c is a multiple of 16; cols a multiple of 32.
template <DType D>
inline __m512 load16(const uint8_t* row, int64_t cols, int64_t c) {
  if constexpr (D == DType::Q8_0) {
    const auto* scales = reinterpret_cast<const uint16_t*>(row);
    const auto* q = reinterpret_cast<const int8_t*>(row + 2 * (cols / 32));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c))));
    return _mm512_mul_ps(v, _mm512_set1_ps(_cvtsh_ss(scales[c >> 5])));
  } else if constexpr (D == DType::Q4_1) {
    const int64_t nb = cols / 32, b = c >> 5;
    const auto* scales = reinterpret_cast<const uint16_t*>(row);
    const uint8_t* q = row + 4 * nb + 16 * b;  // 16 bytes: elements j (low nibble) and j + 16 (high)
    __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    if (c & 16) bytes = _mm_srli_epi16(bytes, 4);
    bytes = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
    return _mm512_fmadd_ps(v, _mm512_set1_ps(_cvtsh_ss(scales[b])), _mm512_set1_ps(_cvtsh_ss(scales[nb + b])));
  } else if constexpr (D == DType::F32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  } else if constexpr (D == DType::F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + c)));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + c));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
inline __m512 load16_masked(const uint8_t* row, int64_t cols, int64_t c, __mmask16 m) {
  if constexpr (D == DType::Q8_0 || D == DType::Q4_1) {
    return load16<D>(row, cols, c);  // never called: quantized rows are whole blocks of 32
  } else if constexpr (D == DType::F32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  } else if constexpr (D == DType::F16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + c));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + c);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// The two vector widths row_dot runs at. Plain rows (f32, f16, bf16) at one or two vectors use
// 256-bit vectors (with AVX-512VL's 32 registers and masks): they stream memory, and on the
// machine measured the 512-bit loop streamed a model's plain rows 1.06-1.10x slower than the
// 256-bit one (tools/microbench/decode_stream; decode 0.91-0.95x the time at 256 bits), though
// its FMAs issue as fast per instruction (kernels/cpu/peak.cpp: 110 against 60 G multiply-adds/s on
// a thread); the cause is not established (the lower clock of 512-bit code is a candidate).
// Quantized rows, compute-bound, keep 512 bits; so do plain rows at 3+ vectors (row_dot_paired).
struct Zmm {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  template <DType D>
  static V load(const uint8_t* row, int64_t cols, int64_t c) { return load16<D>(row, cols, c); }
  template <DType D>
  static V load_tail(const uint8_t* row, int64_t cols, int64_t c) {
    return load16_masked<D>(row, cols, c, tail_mask(cols - c));
  }
  static V loadx(const float* x) { return _mm512_loadu_ps(x); }
  static V loadx_tail(const float* x, int64_t n) { return _mm512_maskz_loadu_ps(tail_mask(n), x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
  static __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
};

struct Ymm {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  template <DType D>
  static V load(const uint8_t* row, int64_t, int64_t c) { return load_masked<D>(row, c, 0xff); }
  template <DType D>
  static V load_tail(const uint8_t* row, int64_t cols, int64_t c) { return load_masked<D>(row, c, tail_mask(cols - c)); }
  static V loadx(const float* x) { return _mm256_loadu_ps(x); }
  static V loadx_tail(const float* x, int64_t n) { return _mm256_maskz_loadu_ps(tail_mask(n), x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }
  static __mmask8 tail_mask(int64_t n) { return static_cast<__mmask8>((1u << n) - 1u); }

  template <DType D>
  static V load_masked(const uint8_t* row, int64_t c, __mmask8 m) {
    static_assert(D == DType::F32 || D == DType::F16 || D == DType::BF16, "256-bit rows are plain rows");
    if constexpr (D == DType::F32) {
      return _mm256_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
    } else {
      const __m128i h = _mm_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + c);
      if constexpr (D == DType::F16) return _mm256_cvtph_ps(h);
      else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
};

// One row against NV vectors, reading the row once, front to back (sequential reads stream
// best: interleaving several rows measured 20-40% slower here). A accumulators per vector
// along the columns hide the FMA latency. A is the same for every NV, so a (row, vector)
// result is the same whichever vectors it is computed with: batched decode equals decoding
// each sequence alone, bit for bit.
template <class W, DType D, int NV, int A>
inline void row_dot(const uint8_t* row, int64_t cols, const float* const* x, float* const* y, int64_t r) {
  constexpr int L = W::kLanes;
  typename W::V acc[NV][A];
  for (int n = 0; n < NV; ++n)
    for (int a = 0; a < A; ++a) acc[n][a] = W::zero();
  int64_t c = 0;
  for (; c + L * A <= cols; c += L * A) {
    // L * A elements per iteration, each of their cache lines asked for ahead (prefetch.h)
    constexpr int64_t kBytes = dtype_traits(D).block_bytes;  // plain types: blocks of one
    const char* p = reinterpret_cast<const char*>(row) + kBytes * c + kPrefetchBytes;
    for (int64_t line = 0; line < L * A * kBytes; line += 64) _mm_prefetch(p + line, kPlainPrefetchHint);
    for (int a = 0; a < A; ++a) {
      const auto wv = W::template load<D>(row, cols, c + L * a);
      for (int n = 0; n < NV; ++n) acc[n][a] = W::fmadd(wv, W::loadx(x[n] + c + L * a), acc[n][a]);
    }
  }
  for (; c + L <= cols; c += L) {
    const auto wv = W::template load<D>(row, cols, c);
    for (int n = 0; n < NV; ++n) acc[n][0] = W::fmadd(wv, W::loadx(x[n] + c), acc[n][0]);
  }
  if (c < cols) {
    const auto wv = W::template load_tail<D>(row, cols, c);
    for (int n = 0; n < NV; ++n) acc[n][0] = W::fmadd(wv, W::loadx_tail(x[n] + c, cols - c), acc[n][0]);
  }
  for (int n = 0; n < NV; ++n) {
    auto s = acc[n][0];
    for (int a = 1; a < A; ++a) s = W::add(s, acc[n][a]);
    y[n][r] = W::sum(s);
  }
}

// 4 accumulators keep enough FMAs in flight for one vector when the weights stream from L3 (2
// decoded f16 ~10% slower); x 6 vectors = 24 of the 32 registers (7 spill: 35% slower, and
// blocking 2 rows x 3 vectors was 25% slower than 1 x 6 on batches).
constexpr int kAccumulators = 4;
constexpr int kVectors = 6;

// A plain row against 3 or more vectors, compute-bound (256 bits: 1.44x the time of 512 at 6
// vectors, f16 in the L2): row_dot<Ymm, D, NV, 4>'s arithmetic in 512-bit FMAs. Its accumulators
// 0 and 1 (elements c..c+7 and c+8..c+15 of each 32) are the halves of wide[0], 2 and 3 those of
// wide[1]; the rest of the row goes 8 at a time into accumulator 0 as there, and the halves are
// added in its order. So the results equal row_dot<Ymm>'s bit for bit, and batched rows equal
// rows computed alone.
template <DType D, int NV>
inline void row_dot_paired(const uint8_t* row, int64_t cols, const float* const* x, float* const* y, int64_t r) {
  static_assert(kAccumulators == 4, "two 512-bit accumulators pair up four 256-bit ones");
  __m512 wide[NV][2];
  for (int n = 0; n < NV; ++n) wide[n][0] = wide[n][1] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    constexpr int64_t kBytes = dtype_traits(D).block_bytes;
    const char* p = reinterpret_cast<const char*>(row) + kBytes * c;
    for (int64_t line = 0; line < 32 * kBytes; line += 64) {  // two distances (prefetch.h)
      _mm_prefetch(p + kPrefetchBytes + line, kPlainPrefetchHint);
      _mm_prefetch(p + kFarPrefetchBytes + line, kFarPrefetchHint);
    }
    for (int a = 0; a < 2; ++a) {
      const __m512 wv = load16<D>(row, cols, c + 16 * a);
      for (int n = 0; n < NV; ++n) wide[n][a] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[n] + c + 16 * a), wide[n][a]);
    }
  }
  __m256 acc0[NV];
  for (int n = 0; n < NV; ++n) acc0[n] = _mm512_castps512_ps256(wide[n][0]);
  for (; c + 8 <= cols; c += 8) {
    const __m256 wv = Ymm::load<D>(row, cols, c);
    for (int n = 0; n < NV; ++n) acc0[n] = _mm256_fmadd_ps(wv, Ymm::loadx(x[n] + c), acc0[n]);
  }
  if (c < cols) {
    const __m256 wv = Ymm::load_tail<D>(row, cols, c);
    for (int n = 0; n < NV; ++n) acc0[n] = _mm256_fmadd_ps(wv, Ymm::loadx_tail(x[n] + c, cols - c), acc0[n]);
  }
  const auto high = [](__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); };
  for (int n = 0; n < NV; ++n) {
    __m256 s = _mm256_add_ps(acc0[n], high(wide[n][0]));
    s = _mm256_add_ps(s, _mm512_castps512_ps256(wide[n][1]));
    s = _mm256_add_ps(s, high(wide[n][1]));
    y[n][r] = Ymm::sum(s);
  }
}

template <DType D, int NV>
void matvec_rows(const Matrix& w, const float* const* x, float* const* y, int64_t r0, int64_t r1) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t ld = w.ld;
  for (int64_t r = r0; r < r1; ++r) {
    if constexpr (D == DType::Q8_0 || D == DType::Q4_1)
      row_dot<Zmm, D, NV, kAccumulators>(base + r * ld, w.cols, x, y, r);
    else if constexpr (NV <= 2)
      row_dot<Ymm, D, NV, kAccumulators>(base + r * ld, w.cols, x, y, r);
    else
      row_dot_paired<D, NV>(base + r * ld, w.cols, x, y, r);
  }
}

// Quantized rows, a block of 32 at a time: the integer values converted to float, their dot
// product with x scaled once per block by d (not per element), and for q4_1 the offsets' part
// as sum_b m[b] * (sum of x over block b), from block sums of x computed once per call. The
// order of operations is fixed per (row, vector), so results still do not depend on the other
// vectors of the call or the row range. q8_0 rows take row_dot_q8_0, q4_1 rows row_dot_q4_1.
constexpr int64_t kMaxBlockSums = 2048;  // rows of up to 65,536 elements take this path

// Block b's 32 values as two vectors of 16 floats.
template <DType D>
inline void block_values(const uint8_t* qv, int64_t b, __m512& w0, __m512& w1) {
  if constexpr (D == DType::Q8_0) {
    const auto* q = reinterpret_cast<const __m128i*>(qv + 32 * b);
    w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)));
    w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)));
  } else {
    // One widening for both nibbles: each lane holds a byte, 0..255. A nibble becomes its float
    // by a lookup in the register of 0.0f..15.0f: vpermps reads only an index's low 4 bits, so
    // the low nibble needs no mask (shift + 2 lookups instead of and + shift + 2 conversions,
    // one uop fewer per block on the two ports the FMAs need). The same floats as a conversion.
    const __m512 nibble_values = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qv + 16 * b)));
    w0 = _mm512_permutexvar_ps(bytes, nibble_values);
    w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), nibble_values);
  }
}

// acc += *d * (block b of the row . block b of x), for each vector.
template <DType D, int NV>
inline void block_step(const uint8_t* qv, const float* d, int64_t b, const float* const* x, __m512* acc) {
  __m512 w0, w1;
  block_values<D>(qv, b, w0, w1);
  const __m512 scale = _mm512_set1_ps(*d);  // a broadcast from memory: no shuffle-port work
  for (int n = 0; n < NV; ++n) {
    const float* xp = x[n] + 32 * b;
    const __m512 dot = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xp + 16), _mm512_mul_ps(w0, _mm512_loadu_ps(xp)));
    acc[n] = _mm512_fmadd_ps(dot, scale, acc[n]);
  }
}

// Inlined into the row loop on purpose: called once per row, it ran 0.9x as fast at 6 vectors.
template <int NV>
[[gnu::always_inline]] inline void row_dot_q8_0(const uint8_t* row, int64_t nb, const float* const* x, float* const* y,
                                                int64_t r) {
  constexpr DType D = DType::Q8_0;
  const auto* d = reinterpret_cast<const uint16_t*>(row);
  const uint8_t* qv = row + kScaleBytes<D> * nb;
  // The row's scales as f32 first, 16 at a time: each block then broadcasts its scale from memory
  // instead of converting and broadcasting it in registers (3 fewer uops per block, two of them
  // on the port the widening conversions need).
  alignas(64) float scale[kMaxBlockSums];
  for (int64_t k = 0; k < nb; k += 16) {
    const __mmask16 m = nb - k >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (nb - k)) - 1u);
    _mm512_store_ps(scale + k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, d + k)));
  }
  // Even blocks into one set of accumulators, odd ones into the other: two independent FMA
  // chains. The two are separate named arrays on purpose: indexing one array by (b & 1) kept
  // the accumulators in memory, a store-to-load round trip per block (2x slower).
  __m512 even[NV], odd[NV];
  for (int n = 0; n < NV; ++n) even[n] = odd[n] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    // One line asked for ahead into the L1, one further on into the L2 (prefetch.h); rows follow
    // each other, so this runs into the next rows.
    const char* ahead = reinterpret_cast<const char*>(qv + kValueBytes<D> * b);
    _mm_prefetch(ahead + kPrefetchBytes, kBlockPrefetchHint);
    _mm_prefetch(ahead + kFarPrefetchBytes, kFarPrefetchHint);
    block_step<D, NV>(qv, scale + b, b, x, even);
    block_step<D, NV>(qv, scale + b + 1, b + 1, x, odd);
  }
  if (b < nb) block_step<D, NV>(qv, scale + b, b, x, even);
  for (int n = 0; n < NV; ++n) y[n][r] = _mm512_reduce_add_ps(_mm512_add_ps(even[n], odd[n]));
}

// q4_1 rows four blocks (64 bytes) at a time. vpermps reads only the low 4 bits of each 32-bit
// index, so one 64-byte load gives all 128 values of the four blocks by 7 shifts and 8 lookups in
// the register of 0.0f..15.0f, with no widening (block_values: a widening, a shift and 2 lookups a
// block). Vector s (the load shifted by 4s) holds in lane l nibble s of the load's 32-bit word l,
// of block l/4 of the four. x is laid out once per call in that order (prepare_q4_1_x), so a lane
// multiplies its own weights; each group of 4 lanes is one block, scaled by its d at the end of
// the group. Against the block-at-a-time loop (tools/microbench/matvec_bytes, one thread): 1.07-1.1x
// the weights per second at 1 vector in the L2 or L3, 1.1x at 2 vectors, 1.16x at 6.
constexpr int kGroupBlocks = 4;
constexpr int kGroupValues = 32 * kGroupBlocks;

// x laid out for row_dot_q4_1, once per call and vector: its whole groups of 4 blocks in the
// kernel's order (xg), and the sum of x over each block (xs, for the offsets). Vector s of a group
// holds in lane l element 4 (l % 4) + s / 2 of block l / 4's low half (s even) or high half (s
// odd): per half of a block a 4 x 4 transpose, here two two-source permutes and a 128-bit
// shuffle a vector (element by element, it cost a decode most of the kernel's gain: the work is
// per call, and a call is one task of ~128 KiB of weights). The blocks past the last whole group
// stay where they are in x.
inline void prepare_q4_1_x(const float* x, int64_t nb, float* xg, float* xs) {
  const int64_t groups = nb / kGroupBlocks;
  for (int64_t g = 0; g < groups; ++g) {
    const float* in = x + kGroupValues * g;  // block i's halves: vectors 2i and 2i + 1
    float* out = xg + kGroupValues * g;
    __m512 sum = _mm512_setzero_ps();
    for (int s = 0; s < 8; ++s) {
      const int c = s / 2, h = s % 2;
      // lanes 0-3: elements c, 4 + c, 8 + c, 12 + c of the first source; lanes 4-7: of the second
      const __m512i pick = _mm512_setr_epi32(c, 4 + c, 8 + c, 12 + c, 16 + c, 20 + c, 24 + c, 28 + c,  //
                                             c, 4 + c, 8 + c, 12 + c, 16 + c, 20 + c, 24 + c, 28 + c);
      const float* half = in + 16 * h;
      const __m512 blocks01 = _mm512_permutex2var_ps(_mm512_loadu_ps(half), pick, _mm512_loadu_ps(half + 32));
      const __m512 blocks23 = _mm512_permutex2var_ps(_mm512_loadu_ps(half + 64), pick, _mm512_loadu_ps(half + 96));
      const __m512 v = _mm512_shuffle_f32x4(blocks01, blocks23, 0x44);  // lanes 0-7 of each
      _mm512_storeu_ps(out + 16 * s, v);
      sum = _mm512_add_ps(sum, v);
    }
    // Each group of 4 lanes: one block's 32 values in 4 partial sums, added within the group.
    sum = _mm512_add_ps(sum, _mm512_permute_ps(sum, 0xb1));  // lanes swapped in pairs
    sum = _mm512_add_ps(sum, _mm512_permute_ps(sum, 0x4e));  // pairs swapped
    const __m512i first_lanes = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm_storeu_ps(xs + kGroupBlocks * g, _mm512_castps512_ps128(_mm512_permutexvar_ps(first_lanes, sum)));
  }
  for (int64_t b = kGroupBlocks * groups; b < nb; ++b)
    xs[b] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_loadu_ps(x + 32 * b), _mm512_loadu_ps(x + 32 * b + 16)));
}

template <int NV>
[[gnu::always_inline]] inline void row_dot_q4_1(const uint8_t* row, int64_t nb, const float* const* x,
                                                const float* const* xg, const float (*xs)[kMaxBlockSums],
                                                float* const* y, int64_t r) {
  const auto* d = reinterpret_cast<const uint16_t*>(row);
  const uint8_t* qv = row + kScaleBytes<DType::Q4_1> * nb;
  const __m512 nibble_values = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i block_of_lane = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc[NV];
  for (int n = 0; n < NV; ++n) acc[n] = _mm512_setzero_ps();
  const int64_t groups = nb / kGroupBlocks;
  for (int64_t g = 0; g < groups; ++g) {
    _mm_prefetch(reinterpret_cast<const char*>(qv + 64 * g + kPrefetchBytes), kBlockPrefetchHint);
    __m512i v = _mm512_loadu_si512(qv + 64 * g);
    // One load: the compiler would otherwise fold it into each of the 7 shifts, and a row's
    // groups are only 32-byte aligned (each load then crosses two cache lines).
    asm("" : "+v"(v));
    const __m512 w[8] = {
        _mm512_permutexvar_ps(v, nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 8), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 12), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 16), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 20), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 24), nibble_values),
        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 28), nibble_values),
    };
    // The four scales converted here: stored as f32 per row first (as row_dot_q8_0 does), their
    // loads right after the stores missed store forwarding (the kernel 1.1x slower).
    const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(d + 4 * g)));
    const __m512 block_scale = _mm512_permutexvar_ps(block_of_lane, _mm512_castps128_ps512(d4));
    for (int n = 0; n < NV; ++n) {
      const float* xp = xg[n] + kGroupValues * g;
      // two chains of four: the even and the odd shifts
      __m512 even = _mm512_mul_ps(w[0], _mm512_loadu_ps(xp));
      __m512 odd = _mm512_mul_ps(w[1], _mm512_loadu_ps(xp + 16));
      for (int s = 2; s < 8; s += 2) {
        even = _mm512_fmadd_ps(w[s], _mm512_loadu_ps(xp + 16 * s), even);
        odd = _mm512_fmadd_ps(w[s + 1], _mm512_loadu_ps(xp + 16 * s + 16), odd);
      }
      acc[n] = _mm512_fmadd_ps(_mm512_add_ps(even, odd), block_scale, acc[n]);
    }
  }
  __m512 rest[NV];  // the blocks past the last whole group, one at a time
  for (int n = 0; n < NV; ++n) rest[n] = _mm512_setzero_ps();
  for (int64_t b = kGroupBlocks * groups; b < nb; ++b) {
    const float scale = _cvtsh_ss(d[b]);
    block_step<DType::Q4_1, NV>(qv, &scale, b, x, rest);
  }
  for (int n = 0; n < NV; ++n) {
    // The offsets' part, 16 blocks at a time (the last ones masked), added before the one
    // horizontal sum: a row of 768 values (24 blocks) was 15% slower per byte than one of 3072
    // with a second horizontal sum and a scalar tail here.
    __m512 off = _mm512_add_ps(acc[n], rest[n]);
    for (int64_t k = 0; k < nb; k += 16) {
      const __mmask16 m = nb - k >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (nb - k)) - 1u);
      const __m512 offsets = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, d + nb + k));
      off = _mm512_fmadd_ps(offsets, _mm512_maskz_loadu_ps(m, xs[n] + k), off);
    }
    y[n][r] = _mm512_reduce_add_ps(off);
  }
}

template <DType D, int NV>
void matvec_rows_blocks(const Matrix& w, const float* const* x, float* const* y, int64_t r0, int64_t r1) {
  const auto* base = static_cast<const uint8_t*>(w.data);
  const int64_t nb = w.cols / 32;
  if constexpr (D == DType::Q8_0) {
    for (int64_t r = r0; r < r1; ++r) row_dot_q8_0<NV>(base + r * w.ld, nb, x, y, r);
  } else {
    float xs[NV][kMaxBlockSums];
    // x in group order (up to NV x 65,536 floats: too many for the stack), 64-byte aligned: its
    // vectors are read whole, and a load across two cache lines costs two (batch 6 ran 0.85x).
    const int64_t group_values = nb / kGroupBlocks * kGroupValues;
    float* grouped = thread_scratch(NV * group_values);
    const float* xg[NV];
    for (int n = 0; n < NV; ++n) {
      prepare_q4_1_x(x[n], nb, grouped + n * group_values, xs[n]);
      xg[n] = grouped + n * group_values;
    }
    for (int64_t r = r0; r < r1; ++r) row_dot_q4_1<NV>(base + r * w.ld, nb, x, xg, xs, y, r);
  }
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
    case 3: return matvec_rows_any<D, 3>(w, x, y, r0, r1);
    case 4: return matvec_rows_any<D, 4>(w, x, y, r0, r1);
    case 5: return matvec_rows_any<D, 5>(w, x, y, r0, r1);
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
    for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(out + c, load16<D>(row, cols, c));
    if (c < cols) {
      const __mmask16 m = static_cast<__mmask16>((1u << (cols - c)) - 1u);
      _mm512_mask_storeu_ps(out + c, m, load16_masked<D>(row, cols, c, m));
    }
  }
}

float sum(const float* p, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += p[i];
  return s;
}

template <DType D>
using Kernels = TypeKernelsOf<&matvec_dtype<D>, &rows_to_f32_dtype<D>>;

constexpr KernelTable kTable = make_kernel_table<Kernels>("avx512", kVectors, &sum);

}  // namespace

const KernelTable* kernels_avx512() { return &kTable; }

}  // namespace rrwkv::cpu
