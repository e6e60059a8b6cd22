// The int8 family of the fast kernels (fast_kernels.h) on AMX (Sapphire Rapids and later): one
// tile instruction multiplies 16 activation rows by 16 weight rows over a block of 32, each of
// the 256 results that block's exact integer dot product, the same integers vpdpbusd sums (so
// the same numbers, fast_reference.h). The activation rows are the A tile as they are prepared
// (16 rows of the block's 32 bytes, at their own stride); the weights are the B tile in the
// layout of fast_int8_avx512_tile.h (q8_0 signed: tdpbssd; q4_1's 0..15: tdpbsud). Each block's
// integer tile goes through memory into AVX-512 registers for the scales, in the definition's
// order: one vector per activation row, lanes = the 16 weight rows, as in the VNNI kernel.
// Two blocks are in flight (tiles 0-2 and 3-5): the tile unit multiplies the next block while the
// vector units scale the previous one. Compiled with AMX and AVX-512 flags for this file only; used only
// after the OS granted this process the AMX state (fast_dispatch.cpp).
#include <sys/syscall.h>
#include <unistd.h>

#include "kernels/cpu/fast_int8_avx512_tile.h"

namespace rrwkv::cpu {
namespace {

constexpr int kActs = 16;  // activation rows per A tile
using AmxTile = Tile<false>;  // values one to a byte, q4_1's too: tileloadd reads the B tile as it is

struct TileConfig {  // the 64-byte operand of ldtilecfg (palette 1)
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

TileConfig make_config() {
  TileConfig c;
  for (int t : {0, 3}) c.colsb[t] = 64, c.rows[t] = kActs;      // C: 16 activation rows x 16 int32
  for (int t : {1, 4}) c.colsb[t] = kChunk, c.rows[t] = kActs;  // A: 16 activation rows x 32 bytes
  for (int t : {2, 5}) c.colsb[t] = 64, c.rows[t] = 8;          // B: 8 x (16 weight rows x 4 bytes)
  return c;
}

// Bytes of a task's scratch: the weight tile, then 16 zero-padded activation rows for a last
// partial group, then two blocks' integer results.
int64_t amx_tile_bytes(DType w, int64_t cols, int64_t rows) {
  return AmxTile::tile_bytes(w, cols, rows) + kActs * Int8Row(cols).bytes + 2 * kActs * 64;
}

// C = A . B for one block: tiles 0 = 1 . 2, or (second) 3 = 4 . 5. The tile intrinsics paste the
// register number into the instruction text, so each set is written out.
template <bool Q41, bool Second>
inline void multiply(const uint8_t* a, int64_t as, const uint8_t* b) {
  if constexpr (!Second) {
    _tile_zero(0);
    _tile_loadd(1, a, as);
    _tile_loadd(2, b, 64);
    if constexpr (Q41) _tile_dpbsud(0, 1, 2);
    else _tile_dpbssd(0, 1, 2);
  } else {
    _tile_zero(3);
    _tile_loadd(4, a, as);
    _tile_loadd(5, b, 64);
    if constexpr (Q41) _tile_dpbsud(3, 4, 5);
    else _tile_dpbssd(3, 4, 5);
  }
}

// acc[i] += float(P[i]) * (dw * dx_i) (+ q4_1: m * cx_i) for the 16 activation rows i.
template <bool Q41, int N>
inline void scale(const int32_t* p, const uint8_t* tb, const uint8_t* x, int64_t xs, int64_t b, const Int8Row& L,
                  __m512* acc) {
  const __m512 dw = _mm512_load_ps(reinterpret_cast<const float*>(tb + 512));
  const __m512 m = Q41 ? _mm512_load_ps(reinterpret_cast<const float*>(tb + 576)) : _mm512_setzero_ps();
  for (int i = 0; i < N; ++i) {
    const uint8_t* xi = x + i * xs;
    const float dx = reinterpret_cast<const float*>(xi + L.dx)[b];
    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(p + 16 * i)), _mm512_mul_ps(dw, _mm512_set1_ps(dx)),
                             acc[i]);
    if (Q41) acc[i] = _mm512_fmadd_ps(m, _mm512_set1_ps(reinterpret_cast<const float*>(xi + L.aux)[b]), acc[i]);
  }
}

// One group of 16 weight rows (tile t) x up to 16 activation rows (A rows at a, stride as; the
// prepared rows at x, stride xs, n of them valid).
// N: the valid activation rows, a constant so that the accumulators stay in registers.
template <bool Q41, int N>
void group(const uint8_t* t, int64_t nb, int64_t bb, const uint8_t* a, int64_t as, const uint8_t* x, int64_t xs,
           const Int8Row& L, int32_t* p, float* y, int64_t ldy, int valid) {
  __m512 acc[N];
  for (__m512& v : acc) v = _mm512_setzero_ps();
  // software-pipelined: the tile unit multiplies block b + 1 while the vector units scale block b
  multiply<Q41, false>(a, as, t);
  for (int64_t b = 0; b < nb; b += 2) {
    if (b + 1 < nb) multiply<Q41, true>(a + kChunk * (b + 1), as, t + (b + 1) * bb);
    _tile_stored(0, p, 64);
    scale<Q41, N>(p, t + b * bb, x, xs, b, L, acc);
    if (b + 1 >= nb) break;
    if (b + 2 < nb) multiply<Q41, false>(a + kChunk * (b + 2), as, t + (b + 2) * bb);
    _tile_stored(3, p + kActs * 16, 64);
    scale<Q41, N>(p + kActs * 16, t + (b + 1) * bb, x, xs, b + 1, L, acc);
  }
  const __mmask16 m = static_cast<__mmask16>((1u << valid) - 1u);
  for (int i = 0; i < N; ++i) _mm512_mask_storeu_ps(y + i * ldy, m, acc[i]);
}

template <bool Q41, int N = kActs>
void group_n(int n, const uint8_t* t, int64_t nb, int64_t bb, const uint8_t* a, int64_t as, const Int8Row& L,
             int32_t* p, float* y, int64_t ldy, int valid) {
  if (n == N) return group<Q41, N>(t, nb, bb, a, as, a, as, L, p, y, ldy, valid);
  if constexpr (N > 1) group_n<Q41, N - 1>(n, t, nb, bb, a, as, L, p, y, ldy, valid);
}

int64_t pack_bytes(DType w, int64_t cols, int64_t rows) { return AmxTile::tile_bytes(w, cols, rows); }

void pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t gb = w.cols / kChunk * AmxTile::block_bytes(w.dtype), groups = (r1 - r0 + kGroup - 1) / kGroup;
  for (int64_t g = 0; g < groups; ++g) repack_group<false, false>(w, r0 + kGroup * g, r1, out + g * gb);
}

// 16 zero-padded activation rows for a last partial group, then two blocks' integer results.
int64_t scratch_bytes(DType, int64_t cols, int64_t) { return kActs * Int8Row(cols).bytes + 2 * kActs * 64; }

template <bool Q41>
void gemm_q(const Matrix& w, const uint8_t* tile, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xs, int64_t n,
            float* y, int64_t ldy, uint8_t* pad) {
  static const TileConfig config = make_config();
  _tile_loadconfig(&config);
  const int64_t nb = w.cols / kChunk, bb = AmxTile::block_bytes(w.dtype), gb = nb * bb;
  const int64_t groups = (r1 - r0 + kGroup - 1) / kGroup;
  const Int8Row L(w.cols);
  auto* p = reinterpret_cast<int32_t*>(pad + kActs * L.bytes);
  for (int64_t i = 0; i < n; i += kActs) {
    const int rows = static_cast<int>(std::min<int64_t>(kActs, n - i));
    const uint8_t* a = xp + i * xs;
    int64_t as = xs;
    if (rows < kActs) {  // the last, partial group of activation rows: copied next to zero rows
      std::memset(pad, 0, static_cast<size_t>(kActs * L.bytes));
      for (int k = 0; k < rows; ++k) std::memcpy(pad + k * L.bytes, a + k * xs, static_cast<size_t>(L.bytes));
      a = pad, as = L.bytes;
    }
    for (int64_t g = 0; g < groups; ++g) {
      const int valid = static_cast<int>(std::min<int64_t>(kGroup, r1 - r0 - kGroup * g));
      group_n<Q41>(rows, tile + g * gb, nb, bb, a, as, L, p, y + i * ldy + r0 + kGroup * g, ldy, valid);
    }
  }
  _tile_release();
}

void gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                 int64_t n, float* y, int64_t ldy, uint8_t* scratch) {
  if (w.dtype == DType::Q4_1) return gemm_q<true>(w, packed, r0, r1, xp, xstride, n, y, ldy, scratch);
  gemm_q<false>(w, packed, r0, r1, xp, xstride, n, y, ldy, scratch);
}

void gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
          int64_t ldy, uint8_t* tile) {
  pack(w, r0, r1, tile);
  gemm_packed(w, tile, r0, r1, xp, xstride, n, y, ldy, tile + AmxTile::tile_bytes(w.dtype, w.cols, r1 - r0));
}

const FastKernels kTable = {"amx", FastFamily::Int8, kGroup, &act_row_bytes, &prepare, &amx_tile_bytes, &gemm,
                             &pack_bytes, &pack,           &scratch_bytes, &gemm_packed};

}  // namespace

const FastKernels* fast_int8_amx() { return &kTable; }

// The compute-peak loop of peak.h: independent tdpbssd on full tiles (16 x 16 x 64 multiply-adds).
float amx_dpbssd_loop(int64_t iters) {
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.colsb[t] = 64, c.rows[t] = 16;
  _tile_loadconfig(&c);
  alignas(64) static const int8_t ones[16 * 64] = {1};
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbssd(0, 4, 5);
    _tile_dpbssd(1, 4, 5);
    _tile_dpbssd(2, 4, 5);
    _tile_dpbssd(3, 4, 5);
  }
  alignas(64) int32_t out[16 * 16];
  _tile_stored(0, out, 64);
  _tile_release();
  return static_cast<float>(out[0]);
}

// Linux hands out the AMX register state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, once
// per process); without it the first tile instruction faults.
bool amx_permitted() {
  static const bool granted = [] {
    constexpr int kReqXcompPerm = 0x1023, kXtileData = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
  }();
  return granted;
}

}  // namespace rrwkv::cpu
