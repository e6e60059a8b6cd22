// One token of one head of the RWKV-7 recurrence (ops/wkv7.h), the math shared by the CPU op and
// the GPU kernel (gpu/recurrence_matrix.cu). The head's S x S state has a row per value channel i
// and a column per key channel j; the token decays the columns, removes along the unit key κ at
// the rate a, and learns v kᵀ; the output reads the state after the token:
//     sk_i    = Σ_j S[i][j] κ_j
//     S[i][j] = S[i][j] w_j - sk_i (κ_j a_j) + v_i k_j
//     y_i     = Σ_j S[i][j] r_j
// Every value channel depends on its own row only. The two sums are where a CPU and a GPU differ:
// `dot` is the CPU op's order (16 partial sums, so that it vectorizes without reordering licence);
// the GPU kernel sums a row across a warp's lanes with `element` per element, so its sums are
// ordered differently (within float rounding of these).
#pragma once

#include <stdint.h>

#include "kernels/wkv/wkv_step.h"  // RRWKV_HD

namespace rrwkv::wkv7 {

// Σ a_i b_i in 16 partial sums, then the partials in order (ops/wkv7_cpu.cpp's order).
RRWKV_HD float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int q = 0; q < 16; ++q) part[q] += a[i + q] * b[i + q];
  for (int q = 0; i + q < n; ++q) part[q] += a[i + q] * b[i + q];
  float s = 0.0f;
  for (int q = 0; q < 16; ++q) s += part[q];
  return s;
}

// The new S[i][j] from the old one: s = S[i][j], sk = sk_i, vi = v_i, the rest at key channel j.
RRWKV_HD float element(float s, float wj, float sk, float kappa_j, float aj, float vi, float kj) {
  return s * wj - sk * (kappa_j * aj) + vi * kj;
}

// Value channel i: updates the row (S floats) and returns y_i.
RRWKV_HD float row_step(int64_t S, float* __restrict row, const float* __restrict r, const float* __restrict w,
                        const float* __restrict k, float vi, const float* __restrict kappa, const float* __restrict a) {
  const float sk = dot(row, kappa, S);
  for (int64_t j = 0; j < S; ++j) row[j] = element(row[j], w[j], sk, kappa[j], a[j], vi, k[j]);
  return dot(row, r, S);
}

// The whole head; before_row(i) runs before value channel i's row.
template <class BeforeRow = wkv::NoRowHook>
RRWKV_HD void head_step(int64_t S, float* __restrict state, const float* __restrict r, const float* __restrict w,
                        const float* __restrict k, const float* __restrict v, const float* __restrict kappa,
                        const float* __restrict a, float* __restrict y, BeforeRow before_row = {}) {
  for (int64_t i = 0; i < S; ++i) {
    before_row(i);
    y[i] = row_step(S, state + i * S, r, w, k, v[i], kappa, a);
  }
}

}  // namespace rrwkv::wkv7
