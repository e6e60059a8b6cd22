// Scratch memory: several 64-byte aligned float arrays carved from one zeroed allocation, sized
// once (engines allocate nothing per call).
#pragma once

#include <cstdint>
#include <vector>

namespace rrwkv {

class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(const std::vector<int64_t>& sizes) {
    constexpr int64_t kAlign = 16;  // floats
    int64_t total = kAlign;
    for (int64_t n : sizes) total += (n + kAlign - 1) / kAlign * kAlign;
    buf_.assign(static_cast<size_t>(total), 0.0f);
    auto addr = reinterpret_cast<uintptr_t>(buf_.data());
    float* p = buf_.data() + ((64 - addr % 64) % 64) / sizeof(float);
    for (int64_t n : sizes) {
      ptrs_.push_back(p);
      p += (n + kAlign - 1) / kAlign * kAlign;
    }
  }
  AlignedFloats(const AlignedFloats&) = delete;  // the pointers point into buf_
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  AlignedFloats(AlignedFloats&&) = default;  // a moved vector keeps its buffer
  AlignedFloats& operator=(AlignedFloats&&) = default;

  float* operator[](size_t i) const { return ptrs_[i]; }

 private:
  std::vector<float> buf_;
  std::vector<float*> ptrs_;
};

}  // namespace rrwkv
