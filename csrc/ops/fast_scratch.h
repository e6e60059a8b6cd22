// Scratch of the fast projections (exact=false, ops/linear_fast_cpu.cpp): the prepared activation
// rows of a call and each thread's weight tile, 64-byte aligned. Grown before a parallel region
// when a call needs more than any before it (so an engine allocates on its first calls only).
#pragma once

#include <cstdint>
#include <vector>

namespace rrwkv {

class FastScratch {
 public:
  explicit FastScratch(int n_threads) : tiles_(static_cast<size_t>(n_threads)) {}

  uint8_t* activations(int64_t bytes) { return grown(acts_, bytes); }
  // Every thread's tile at least `bytes`; call outside parallel regions.
  void reserve_tiles(int64_t bytes) {
    for (std::vector<uint8_t>& t : tiles_) grown(t, bytes);
  }
  uint8_t* tile(int thread) { return aligned(tiles_[static_cast<size_t>(thread)]); }

 private:
  static uint8_t* aligned(std::vector<uint8_t>& v) {
    const auto a = reinterpret_cast<uintptr_t>(v.data());
    return v.data() + (64 - a % 64) % 64;
  }
  static uint8_t* grown(std::vector<uint8_t>& v, int64_t bytes) {
    if (static_cast<int64_t>(v.size()) < bytes + 64) v.resize(static_cast<size_t>(bytes + 64));
    return aligned(v);
  }
  std::vector<uint8_t> acts_;
  std::vector<std::vector<uint8_t>> tiles_;
};

}  // namespace rrwkv
