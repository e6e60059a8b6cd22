// Element c of a weight row as f32, for every weight type (device code: include from .cu files
// only). Rows follow the CPU's layout (kernels/cpu/quant.h): quantized rows of `cols` elements are
// nb = cols / 32 blocks, scales first (q8_0: nb f16 d, then cols int8 q; q4_1: nb f16 d, nb f16 m,
// then 16 bytes per block, element j in the low nibble of byte j & 15 for j < 16, else the high).
// Rows start at an even byte offset (every row size is even), 4-aligned for f32.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/dtype.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {

constexpr int64_t kQuantBlock = 32;

template <DType D>
RRWKV_DEVICE float weight_at(const std::uint8_t* row, int64_t cols, int64_t c) {
  const auto* u16 = reinterpret_cast<const std::uint16_t*>(row);
  if constexpr (D == DType::F32) {
    return reinterpret_cast<const float*>(row)[c];
  } else if constexpr (D == DType::F16) {
    return half_to_float(u16[c]);
  } else if constexpr (D == DType::BF16) {
    return bf16_to_float(u16[c]);
  } else if constexpr (D == DType::Q8_0) {
    const int64_t nb = cols / kQuantBlock;
    return static_cast<float>(static_cast<std::int8_t>(row[2 * nb + c])) * half_to_float(u16[c / kQuantBlock]);
  } else {
    static_assert(D == DType::Q4_1, "weight_at: a weight type without a decoder");
    const int64_t nb = cols / kQuantBlock, b = c / kQuantBlock, j = c % kQuantBlock;
    const std::uint8_t byte = row[4 * nb + 16 * b + (j & 15)];
    const float q = static_cast<float>(j < 16 ? byte & 15 : byte >> 4);
    return fmaf(q, half_to_float(u16[b]), half_to_float(u16[nb + b]));
  }
}

// Calls f(std::integral_constant<DType, D>{}) for the weight type t, so that a launcher picks its
// kernel's instance once; throws InvalidArgument naming `op` for a type without a decoder.
template <class F>
void with_weight_type(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: return f(std::integral_constant<DType, DType::F32>{});
    case DType::F16: return f(std::integral_constant<DType, DType::F16>{});
    case DType::BF16: return f(std::integral_constant<DType, DType::BF16>{});
    case DType::Q8_0: return f(std::integral_constant<DType, DType::Q8_0>{});
    case DType::Q4_1: return f(std::integral_constant<DType, DType::Q4_1>{});
    default: throw InvalidArgument(std::string(op) + ": no GPU kernel for " + dtype_name(t) + " weights");
  }
}

}  // namespace rrwkv::gpu
