// The int8 family of the fast kernels (fast_kernels.h) on AVX-VNNI: vpdpbusd on 256-bit vectors
// (fast_int8_avx2_impl.h). Compiled with AVX2 + AVX-VNNI flags for this file only.
#include "kernels/cpu/fast_int8_avx2_impl.h"

namespace rrwkv::cpu {
namespace {

using Impl = Int8Avx2<true>;
const FastKernels kTable = {"avxvnni", FastFamily::Int8, Impl::kGroup, &Impl::act_row_bytes, &Impl::prepare,
                            &Impl::tile_bytes, &Impl::gemm, &Impl::pack_bytes, &Impl::pack,
                            &Impl::scratch_bytes, &Impl::gemm_packed};

}  // namespace

const FastKernels* fast_int8_avxvnni() { return &kTable; }

}  // namespace rrwkv::cpu
