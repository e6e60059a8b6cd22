// Test kernels for csrc/gpu/vendor.h (vendor_kernels.cu), launched on device buffers.
#pragma once

#include <cstdint>

namespace rrwkv::gpu::test {

// Per thread t of one block of (bx, by) threads, with v = x[t]: the shuffles of its 32-lane warp.
// out holds kShuffleCases values per thread: xor 1, 2, 4, 8, 16; down 1, 5, 16, 31; lane 0, 7, 31.
constexpr int kShuffleCases = 12;
void shuffles(const float* x, float* out, unsigned bx, unsigned by);

// y[t] = x[n - 1 - t] for one block of n threads, through dynamic shared memory and a barrier.
void reverse_in_shared(const float* x, float* y, unsigned n);

// The same through stream-ordered scratch, queued on `stream` (not waited for): reversed into a
// buffer from malloc_async, copied to y, freed.
void reverse_via_scratch(const float* x, float* y, unsigned n, void* stream);

// counts[x[i] % 8] += 1 and *total += 0.5 for i < n, with atomics (many blocks).
void histogram(const uint32_t* x, int64_t n, uint32_t* counts, float* total);

// The vendor conversions of every element: f16 / bf16 bits -> float, float -> bf16 bits.
void half_to_float(const uint16_t* h, float* f, int64_t n);
void bf16_to_float(const uint16_t* h, float* f, int64_t n);
void float_to_bf16(const float* f, uint16_t* h, int64_t n);

// A launch with an empty grid (must be a no-op that raises nothing).
void empty_launch(float* x);

}  // namespace rrwkv::gpu::test
