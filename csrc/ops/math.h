// Scalar functions shared by the CPU bodies of the ops.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace rrwkv::ops {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// max(x, 0)², NaN giving 0. Written as a mask of x's bits so that it compiles without a branch
// (and vectorizes): the `x > 0 ? x : 0` it replaces compiled to a compare and a jump per
// element, which mispredicts on the random signs of a projection's outputs (1.3% of a decode).
inline float relu_square(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= 0u - static_cast<uint32_t>(x > 0.0f);  // all ones where x > 0, else +0.0f
  float r;
  std::memcpy(&r, &bits, sizeof r);
  return r * r;
}

}  // namespace rrwkv::ops
