// The arithmetic of the fast kernels (fast_kernels.h), written out in portable scalar code: the
// definition every SIMD implementation must reproduce bit for bit, used by the scalar kernels
// (fast_scalar.cpp) and the tests. Plain IEEE float operations only (no dependence on the
// rounding or denormal modes of the FPU).
//
// bf16 family (the arithmetic of vdpbf16ps, which treats denormal inputs as zero and flushes
// denormal results to zero):
//   w_i, x_i = bf16(weight_i), bf16(activation_i); 0 for i in [cols, cols padded to 32)
//   acc[l] = +0 for the 16 lanes l; for each chunk c of 32 elements and lane l:
//       acc[l] = ftz(fma(w[32c+2l+1], x[32c+2l+1], acc[l]))      (the odd element first)
//       acc[l] = ftz(fma(w[32c+2l],   x[32c+2l],   acc[l]))
//   s8[i] = ftz(acc[i] + acc[i+8]), s4[i] = ftz(s8[i] + s8[i+4]), s2[i] = ftz(s4[i] + s4[i+2]),
//   y = ftz(s2[0] + s2[1])
// int8 family, per block b of 32 elements of an activation row:
//   amax = max |x_j|; dx = amax / 127; q_j = nearest-even(x_j * (127 / amax)) in -127..127
//   (q = 0 when amax is 0 or not finite); SX = sum of q_j
//   per (weight row, activation row):  y = +0, then for each block b in order
//       P = sum_j qw_j q_j                       (exact integer; q4_1: qw in 0..15)
//       y = fma(float(P), dw_b * dx_b, y)
//       q4_1 only: y = fma(m_b, dx_b * float(SX_b), y)
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/half.h"

namespace rrwkv::cpu::fast_ref {

constexpr int64_t kChunk = 32;  // elements per chunk (bf16) and per block (int8)
constexpr float kMinNormal = 1.17549435e-38f;

inline int64_t padded(int64_t cols) { return (cols + kChunk - 1) / kChunk * kChunk; }

// A value below the smallest normal float becomes a zero of its sign.
inline float ftz(float v) { return std::fabs(v) < kMinNormal ? std::copysign(0.0f, v) : v; }

inline uint32_t f32_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// f32 -> bf16 bits, round to nearest even, denormals flushed to zero of the same sign, NaN kept
// a (quiet) NaN; what vcvtneps2bf16 gives.
inline uint16_t bf16_bits(float f) {
  uint32_t b = f32_bits(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);
  if ((b & 0x7f800000u) == 0) return static_cast<uint16_t>((b >> 16) & 0x8000u);
  b += 0x7fffu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}

// The value a float takes in the bf16 family: rounded to bf16, denormals (also those of bf16
// inputs) read as zero.
inline float bf16_round(float f) { return bf16_to_f32(bf16_bits(f)); }
inline float bf16_input(uint16_t h) { return (h & 0x7f80u) == 0 ? bf16_to_f32(h & 0x8000u) : bf16_to_f32(h); }

// One bf16-family dot product of rows already rounded (bf16_round / bf16_input values), each
// padded with zeros to padded(cols).
inline float bf16_dot(const float* w, const float* x, int64_t cols) {
  float acc[16];
  for (float& a : acc) a = 0.0f;
  for (int64_t c = 0; c < padded(cols); c += kChunk)
    for (int l = 0; l < 16; ++l) {
      acc[l] = ftz(std::fma(w[c + 2 * l + 1], x[c + 2 * l + 1], acc[l]));
      acc[l] = ftz(std::fma(w[c + 2 * l], x[c + 2 * l], acc[l]));
    }
  float s8[8], s4[4], s2[2];
  for (int i = 0; i < 8; ++i) s8[i] = ftz(acc[i] + acc[i + 8]);
  for (int i = 0; i < 4; ++i) s4[i] = ftz(s8[i] + s8[i + 4]);
  for (int i = 0; i < 2; ++i) s2[i] = ftz(s4[i] + s4[i + 2]);
  return ftz(s2[0] + s2[1]);
}

// The int8 family's quantization of one block of 32 activations.
struct QuantBlock {
  int8_t q[kChunk];
  float d;      // dx
  int32_t sum;  // SX
};

inline QuantBlock quantize_block(const float* x) {
  QuantBlock b;
  uint32_t amax_bits = 0;  // max |x| compared as bits: a NaN is larger than every number
  for (int j = 0; j < kChunk; ++j) {
    const uint32_t a = f32_bits(x[j]) & 0x7fffffffu;
    amax_bits = a > amax_bits ? a : amax_bits;
  }
  float amax;
  std::memcpy(&amax, &amax_bits, 4);
  b.d = amax / 127.0f;
  b.sum = 0;
  const bool usable = amax_bits != 0 && amax_bits < 0x7f800000u;
  const float inv = usable ? 127.0f / amax : 0.0f;
  for (int j = 0; j < kChunk; ++j) {
    b.q[j] = usable ? static_cast<int8_t>(std::nearbyint(x[j] * inv)) : int8_t{0};
    b.sum += b.q[j];
  }
  return b;
}

// Quantized weight element j (0..31) of block b of a row (kernels/cpu/quant.h): q8_0 signed,
// q4_1 its 4-bit value 0..15.
inline int32_t q8_0_value(const uint8_t* row, int64_t nb, int64_t b, int j) {
  return static_cast<int8_t>(row[2 * nb + 32 * b + j]);
}
inline int32_t q4_1_value(const uint8_t* row, int64_t nb, int64_t b, int j) {
  const uint8_t byte = row[4 * nb + 16 * b + (j & 15)];
  return j < 16 ? byte & 15 : byte >> 4;
}
inline float half_at(const uint8_t* row, int64_t i) {
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return f16_to_f32(h);
}

// One int8-family dot product: a quantized weight row against the blocks of an activation row.
template <bool Q41>
inline float int8_dot(const uint8_t* row, int64_t cols, const int8_t* q, const float* dx, const int32_t* sx) {
  const int64_t nb = cols / kChunk;
  float y = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int32_t p = 0;
    for (int j = 0; j < kChunk; ++j)
      p += (Q41 ? q4_1_value(row, nb, b, j) : q8_0_value(row, nb, b, j)) * q[kChunk * b + j];
    y = std::fma(static_cast<float>(p), half_at(row, b) * dx[b], y);
    if (Q41) y = std::fma(half_at(row, nb + b), dx[b] * static_cast<float>(sx[b]), y);
  }
  return y;
}

}  // namespace rrwkv::cpu::fast_ref
