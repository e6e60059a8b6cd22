// An engine's resources on its device, the backend context every op of a call receives through
// its ExecContext: on the CPU the thread pool of its parallel regions and the per-thread tiles of
// the BLAS path (and, for the fast path, FastScratch); on a GPU the stream the ops run on, the BLAS handle and scratch device memory
// (GpuBackend: the interface the CUDA backend implements). A backend also stages each call's
// small host arrays (a ragged batch's offsets, rows, positions, tokens) where its device reads
// them, and makes the store of its rows' states (state_store.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/device.h"
#include "core/thread_pool.h"
#include "ops/fast_scratch.h"
#include "ops/state_store.h"

namespace rrwkv {

// What holds resources on one device (a backend, a weight placement): not copyable, polymorphic.
class OnDevice {
 public:
  explicit OnDevice(const Device& device) : device_(device) {}
  virtual ~OnDevice() = default;
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;
  const Device& device() const { return device_; }

 private:
  Device device_;
};

// Device work recorded once and replayed (a captured CUDA graph), owned by whoever captured it.
class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
};

class Backend : public OnDevice {
 public:
  using OnDevice::OnDevice;
  // The n values at `host` where this device reads them, valid until the next begin_call(): one
  // copy per array per call (none on the CPU, which reads the host's).
  virtual void begin_call() {}
  virtual const int64_t* stage(const int64_t* host, int64_t n) = 0;
  // A store of `rows` states of `initial.size()` floats each, every row at `initial` to begin with.
  virtual std::unique_ptr<StateStore> make_state_store(int64_t rows, std::vector<float> initial) const = 0;
  // Where the device writes `floats` results of this call that end_call() leaves at `host`
  // (logits, hidden states): `host` itself on the CPU, call scratch on a GPU, where the device
  // may write up to `device_floats` (>= floats) of which end_call() copies the first `floats`.
  virtual float* output(float* host, int64_t /*floats*/, int64_t /*device_floats*/ = 0) { return host; }
  // The call's end: its outputs are at their host addresses. A GPU waits for the call's work
  // only when it has outputs; otherwise the work may still be queued when this returns.
  virtual void end_call() {}
  // Waits for all the work queued so far; host_waits() counts the waits of a GPU backend (the
  // host blocked on its device: end_call with outputs, the state store's get and set, wait()).
  virtual void wait() {}
  virtual int64_t host_waits() const { return 0; }

  // Captured work (ops/backend_cuda.h: CUDA graphs). capture() runs `record` with the device's
  // queue in capture mode (nothing runs; staging is refused, since a replay would not stage
  // again) and returns what it queued, or null where this backend cannot capture (the CPU).
  // replay() queues it again: the same kernels on the same addresses, reading their contents
  // as they are when it runs.
  virtual std::unique_ptr<CapturedWork> capture(const std::function<void()>&) { return nullptr; }
  virtual void replay(const CapturedWork&) {}
  // Changes whenever an address that captured work may hold changes (the call scratch grew).
  virtual uint64_t address_generation() const { return 0; }
  // Makes the call scratch at least `bytes` now, so that calls up to that size never allocate.
  virtual void reserve_scratch(size_t) {}
};

// Makes `device` the calling thread's current CUDA device for a scope and then restores the
// previous one (nothing for the CPU or a build without CUDA): every engine entry point holds one,
// so an engine on cuda:N works whatever device the calling thread had selected.
class DeviceScope {
 public:
  explicit DeviceScope(const Device& device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = -1;  // -1: nothing to restore
};

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

class CpuBackend : public Backend {
 public:
  // threads >= 1; tile_floats > 0 gives every thread a tile for the BLAS path of f16 / bf16
  // weights (0: f32 weights only); fast: the scratch of the fast projections (exact=false).
  CpuBackend(int threads, int64_t tile_floats, bool fast = false);

  ThreadPool& pool() { return pool_; }
  Workspace* workspace() { return workspace_.get(); }
  FastScratch* fast_scratch() { return fast_scratch_.get(); }  // null unless made with fast
  const int64_t* stage(const int64_t* host, int64_t) override { return host; }
  std::unique_ptr<StateStore> make_state_store(int64_t rows, std::vector<float> initial) const override;

 private:
  ThreadPool pool_;
  std::unique_ptr<Workspace> workspace_;
  std::unique_ptr<FastScratch> fast_scratch_;
};

// What the CUDA backend supplies besides the Backend calls (declared here, implemented with the
// GPU ops): the stream every op of a call is queued on, the BLAS handle of the matrix products and
// scratch device memory that lives until the call's end.
class GpuBackend : public Backend {
 public:
  using Backend::Backend;
  virtual void* stream() const = 0;
  virtual void* blas_handle() const = 0;
  virtual void* scratch(size_t bytes) = 0;
};

// The backend of an engine on `device`: CPU ones here, the CUDA one (ops/backend_cuda.h) in GPU
// builds; InvalidArgument (throw_backend_unavailable) for a device this build has no backend for.
// fast: what the CPU's fast path (exact=false) needs; max_staged: the int64 values a call stages
// (a GPU's staging buffer).
std::unique_ptr<Backend> make_backend(const Device& device, int threads, int64_t tile_floats, bool fast = false,
                                      int64_t max_staged = 0);

// `n` zeroed floats in the memory of `device` for as long as the pointer is held (a runner's
// scratch); InvalidArgument (throw_backend_unavailable) where this build has no such device.
std::shared_ptr<float> device_floats(const Device& device, int64_t n);

}  // namespace rrwkv
