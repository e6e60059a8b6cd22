// The elementwise steps around the matrix recurrences on device buffers, asynchronous on `stream`:
// the GPU twins of rwkv6::decay and rwkv7::prepare / rwkv7::add_bonus (csrc/arch/rwkv6, rwkv7),
// with the same operands, on n token rows of C floats. Throws InvalidArgument on bad operands.
#pragma once

#include <cstdint>

namespace rrwkv::gpu {

// RWKV-6's data-dependent decay: w = exp(-exp(time_decay + m)), in (0, 1).
void rwkv6_decay(float* w, const float* time_decay, const float* m, int64_t n, int64_t dim, void* stream);

// rwkv7::Prepare on the device (the same fields).
struct Rwkv7Prepare {
  int64_t n = 0, C = 0, head_size = 0;
  const float *mw = nullptr, *ma = nullptr, *mv = nullptr;  // mv null: layer 0
  const float *w0 = nullptr, *a0 = nullptr, *v0 = nullptr, *k_k = nullptr, *k_a = nullptr;
  float *w = nullptr, *a = nullptr, *kappa = nullptr, *k = nullptr, *v = nullptr, *v_first = nullptr;
};

// w = exp(-e^{-1/2} σ(w0 + mw)); a = σ(a0 + ma); κ = normalize_per_head(k ⊙ k_k);
// k ← k ⊙ (1 + (a - 1) ⊙ k_a); layer 0: v_first = v, else v ← v + (v_first - v) ⊙ σ(v0 + mv).
void rwkv7_prepare(const Rwkv7Prepare& p, void* stream);

// y += (Σ over each head of r ⊙ k ⊙ r_k) v.
void rwkv7_add_bonus(float* y, const float* r, const float* k, const float* v, const float* r_k, int64_t n, int64_t C,
                     int64_t head_size, void* stream);

}  // namespace rrwkv::gpu
