// The fast path's kernels (exact=false): a batch of activation rows times a weight matrix, with
// the activations rounded first, so that the products run on the CPU's low-precision dot-product
// units. Two families:
//   bf16: float weights (f32, f16, bf16). Weights and activations rounded to bf16, products
//         summed in f32 (AVX512_BF16's vdpbf16ps; emulated exactly with f32 FMAs elsewhere).
//   int8: quantized weights (q8_0, q4_1). Activations quantized to int8 per block of 32 with an
//         f32 scale (llama.cpp's q8_0 x q8_0 dot), integer dot products per block (VNNI's
//         vpdpbusd; vpmaddubsw elsewhere), scaled and summed in f32.
// The arithmetic of each family is defined once (fast_reference.h writes it out in scalar code)
// and every implementation computes exactly those numbers: implementations differ in speed only.
// A (weight row, activation row) result depends on nothing else: not on the other rows of the
// call, the row range of a task or the thread. So a row computed alone equals the same row in
// any batch, bit for bit, and a prefill gives the same numbers however it is chunked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/matrix.h"

namespace rrwkv::cpu {

enum class FastFamily { None, Bf16, Int8 };

// Bf16 for f32 / f16 / bf16 weights, Int8 for q8_0 / q4_1, None otherwise.
FastFamily fast_family(DType weights);

struct FastKernels {
  const char* name;    // e.g. "avx512bf16", "avx512vnni", "scalar"
  FastFamily family;
  int64_t row_group;   // a task's rows should be a multiple of this (tiles pad a partial group)
  // Bytes of one prepared activation row of `cols` elements (a multiple of 64).
  int64_t (*act_row_bytes)(DType w, int64_t cols);
  // Rounds / quantizes one activation row (cols floats) into act_row_bytes(w, cols) bytes.
  void (*prepare)(DType w, const float* x, int64_t cols, uint8_t* out);
  // Scratch bytes a task of `rows` weight rows needs (its weights converted to the kernel's tile).
  int64_t (*tile_bytes)(DType w, int64_t cols, int64_t rows);
  // y[i * ldy + r] = (weight row r) . (activation row i) for r in [r0, r1) and i in [0, n): the
  // prepared activation rows are at xp + i * xstride; `tile` has tile_bytes(w, cols, r1 - r0)
  // bytes, 64-byte aligned.
  void (*gemm)(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
               int64_t ldy, uint8_t* tile);
  // The same split in two, so that a weight can be packed once and kept (core/pack_cache.h):
  // gemm(...) is pack(w, r0, r1, tile) then gemm_packed(w, tile, ...) with the rest of the tile
  // as scratch, and gives the same numbers.
  // Bytes of rows [0, rows) of a weight in the kernel's layout; the pack of rows [r0, r1) (r0 a
  // multiple of row_group) starts pack_bytes(w, cols, r0) bytes into the whole matrix's pack.
  // 0: the kernel reads the weights as stored (nothing to pack).
  int64_t (*pack_bytes)(DType w, int64_t cols, int64_t rows);
  // Rows [r0, r1) of w into that layout at `out` (64-byte aligned); r0 a multiple of row_group,
  // r1 too or w.rows (the last group is padded).
  void (*pack)(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out);
  // Scratch bytes gemm_packed needs besides the packed weights, for a task of `rows` rows.
  int64_t (*scratch_bytes)(DType w, int64_t cols, int64_t rows);
  // gemm with rows [r0, r1) already packed at `packed`; `scratch` has scratch_bytes(...) bytes,
  // 64-byte aligned.
  void (*gemm_packed)(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp,
                      int64_t xstride, int64_t n, float* y, int64_t ldy, uint8_t* scratch);
};

// The implementation of a family in use: the best one this CPU runs within the ISA the matvec
// kernels use (RRWKV_ISA / set_isa cap both). nullptr for FastFamily::None.
const FastKernels* fast_kernels(FastFamily family);
const FastKernels* fast_kernels_for(DType weights);

// One implementation by name; nullptr where this CPU or build cannot run it.
//   bf16: "scalar", "avx2", "avx512" (FMA emulation), "avx512bf16" (vdpbf16ps)
//   int8: "scalar", "avx2" (vpmaddubsw), "avxvnni", "avx512vnni", "amx" (tdpbssd / tdpbsud)
const FastKernels* fast_kernels_named(FastFamily family, const std::string& name);
std::vector<std::string> fast_kernel_names(FastFamily family);  // every name, supported here or not

// Per-ISA tables (nullptr where not compiled for this architecture); fast_dispatch.cpp checks
// the CPU before handing one out.
const FastKernels* fast_bf16_scalar();
const FastKernels* fast_bf16_avx2();
const FastKernels* fast_bf16_avx512();
const FastKernels* fast_bf16_avx512bf16();
const FastKernels* fast_int8_scalar();
const FastKernels* fast_int8_avx2();
const FastKernels* fast_int8_avxvnni();
const FastKernels* fast_int8_avx512vnni();
const FastKernels* fast_int8_amx();
// Whether the OS let this process use the AMX registers (asked once; Linux only).
bool amx_permitted();
// The AMX peak loop of peak.h (4 x iters tdpbssd on full tiles); only where fast_int8_amx runs.
float amx_dpbssd_loop(int64_t iters);

}  // namespace rrwkv::cpu
