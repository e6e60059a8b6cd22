// The CUDA backend (ops/backend.h's GpuBackend) and its state store, in GPU builds (nvcc or the
// emulated device): a stream of its own, on which everything it does is queued in order, the
// call's staged arrays (gpu/staging.h), scratch device memory that the next call reuses (the
// call's outputs too, copied to the host at its end, the one place a call waits), captured
// graphs, and row states in device memory. make_backend returns it for a CUDA device.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/backend.h"

namespace rrwkv {

// `max_staged` int64 values can be staged a call (every array rounded up to 32 values).
std::unique_ptr<GpuBackend> make_cuda_backend(const Device& device, int64_t max_staged);

// n zeroed floats of device memory (device_floats on a CUDA device).
std::shared_ptr<float> cuda_floats(const Device& device, int64_t n);

}  // namespace rrwkv
