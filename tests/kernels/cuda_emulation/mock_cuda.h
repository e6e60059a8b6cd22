// Sequential host emulation of the few CUDA features csrc/cuda/wkv_cuda.cu uses, so that its kernels
// can be checked against the CPU kernels on machines without a GPU (test_wkv_cuda_emulated.py).
// Threads of a block run one after another; the kernels only synchronise before a reduction that
// thread row 0 does, so the emulated launcher (emu_launch.inc) runs row 0 last.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
struct dim3 { unsigned x = 1, y = 1, z = 1; };
inline thread_local dim3 threadIdx, blockIdx, blockDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
inline void __syncthreads() {}
using std::min;
struct __nv_bfloat16 { uint16_t x; };
inline float __bfloat162float(__nv_bfloat16 b) { uint32_t u = uint32_t(b.x) << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { uint32_t u; std::memcpy(&u, &f, 4); u += 0x7FFFu + ((u >> 16) & 1u); return {uint16_t(u >> 16)}; }
