// The int8 family of the fast kernels (fast_kernels.h) on AVX2 without VNNI: vpmaddubsw +
// vpmaddwd (fast_int8_avx2_impl.h). Compiled with AVX2 flags for this file only.
#include "kernels/cpu/fast_int8_avx2_impl.h"

namespace rrwkv::cpu {
namespace {

using Impl = Int8Avx2<false>;
const FastKernels kTable = {"avx2", FastFamily::Int8, Impl::kGroup, &Impl::act_row_bytes, &Impl::prepare,
                            &Impl::tile_bytes, &Impl::gemm, &Impl::pack_bytes, &Impl::pack,
                            &Impl::scratch_bytes, &Impl::gemm_packed};

}  // namespace

const FastKernels* fast_int8_avx2() { return &kTable; }

}  // namespace rrwkv::cpu
