// What an op needs besides its operands: the device it runs on and that device's backend context
// (backend.h; CPU: the engine's thread pool and per-thread tiles; GPU: stream, BLAS handle,
// scratch). An Engine owns one ExecContext and passes it to every op of a call; ops never allocate.
#pragma once

#include "core/device.h"
#include "ops/backend.h"

namespace rrwkv {

struct ExecContext {
  ExecContext() = default;
  explicit ExecContext(Backend& b) : device(b.device()), backend(&b) {}

  Device device;
  Backend* backend = nullptr;
  // Compute every row exactly as it would be computed alone (the decode steps of an exact engine:
  // a batched step then equals each sequence's own step bit for bit), even where a batched kernel
  // would be faster.
  bool batch_invariant = false;
  // exact=false: projections round their activations (to bf16, or int8 per block of 32) for the
  // fast kernels (kernels/cpu/fast_kernels.h), every row still independent of the others; their
  // scratch is the CPU backend's (CpuBackend::fast_scratch).
  bool fast = false;

  // The CPU's context, for the CPU bodies of the ops (RRWKV_DISPATCH runs them on the CPU only).
  CpuBackend& cpu() const { return static_cast<CpuBackend&>(*backend); }
  // The GPU's (the ops' CUDA bodies): the stream every op of the call is queued on.
  GpuBackend& gpu() const { return static_cast<GpuBackend&>(*backend); }
  void* stream() const { return gpu().stream(); }
};

}  // namespace rrwkv
