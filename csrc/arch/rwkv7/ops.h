// The elementwise steps of RWKV-7's time mix around its recurrence, ops of this architecture
// (the equations: python/rrwkv_rt/reference/rwkv7.py). All on token rows of C floats.
#pragma once

#include <cstdint>

#include "ops/context.h"

namespace rrwkv::rwkv7 {

struct Prepare {
  int64_t n = 0, C = 0, head_size = 0;
  // in: the low-rank outputs mw, ma, mv (mv null in layer 0) and the parameters
  const float *mw = nullptr, *ma = nullptr, *mv = nullptr;
  const float *w0 = nullptr, *a0 = nullptr, *v0 = nullptr, *k_k = nullptr, *k_a = nullptr;
  // out: the decay w and the rate a; kappa, the unit removal key per head; in/out: k (scaled by
  // the rate), v (mixed with v_first, or copied to it in layer 0)
  float *w = nullptr, *a = nullptr, *kappa = nullptr, *k = nullptr, *v = nullptr, *v_first = nullptr;
};

// w = exp(-e^{-1/2} σ(w0 + mw)); a = σ(a0 + ma); κ = normalize_per_head(k ⊙ k_k);
// k ← k ⊙ (1 + (a - 1) ⊙ k_a); layer 0: v_first = v, else v ← v + (v_first - v) ⊙ σ(v0 + mv).
void prepare(ExecContext& ctx, const Prepare& p);

// y += (Σ over each head of r ⊙ k ⊙ r_k) v: the current token's bonus, after the GroupNorm.
void add_bonus(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k, int64_t n,
               int64_t C, int64_t head_size);

namespace detail {
void prepare_cpu(ExecContext& ctx, const Prepare& p);
void add_bonus_cpu(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k,
                   int64_t n, int64_t C, int64_t head_size);
void prepare_cuda(ExecContext& ctx, const Prepare& p);
void add_bonus_cuda(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k,
                    int64_t n, int64_t C, int64_t head_size);
}  // namespace detail

}  // namespace rrwkv::rwkv7
