// The CUDA backend (ops/backend.h's GpuBackend) and its state store, in GPU builds (nvcc or the
// emulated device): a stream of its own, the call's staged arrays (gpu/staging.h), scratch device
// memory that lives until the next call, and row states in device memory. The ops' CUDA bodies
// and the device weight placement are not there yet: an engine on a GPU still stops at binding
// its weights (placement_for), before it makes this backend.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/backend.h"

namespace rrwkv {

// `max_staged` int64 values can be staged a call (every array rounded up to 32 values).
std::unique_ptr<GpuBackend> make_cuda_backend(const Device& device, int64_t max_staged);

}  // namespace rrwkv
