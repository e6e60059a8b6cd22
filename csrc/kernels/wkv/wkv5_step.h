// One token of one head of the RWKV-5.2 / RWKV-6 recurrence (ops/wkv5.h), the math shared by the
// CPU op and the GPU kernel (gpu/recurrence_matrix.cu). The head's S x S state has a row per key
// channel a and a column per value channel j:
//     y_j = bonus v_j + Σ_a r_a S[a][j]          bonus = Σ_a r_a u_a k_a (the state before the token)
//     S[a][j] = k_a v_j + w_a S[a][j]
// RWKV-6 is the same step with a decay w that changes per token. Every value channel depends on
// its own column only, which is how the GPU splits a head (a thread per column); the order of the
// operations on each element is that of ops/wkv5_cpu.cpp.
#pragma once

#include <stdint.h>

#include "kernels/wkv/wkv_step.h"  // RRWKV_HD

namespace rrwkv::wkv5 {

// rᵀ diag(u) k, summed in key-channel order.
RRWKV_HD float bonus(int64_t S, const float* r, const float* u, const float* k) {
  float b = 0.0f;
  for (int64_t a = 0; a < S; ++a) b += r[a] * u[a] * k[a];
  return b;
}

// One element: y_j gains r_a S[a][j], then S[a][j] becomes k_a v_j + w_a S[a][j].
RRWKV_HD void element(float& y, float& s, float ra, float ka, float wa, float vj) {
  const float old = s;
  y += ra * old;
  s = ka * vj + wa * old;
}

// Value channel j (the GPU's split): returns y_j and leaves column j (`state[a * S + j]`) after
// the token; vj is v_j.
RRWKV_HD float column_step(int64_t S, float* state, int64_t j, const float* r, const float* k, const float* w,
                           float vj, float bonus_) {
  float y = bonus_ * vj;
  for (int64_t a = 0; a < S; ++a) element(y, state[a * S + j], r[a], k[a], w[a], vj);
  return y;
}

// y before the key channels: bonus v.
RRWKV_HD void start_output(int64_t S, const float* __restrict r, const float* __restrict k, const float* __restrict v,
                           const float* __restrict u, float* __restrict y) {
  const float b = bonus(S, r, u, k);
  for (int64_t j = 0; j < S; ++j) y[j] = b * v[j];
}

// Key channel a: its row of the state (S values) through the token, adding its part of y.
RRWKV_HD void row_step(int64_t S, float* __restrict row, float ra, float ka, float wa, const float* __restrict v,
                       float* __restrict y) {
  for (int64_t j = 0; j < S; ++j) element(y[j], row[j], ra, ka, wa, v[j]);
}

// The whole head, key channels outside (the CPU op's loop nest: the inner loop vectorizes);
// before_row(a) runs before key channel a's row.
template <class BeforeRow = wkv::NoRowHook>
RRWKV_HD void head_step(int64_t S, float* __restrict state, const float* __restrict r, const float* __restrict k,
                        const float* __restrict v, const float* __restrict w, const float* __restrict u,
                        float* __restrict y, BeforeRow before_row = {}) {
  start_output(S, r, k, v, u, y);
  for (int64_t a = 0; a < S; ++a) {
    before_row(a);
    row_step(S, state + a * S, r[a], k[a], w[a], v, y);
  }
}

}  // namespace rrwkv::wkv5
