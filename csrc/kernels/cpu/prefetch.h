// How the matvec kernels (matvec_avx2.cpp, matvec_avx512.cpp) ask for weight lines ahead of their
// reads. The hardware prefetcher alone keeps too few lines in flight while the core is busy
// converting values (20-35% slower from DRAM without these). Measured with `bash
// tools/microbench/run.sh decode_stream` on a 2-core Xeon with AVX-512 (docs/CPU_DECODE.md):
// - plain rows (f32, f16, bf16) stream fastest asked into the L2 (the L1's own prefetcher does
//   the last step): 3-8 KiB ahead alike, 1.00-1.08x of the read probe. Asked into the L1 instead,
//   4 KiB ahead made f32 1.35-1.4x slower than 3 KiB did, and 6 KiB or more made f16 1.6x slower;
// - quantized rows (q8_0, q4_1): into the L1 or the L2, 2-8 KiB ahead, alike within noise (their
//   kernels are compute-bound).
// Prefetches never fault, so asking past the end of a matrix is harmless.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace rrwkv::cpu {

constexpr int64_t kPrefetchBytes = 4096;
constexpr auto kPlainPrefetchHint = _MM_HINT_T1;  // into the L2
constexpr auto kBlockPrefetchHint = _MM_HINT_T0;  // into the L1

}  // namespace rrwkv::cpu
