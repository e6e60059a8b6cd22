// Element types a .rrwkv tensor may have.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace rrwkv {

enum class DType : uint8_t { F32 = 0, F16 = 1, BF16 = 2 };

inline bool dtype_is_valid(uint8_t code) { return code <= 2; }

inline size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 2; }

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
  }
  return "?";
}

}  // namespace rrwkv
