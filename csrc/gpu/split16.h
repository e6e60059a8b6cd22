// Activations in 16-bit parts, so that a GEMM of f16 or bf16 weights on tensor cores (16-bit
// inputs, f32 products and accumulation) sees f32 activations (nearly) exactly: row r of x becomes
// `parts` planes of 16-bit values whose sum is x[r] * 2^shift[r] (each plane the rounding of what
// the planes before it left over), and W·x[r] is the sum of the planes' products, scaled back.
//   bf16: 3 parts and no shift. bf16 has f32's exponents, and 3 x 8 significant bits hold all 24
//         of an f32 (exact unless x is within 2^16 of f32's smallest normal).
//   f16:  2 parts, 22 of the 24 bits (error <= 2^-22 of the row's largest |x|). shift[r] puts the
//         row's largest |x| in [2^14, 2^15), below f16's overflow (65504) and far above its
//         subnormals, so any row range f32 holds fits; each element loses at most 2^-23 of that
//         largest |x| (f16's 11 bits twice, the second part possibly subnormal for small elements;
//         2^-21 for a row whose largest |x| is an f32 subnormal, as the shift stops at 2^126).
// Asynchronous on `stream`; InvalidArgument on bad sizes.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "gpu/elementwise.h"

namespace rrwkv::gpu {

// The parts an f32 activation takes in `type` (f16 or bf16); InvalidArgument for other types.
int split_parts(DType type);

// The rows from which linear sends a projection of `type` weights through the split GEMM: its
// split_parts GEMMs read each weight fewer times than the matvec kernels' groups of
// kMaxMatvecVectors rows would (gpu/matvec.h).
int64_t split_gemm_min_rows(DType type);

// The plane stride (elements) for k columns: rounded up to 8 so every plane row is 16-byte aligned
// (cuBLAS's tensor-core kernels want it).
int64_t split_stride(int64_t k);

// x: n rows of k floats (stride ldx). planes: split_parts(type) planes, plane p at
// planes + p * n * split_stride(k), row r at + r * split_stride(k). inv_scale: n floats,
// 2^-shift[r] (1 for bf16), for scale_rows below.
void split16(DType type, const float* x, int64_t ldx, int64_t n, int64_t k, std::uint16_t* planes, float* inv_scale,
             void* stream);

// y[r][j] = act(y[r][j] * inv_scale[r]) for n rows of dim floats (stride ldy); inv_scale may be
// null (1). The epilogue of a split GEMM.
void scale_rows(float* y, int64_t n, int64_t dim, int64_t ldy, const float* inv_scale, Activation act, void* stream);

}  // namespace rrwkv::gpu
