// Element types, from one table (the ggml `type_traits` idea): a row's size, whether a type may
// be stored in a .rrwkv file and how it is named are lookups here, never `f32 ? 4 : 2`. A new
// weight type is one row of kDTypeTable plus its kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrwkv {

// The values of the stored types are the .rrwkv dtype codes (docs/FORMAT.md); they never change.
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F64 = 3,  // compute only (training kernels, references): never in a model file
  // Quantized, in blocks of 32 along a row; each row stores its blocks' scales first, then the
  // quantized values (kernels/cpu/quant.h, docs/FORMAT.md):
  Q8_0 = 4,  // int8 q, one f16 scale d per block: x = d q                    (8.5 bits/weight)
  Q4_1 = 5,  // 4-bit q in 0..15, f16 scale d and offset m per block: x = d q + m  (5 bits/weight)
};

struct DTypeTraits {
  DType type;
  const char* name;      // "f32", "f16", ...: the name in files' docs, `info` and messages
  int64_t block_elems;   // elements per block along a row (1 for plain types)
  int64_t block_bytes;   // bytes per block
  bool storable;         // may be the dtype of a tensor in a .rrwkv file
  bool quantized;        // blocks carry their own scales (kernels dequantize them)
};

// The table: one row per type. Kernels are per backend and ISA: each backend's table has a row
// per type it has kernels for (the CPU's: kernels/cpu/matvec.h), and an op asks
// has_kernel(dtype, device) (ops/kernels.h) before it takes a matrix of a type.
inline constexpr DTypeTraits kDTypeTable[] = {
    // type        name    block  bytes  storable quantized
    {DType::F32, "f32", 1, 4, true, false},
    {DType::F16, "f16", 1, 2, true, false},
    {DType::BF16, "bf16", 1, 2, true, false},
    {DType::F64, "f64", 1, 8, false, false},
    {DType::Q8_0, "q8_0", 32, 2 + 32, true, true},
    {DType::Q4_1, "q4_1", 32, 2 + 2 + 16, true, true},
};

// The row of a type known at compile time (kernels written per type read their sizes here).
constexpr const DTypeTraits& dtype_traits(DType t) {
  for (const DTypeTraits& d : kDTypeTable)
    if (d.type == t) return d;
  return kDTypeTable[0];  // unreachable for a DType value; find_dtype checks codes from files
}

// The traits of a dtype code read from a file; nullptr if the code is unknown.
const DTypeTraits* find_dtype(uint8_t code);
const DTypeTraits& traits(DType t);
inline const char* dtype_name(DType t) { return traits(t).name; }
// "f32, f16, bf16": the storable types, for messages.
std::string storable_dtype_names();
// Parses a name ("f32", or an alias: "float32", "fp16", ...); throws InvalidArgument naming the choices.
DType parse_dtype(const std::string& name);
// The other names parse_dtype accepts, and the type each means (Python's io/dtypes.py reads them).
struct DTypeAlias {
  const char* name;
  DType type;
};
const std::vector<DTypeAlias>& dtype_aliases();

// For a quantized type: whether every scale (and offset) of `rows` rows of `cols` elements is
// finite; *bad_row gets the first row that is not. Plain types: always true.
bool scales_finite(DType t, const void* data, uint64_t rows, uint64_t cols, uint64_t* bad_row);

// Bytes of a row of `cols` elements; false if cols is not a whole number of blocks or overflows.
bool row_bytes(DType t, uint64_t cols, uint64_t* out);
// The same for sizes the caller has validated (shapes of a loaded model).
int64_t row_bytes(DType t, int64_t cols);

}  // namespace rrwkv
