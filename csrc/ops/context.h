// What an op needs besides its operands: the device it runs on and that device's resources
// (CPU: the caller's thread pool and per-thread scratch). An Engine owns one ExecContext and
// passes it to every op of a call; ops never allocate.
#pragma once

#include <cstdint>
#include <vector>

#include "core/device.h"
#include "core/thread_pool.h"
#include "ops/fast_scratch.h"

namespace rrwkv {

// Per-thread f32 tiles (CPU): f16 / bf16 weights are converted tile by tile for BLAS.
class Workspace {
 public:
  Workspace(int n_threads, int64_t tile_floats)
      : tile_floats_(tile_floats), buf_(static_cast<size_t>(n_threads) * static_cast<size_t>(tile_floats)) {}
  float* tile(int thread) { return buf_.data() + thread * tile_floats_; }
  int64_t tile_floats() const { return tile_floats_; }

 private:
  int64_t tile_floats_;
  std::vector<float> buf_;
};

struct ExecContext {
  Device device;
  ThreadPool* pool = nullptr;      // CPU: runs every parallel region of the call
  Workspace* workspace = nullptr;  // CPU: weight tiles for BLAS (may be null: f32 weights only)
  // Compute every row exactly as it would be computed alone (decode steps: a batched step then
  // equals each sequence's own step bit for bit), even where a batched kernel would be faster.
  bool batch_invariant = false;
  // exact=false: projections round their activations (to bf16, or int8 per block of 32) for the
  // fast kernels (kernels/cpu/fast_kernels.h), every row still independent of the others.
  bool fast = false;
  FastScratch* fast_scratch = nullptr;  // CPU: needed when fast
};

}  // namespace rrwkv
