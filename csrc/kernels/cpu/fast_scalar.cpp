// The fast kernels in portable scalar code (any CPU): the fallback, and the implementation every
// SIMD one is tested against bit for bit. Straight from the definitions in fast_reference.h.
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"
#include "kernels/cpu/fast_reference.h"

namespace rrwkv::cpu {
namespace {

using fast_layout::Int8Row;
using fast_ref::kChunk;
using fast_ref::padded;

// ---- bf16 family: activation rows as rounded f32 values in order, padded with zeros ----------

int64_t bf16_act_row_bytes(DType, int64_t cols) { return fast_layout::split_row_bytes(cols); }

void bf16_prepare(DType, const float* x, int64_t cols, uint8_t* out) {
  float* o = reinterpret_cast<float*>(out);
  for (int64_t c = 0; c < cols; ++c) o[c] = fast_ref::bf16_round(x[c]);
  for (int64_t c = cols; c < padded(cols); ++c) o[c] = 0.0f;
}

// The value of element c of a float-typed weight row in the bf16 family.
float weight_value(DType dt, const uint8_t* row, int64_t c) {
  uint16_t h;
  switch (dt) {
    case DType::F32: {
      float f;
      std::memcpy(&f, row + 4 * c, 4);
      return fast_ref::bf16_round(f);
    }
    case DType::F16:
      std::memcpy(&h, row + 2 * c, 2);
      return fast_ref::bf16_round(f16_to_f32(h));
    default:
      std::memcpy(&h, row + 2 * c, 2);
      return fast_ref::bf16_input(h);
  }
}

int64_t bf16_tile_bytes(DType, int64_t cols, int64_t) { return fast_layout::split_row_bytes(cols); }

// Packed: each weight row's values in order, padded with zeros (split_row_bytes apart).
int64_t bf16_pack_bytes(DType, int64_t cols, int64_t rows) { return rows * fast_layout::split_row_bytes(cols); }

void bf16_pack(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t ws = fast_layout::split_row_bytes(w.cols) / 4;
  for (int64_t r = r0; r < r1; ++r) {
    float* wr = reinterpret_cast<float*>(out) + (r - r0) * ws;
    for (int64_t c = 0; c < w.cols; ++c) wr[c] = weight_value(w.dtype, w.row(r), c);
    for (int64_t c = w.cols; c < padded(w.cols); ++c) wr[c] = 0.0f;
  }
}

int64_t no_scratch(DType, int64_t, int64_t) { return 0; }

void bf16_gemm_packed(const Matrix& w, const uint8_t* packed, int64_t r0, int64_t r1, const uint8_t* xp,
                      int64_t xstride, int64_t n, float* y, int64_t ldy, uint8_t*) {
  const int64_t ws = fast_layout::split_row_bytes(w.cols) / 4;
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr = reinterpret_cast<const float*>(packed) + (r - r0) * ws;
    for (int64_t i = 0; i < n; ++i)
      y[i * ldy + r] = fast_ref::bf16_dot(wr, reinterpret_cast<const float*>(xp + i * xstride), w.cols);
  }
}

void bf16_gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
               int64_t ldy, uint8_t* tile) {
  for (int64_t r = r0; r < r1; ++r) {  // one converted weight row at a time
    bf16_pack(w, r, r + 1, tile);
    bf16_gemm_packed(w, tile, r, r + 1, xp, xstride, n, y, ldy, nullptr);
  }
}

// ---- int8 family: the shared layout (fast_layout.h) ------------------------------------------

int64_t int8_act_row_bytes(DType, int64_t cols) { return Int8Row(cols).bytes; }

void int8_prepare(DType w, const float* x, int64_t cols, uint8_t* out) {
  const Int8Row L(cols);
  auto* q = reinterpret_cast<int8_t*>(out);
  auto* dx = reinterpret_cast<float*>(out + L.dx);
  auto* sx = reinterpret_cast<int32_t*>(out + L.sx);
  for (int64_t b = 0; b < L.nb; ++b) {
    const fast_ref::QuantBlock qb = fast_ref::quantize_block(x + kChunk * b);
    std::memcpy(q + kChunk * b, qb.q, kChunk);
    dx[b] = qb.d;
    sx[b] = qb.sum;
    if (w == DType::Q4_1) {
      const float cx = qb.d * static_cast<float>(qb.sum);
      std::memcpy(out + L.aux + 4 * b, &cx, 4);
    } else {
      const int32_t corr = -128 * qb.sum;
      std::memcpy(out + L.aux + 4 * b, &corr, 4);
    }
  }
}

int64_t int8_tile_bytes(DType, int64_t, int64_t) { return 0; }

void int8_gemm(const Matrix& w, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride, int64_t n, float* y,
               int64_t ldy, uint8_t*) {
  const Int8Row L(w.cols);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* a = xp + i * xstride;
    const auto* q = reinterpret_cast<const int8_t*>(a);
    const auto* dx = reinterpret_cast<const float*>(a + L.dx);
    const auto* sx = reinterpret_cast<const int32_t*>(a + L.sx);
    for (int64_t r = r0; r < r1; ++r)
      y[i * ldy + r] = w.dtype == DType::Q4_1 ? fast_ref::int8_dot<true>(w.row(r), w.cols, q, dx, sx)
                                              : fast_ref::int8_dot<false>(w.row(r), w.cols, q, dx, sx);
  }
}

// The int8 kernel reads the weights as stored: nothing to pack.
int64_t int8_pack_bytes(DType, int64_t, int64_t) { return 0; }
void int8_pack(const Matrix&, int64_t, int64_t, uint8_t*) {}
void int8_gemm_packed(const Matrix& w, const uint8_t*, int64_t r0, int64_t r1, const uint8_t* xp, int64_t xstride,
                      int64_t n, float* y, int64_t ldy, uint8_t* scratch) {
  int8_gemm(w, r0, r1, xp, xstride, n, y, ldy, scratch);
}

const FastKernels kBf16 = {"scalar",          FastFamily::Bf16, 1,    &bf16_act_row_bytes, &bf16_prepare,
                           &bf16_tile_bytes,  &bf16_gemm,       &bf16_pack_bytes,     &bf16_pack,
                           &no_scratch,       &bf16_gemm_packed};
const FastKernels kInt8 = {"scalar",          FastFamily::Int8, 1,    &int8_act_row_bytes, &int8_prepare,
                           &int8_tile_bytes,  &int8_gemm,       &int8_pack_bytes,     &int8_pack,
                           &no_scratch,       &int8_gemm_packed};

}  // namespace

const FastKernels* fast_bf16_scalar() { return &kBf16; }
const FastKernels* fast_int8_scalar() { return &kInt8; }

}  // namespace rrwkv::cpu
