// Sums across a warp and across a block, for kernels (device code: include from .cu files only).
#pragma once

#include "gpu/vendor.h"

namespace rrwkv::gpu {

// The sum of v over the 32 lanes of the warp, in every lane (a butterfly: each lane adds the same
// pairs, so every lane holds the same bits).
template <class T>
RRWKV_DEVICE T warp_sum(T v) {
  v += shfl_xor(v, 16);
  v += shfl_xor(v, 8);
  v += shfl_xor(v, 4);
  v += shfl_xor(v, 2);
  v += shfl_xor(v, 1);
  return v;
}

// The sum of v over the block, in every thread. Every thread of the block calls it (blockDim a
// multiple of 32, at most 1024 threads); `slots` is 32 values of shared memory that no other
// reduction of the kernel uses (so no barrier is needed after the read).
template <class T>
RRWKV_DEVICE T block_sum(T v, T* slots) {
  v = warp_sum(v);
  const unsigned warps = blockDim.x * blockDim.y * blockDim.z / kWarp;
  if (lane() == 0) slots[warp()] = v;
  __syncthreads();
  return warp_sum(lane() < warps ? slots[lane()] : T(0));
}

}  // namespace rrwkv::gpu
