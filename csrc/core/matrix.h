// A read-only weight matrix, row-major, rows = outputs and cols = inputs (Linear's layout):
// a view into a model's file mapping on the CPU, or into device memory.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace rrwkv {

class PackCache;

struct Matrix {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  int64_t ld = 0;  // bytes from one row to the next (row_bytes(dtype, cols) for dense storage)
  // Where kernels may keep this matrix converted to their own layout for the model's lifetime
  // (core/pack_cache.h: the CPU fast path's packed tiles); null: convert on every use.
  PackCache* packs = nullptr;

  static Matrix dense(const void* data, DType dtype, int64_t rows, int64_t cols) {
    return {data, dtype, rows, cols, row_bytes(dtype, cols), nullptr};
  }
  int64_t bytes() const { return rows * ld; }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * ld; }
};

}  // namespace rrwkv
