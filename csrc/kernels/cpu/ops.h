// Small elementwise operations of the model, shared by the step and the sequence forms.
#pragma once

#include <cmath>
#include <cstdint>

namespace rrwkv::cpu {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

inline float relu_square(float x) {
  const float r = x > 0.0f ? x : 0.0f;
  return r * r;
}

// out = LayerNorm(x) * w + b over n elements (mean and variance in double). out may alias x.
void layer_norm(const float* x, const float* w, const float* b, int64_t n, double eps, float* out);

// Token-shift mix in the official operand order: out = x * mu + xp * (1 - mu).
inline void mix(const float* x, const float* xp, const float* mu, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * mu[i] + xp[i] * (1.0f - mu[i]);
}

// RRWKV `add` mode: out = x * mu + xp * (1 - mu) + eta * (c - x).
inline void mix_add(const float* x, const float* xp, const float* mu, const float* c, const float* eta, int64_t n,
                    float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * mu[i] + xp[i] * (1.0f - mu[i])) + eta[i] * (c[i] - x[i]);
}

}  // namespace rrwkv::cpu
