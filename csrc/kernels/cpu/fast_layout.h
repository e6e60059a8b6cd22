// Where things lie in the fast kernels' prepared activation rows (fast_kernels.h), shared by the
// implementations of a family so that each writes the layout its kernels read.
//   int8 (every implementation): q[cols] int8 | dx[nb] f32 | sx[nb] int32 | aux[nb]
//        aux: q8_0: int32 -128 * sx (the correction when the weights are offset to unsigned);
//             q4_1: f32 dx * float(sx) (the offsets' factor)
//   bf16 "split" (the AVX2 FMA emulation): per chunk of 32, the 16 even elements then the 16
//        odd ones, as f32 values already rounded to bf16 (so each lane's pair is in the same
//        lane of two vectors); bf16 "pairs" (vdpbf16ps, and the AVX-512 FMA emulation, which
//        splits them in registers): the bf16 values in order.
// Rows are padded to 64 bytes (and to whole chunks of 32 elements, with zeros).
#pragma once

#include <cstdint>

#include "core/matrix.h"
#include "kernels/cpu/fast_reference.h"

namespace rrwkv::cpu::fast_layout {

inline int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

struct Int8Row {
  int64_t nb, dx, sx, aux, bytes;  // block count; byte offsets of the arrays; row bytes
  explicit Int8Row(int64_t cols)
      : nb(cols / fast_ref::kChunk),
        dx(round64(cols)),
        sx(dx + 4 * nb),
        aux(sx + 4 * nb),
        bytes(round64(aux + 4 * nb)) {}
};

inline int64_t split_row_bytes(int64_t cols) { return round64(4 * fast_ref::padded(cols)); }
inline int64_t pairs_row_bytes(int64_t cols) { return round64(2 * fast_ref::padded(cols)); }

// A tile or pack of bf16 pairs rows: one row after another (every implementation of the layout).
inline int64_t pairs_tile_bytes(int64_t cols, int64_t rows) { return rows * pairs_row_bytes(cols); }

// Rows [r0, r1) of w as pairs rows, each made by the implementation's own
// to_pairs(dtype, row, cols, out). static: each ISA's file keeps its own copy, compiled with its
// own flags (a shared inline copy could be linked into another ISA's code).
template <class ToPairs>
static void pack_pairs(const Matrix& w, int64_t r0, int64_t r1, uint8_t* out, ToPairs to_pairs) {
  const int64_t ws = pairs_row_bytes(w.cols) / 2;
  auto* t = reinterpret_cast<uint16_t*>(out);
  for (int64_t r = r0; r < r1; ++r) to_pairs(w.dtype, w.row(r), w.cols, t + (r - r0) * ws);
}

}  // namespace rrwkv::cpu::fast_layout
