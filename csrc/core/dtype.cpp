#include "core/dtype.h"

#include <cmath>
#include <cstring>

#include "core/errors.h"

namespace rrwkv {
namespace {

float half_to_float(uint16_t h) {  // exact (for the scale checks; kernels have their own)
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    const float mag = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -mag : mag;
  }
  bits = exp == 31 ? sign | 0x7f800000u | (mant << 13) : sign | ((exp + 112u) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

const DTypeTraits* find_dtype(uint8_t code) {
  for (const DTypeTraits& t : kDTypeTable)
    if (static_cast<uint8_t>(t.type) == code) return &t;
  return nullptr;
}

const DTypeTraits& traits(DType t) {
  const DTypeTraits* d = find_dtype(static_cast<uint8_t>(t));
  if (!d) throw InvalidArgument("unknown dtype code " + std::to_string(static_cast<int>(t)));
  return *d;
}

std::string storable_dtype_names() {
  std::string s;
  for (const DTypeTraits& t : kDTypeTable)
    if (t.storable) s += (s.empty() ? "" : ", ") + std::string(t.name) + " (code " + std::to_string(int(t.type)) + ")";
  return s;
}

const std::vector<DTypeAlias>& dtype_aliases() {
  static const std::vector<DTypeAlias> aliases = {
      {"float32", DType::F32},  {"fp32", DType::F32},    {"float16", DType::F16}, {"fp16", DType::F16},
      {"bfloat16", DType::BF16}, {"float64", DType::F64}, {"fp64", DType::F64},    {"int8", DType::Q8_0},
      {"q8", DType::Q8_0},      {"q4", DType::Q4_1},     {"int4", DType::Q4_1}};
  return aliases;
}

DType parse_dtype(const std::string& name) {
  for (const DTypeTraits& t : kDTypeTable)
    if (name == t.name) return t.type;
  for (const DTypeAlias& a : dtype_aliases())
    if (name == a.name) return a.type;
  std::string all;
  for (const DTypeTraits& t : kDTypeTable) all += (all.empty() ? "" : ", ") + std::string(t.name);
  throw InvalidArgument("unknown dtype '" + name + "'; expected one of " + all);
}

bool scales_finite(DType t, const void* data, uint64_t rows, uint64_t cols, uint64_t* bad_row) {
  const DTypeTraits& d = traits(t);
  if (!d.quantized) return true;
  const uint64_t blocks = cols / static_cast<uint64_t>(d.block_elems);
  const uint64_t n_scales = blocks * (t == DType::Q4_1 ? 2 : 1);  // the row starts with them
  const uint64_t rb = blocks * static_cast<uint64_t>(d.block_bytes);
  const auto* p = static_cast<const uint8_t*>(data);
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t i = 0; i < n_scales; ++i) {
      uint16_t h;
      std::memcpy(&h, p + r * rb + 2 * i, 2);
      if (!std::isfinite(half_to_float(h))) {
        *bad_row = r;
        return false;
      }
    }
  return true;
}

bool row_bytes(DType t, uint64_t cols, uint64_t* out) {
  const DTypeTraits& d = traits(t);
  const uint64_t be = static_cast<uint64_t>(d.block_elems), bb = static_cast<uint64_t>(d.block_bytes);
  if (cols % be != 0) return false;
  const uint64_t blocks = cols / be;
  if (blocks != 0 && bb > UINT64_MAX / blocks) return false;
  *out = blocks * bb;
  return true;
}

int64_t row_bytes(DType t, int64_t cols) {
  const DTypeTraits& d = traits(t);
  return cols / d.block_elems * d.block_bytes;
}

}  // namespace rrwkv
