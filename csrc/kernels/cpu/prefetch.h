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

// A second, further distance, into the L2, where a kernel is busy while its weights stream:
// - q8_0 rows: with the L1's line alone their kernel streamed a decode's matrices at 1.3-1.4x
//   the probe, though it converts a block in half the time the memory takes to bring it
//   (likely: lines asked for into the L1 are too few in flight). With the L2 line, 0.89-0.97x
//   the time (decode_stream, 2 threads; 0.84x on 1); q8_0 models decode in 0.84-0.91x the time
//   (docs/CPU_DECODE.md). q4_1's kernel did not gain from it (1.00-1.14x), so it asks for one.
// - plain rows at 3 or more vectors: exact f32 batches of 4 and 8, 1.06-1.15x the tokens/s.
// - the fast kernels, while the first activation rows of a call bring the weights from memory:
//   the bf16 kernels this far ahead, the int8 kernels the next groups' tiles
//   (fast_bf16_avx512.cpp, fast_bf16_avx2.cpp, fast_int8_avx512vnni.cpp, fast_int8_avx2_impl.h).
constexpr int64_t kFarPrefetchBytes = 12288;
constexpr auto kFarPrefetchHint = _MM_HINT_T1;  // into the L2

}  // namespace rrwkv::cpu
