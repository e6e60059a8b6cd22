// Weight matrices converted once into a kernel's own layout and kept for the model's lifetime: the
// CPU fast path's packed tiles (ops/linear_fast_cpu.cpp). The CPU placement of a model's weights
// owns one (arch/base/weights.cpp) and its matrices point at it (Matrix::packs), so every engine,
// session and batch on the model shares the packed copies. Thread-safe: engines on many threads
// may ask for the same matrix at once; the first one packs it and the others wait for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "core/matrix.h"

namespace rrwkv {

class PackCache {
 public:
  // The packed bytes of `m` for the layout `kind` (the kernel table that reads them): `bytes`
  // bytes, 64-byte aligned, written by fill(out) on the first call for (m, kind) and kept. If fill
  // throws, nothing is kept and the next call tries again.
  const uint8_t* get(const Matrix& m, const void* kind, int64_t bytes, const std::function<void(uint8_t*)>& fill);
  // Bytes held by the packed copies (memory accounting; docs/FAST_PATH.md).
  int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  int64_t count() const;

 private:
  struct Entry {
    std::mutex fill_mu;                          // held while packing: later callers wait
    std::atomic<const uint8_t*> ready{nullptr};  // set once packed
    std::unique_ptr<uint8_t[]> data;  // not zeroed: fill writes every byte it is given
  };
  using Key = std::tuple<const void*, const void*, int64_t, int64_t, int64_t, int>;  // data, kind, rows, cols, ld, dtype
  mutable std::mutex mu_;  // guards the map (entries never move: unique_ptr)
  std::map<Key, std::unique_ptr<Entry>> entries_;
  std::atomic<int64_t> bytes_{0};
};

}  // namespace rrwkv
