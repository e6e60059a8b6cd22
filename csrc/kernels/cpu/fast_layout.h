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

}  // namespace rrwkv::cpu::fast_layout
