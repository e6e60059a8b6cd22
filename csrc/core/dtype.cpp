#include "core/dtype.h"

#include "core/errors.h"

namespace rrwkv {
namespace {

constexpr DTypeTraits kTraits[] = {
    // type        name    block  bytes  storable quantized
    {DType::F32, "f32", 1, 4, true, false},
    {DType::F16, "f16", 1, 2, true, false},
    {DType::BF16, "bf16", 1, 2, true, false},
    {DType::F64, "f64", 1, 8, false, false},
};

}  // namespace

const DTypeTraits* find_dtype(uint8_t code) {
  for (const DTypeTraits& t : kTraits)
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
  for (const DTypeTraits& t : kTraits)
    if (t.storable) s += (s.empty() ? "" : ", ") + std::string(t.name) + " (code " + std::to_string(int(t.type)) + ")";
  return s;
}

DType parse_dtype(const std::string& name) {
  struct Alias {
    const char* name;
    DType type;
  };
  static const Alias kAliases[] = {{"float32", DType::F32}, {"fp32", DType::F32}, {"float16", DType::F16},
                                   {"fp16", DType::F16},    {"bfloat16", DType::BF16}, {"float64", DType::F64},
                                   {"fp64", DType::F64}};
  for (const DTypeTraits& t : kTraits)
    if (name == t.name) return t.type;
  for (const Alias& a : kAliases)
    if (name == a.name) return a.type;
  std::string all;
  for (const DTypeTraits& t : kTraits) all += (all.empty() ? "" : ", ") + std::string(t.name);
  throw InvalidArgument("unknown dtype '" + name + "'; expected one of " + all);
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
