// The activations of gpu::Activation on one value (device code: include from .cu files only); the
// same formulas as ops/math.h and linear's epilogues on the CPU.
#pragma once

#include <cmath>

#include "gpu/elementwise.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {

RRWKV_DEVICE float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

RRWKV_DEVICE float apply(Activation act, float x) {
  switch (act) {
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::ReluSquare: {
      const float r = x > 0.0f ? x : 0.0f;
      return r * r;
    }
    case Activation::Tanh: return tanhf(x);
    case Activation::Silu: return x * sigmoid(x);
    case Activation::None: break;
  }
  return x;
}

}  // namespace rrwkv::gpu
