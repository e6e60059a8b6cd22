// The quantized weight types' row layout (the kernels of every ISA and the Python encoder,
// python/rrwkv_rt/io/quant.py, follow it; docs/FORMAT.md documents it). A row of `cols`
// elements (cols a multiple of 32) is nb = cols / 32 blocks, stored as:
//   q8_0: nb f16 scales d, then cols int8 values q:            x[32 b + j] = d[b] q[32 b + j]
//   q4_1: nb f16 scales d, nb f16 offsets m, then nb blocks of 16 bytes, byte j of block b holding
//         element 32 b + j in its low nibble and 32 b + j + 16 in its high one (q in 0..15):
//                                                             x = d[b] q + m[b]
// Scales come first so that the values of a row are one contiguous run (wide loads, no strides).
// Kernels multiply by f32 activations as they are (no activation quantization): a dequantized
// weight is exactly what the reference dequantization computes.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace rrwkv::cpu {

constexpr int64_t kQuantBlock = 32;
// Bytes of a block's values (8 bits an element for q8_0, 4 for q4_1) and of its scales (and
// offsets): the rest of the table's bytes per block.
template <DType D>
constexpr int64_t kValueBytes = D == DType::Q8_0 ? kQuantBlock : kQuantBlock / 2;
template <DType D>
constexpr int64_t kScaleBytes = dtype_traits(D).block_bytes - kValueBytes<D>;

}  // namespace rrwkv::cpu
