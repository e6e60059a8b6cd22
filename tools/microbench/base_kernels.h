// The other version of a kernel file that run.sh compiles in with BASE=..., renamed, so that a
// micro-benchmark measures both in the same run (declared only when BASE was given).
#pragma once

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv::cpu {
#ifdef RRWKV_MICROBENCH_BASE
const KernelTable* kernels_avx512_base();  // BASE's kernels_avx512 (a matvec_avx512.cpp)
#endif
#ifdef RRWKV_MICROBENCH_BASE_FAST_BF16
const FastKernels* fast_bf16_avx512_base();  // BASE's fast_bf16_avx512 (a fast_bf16_avx512.cpp)
#endif
}  // namespace rrwkv::cpu
