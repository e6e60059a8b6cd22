// Scalar functions shared by the CPU bodies of the ops.
#pragma once

#include <cmath>

namespace rrwkv::ops {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

inline float relu_square(float x) {
  const float r = x > 0.0f ? x : 0.0f;
  return r * r;
}

}  // namespace rrwkv::ops
