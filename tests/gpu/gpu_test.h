// What every GPU test shares: the rule for when it runs, and host-side bf16 rounding for test data.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/device.h"

namespace rrwkv::gpu::test {

// An NVIDIA driver on this machine lists a GPU (whether or not this build can use it).
inline bool nvidia_gpu_present() {
  std::error_code ec;
  if (std::filesystem::exists("/dev/nvidia0", ec)) return true;
  const std::filesystem::path gpus("/proc/driver/nvidia/gpus");
  return std::filesystem::is_directory(gpus, ec) && !std::filesystem::is_empty(gpus, ec);
}

// float -> bf16 bits, round to nearest even (test data only: finite values).
inline uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

}  // namespace rrwkv::gpu::test

// First line of every GPU test: skips where there is no device at all, fails where a GPU is
// present but this build cannot use it (a CUDA build without a working driver, say).
#define RRWKV_NEED_GPU()                                                                                     \
  do {                                                                                                       \
    if (::rrwkv::cuda_device_count() == 0) {                                                                 \
      if (::rrwkv::gpu::test::nvidia_gpu_present())                                                          \
        FAIL() << "a GPU is present but this build cannot use it: " << ::rrwkv::cuda_status();               \
      GTEST_SKIP() << "no CUDA device (" << ::rrwkv::cuda_status() << "); these tests run on a GPU or under " \
                   << "the emulated build (RRWKV_GPU_EMULATION=ON)";                                         \
    }                                                                                                        \
  } while (0)
