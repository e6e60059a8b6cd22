// The elementwise epilogues of ops::linear on the CPU, applied to the outputs [r0, r1) of n rows
// right after a task computed them (while they are in cache).
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/linear.h"
#include "ops/math.h"

namespace rrwkv::ops::detail {

inline void apply_epilogue(Epilogue ep, float* y, int64_t ldy, int64_t n, int64_t r0, int64_t r1) {
  if (ep == Epilogue::None) return;
  for (int64_t i = 0; i < n; ++i) {
    float* row = y + i * ldy;
    switch (ep) {
      case Epilogue::Sigmoid: for (int64_t r = r0; r < r1; ++r) row[r] = sigmoid(row[r]); break;
      case Epilogue::ReluSquare: for (int64_t r = r0; r < r1; ++r) row[r] = relu_square(row[r]); break;
      case Epilogue::Tanh: for (int64_t r = r0; r < r1; ++r) row[r] = std::tanh(row[r]); break;
      case Epilogue::Silu: for (int64_t r = r0; r < r1; ++r) row[r] = row[r] * sigmoid(row[r]); break;
      case Epilogue::None: break;
    }
  }
}

}  // namespace rrwkv::ops::detail
