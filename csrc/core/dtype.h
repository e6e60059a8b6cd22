// Element types, from one table (the ggml `type_traits` idea): a row's size, whether a type may
// be stored in a .rrwkv file and how it is named are lookups here, never `f32 ? 4 : 2`. A new
// weight type is one row of kTraits (dtype.cpp) plus its kernels.
#pragma once

#include <cstdint>
#include <string>

namespace rrwkv {

// The values of the stored types are the .rrwkv dtype codes (docs/FORMAT.md); they never change.
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F64 = 3,  // compute only (training kernels, references): never in a model file
};

struct DTypeTraits {
  DType type;
  const char* name;      // "f32", "f16", ...: the name in files' docs, `info` and messages
  int64_t block_elems;   // elements per block along a row (1 for plain types)
  int64_t block_bytes;   // bytes per block
  bool storable;         // may be the dtype of a tensor in a .rrwkv file
  bool quantized;        // blocks carry their own scales (kernels dequantize them)
};

// The traits of a dtype code read from a file; nullptr if the code is unknown.
const DTypeTraits* find_dtype(uint8_t code);
const DTypeTraits& traits(DType t);
inline const char* dtype_name(DType t) { return traits(t).name; }
// "f32, f16, bf16": the storable types, for messages.
std::string storable_dtype_names();
// Parses a name ("f32", "float32", "fp16", ...); throws InvalidArgument naming the choices.
DType parse_dtype(const std::string& name);

// Bytes of a row of `cols` elements; false if cols is not a whole number of blocks or overflows.
bool row_bytes(DType t, uint64_t cols, uint64_t* out);
// The same for sizes the caller has validated (shapes of a loaded model).
int64_t row_bytes(DType t, int64_t cols);

}  // namespace rrwkv
