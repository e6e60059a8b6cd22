#include "ops/backend.h"

#include <algorithm>

#include "ops/backend_cuda.h"
#ifdef RRWKV_WITH_CUDA
#include "gpu/runtime.h"
#endif

namespace rrwkv {

HostStateStore::HostStateStore(int64_t rows, std::vector<float> initial)
    : StateStore(rows, std::move(initial)), states_(static_cast<size_t>(rows * row_floats())) {}

void HostStateStore::get(int64_t row, float* host) const {
  std::copy_n(states_.data() + row * row_floats(), row_floats(), host);
}

void HostStateStore::set(int64_t row, const float* host) {
  std::copy_n(host, row_floats(), states_.data() + row * row_floats());
}

void HostStateStore::copy(int64_t from, int64_t to) {
  if (from != to) set(to, states_.data() + from * row_floats());
}

CpuBackend::CpuBackend(int threads, int64_t tile_floats, bool fast) : Backend(Device::cpu()), pool_(threads) {
  if (tile_floats > 0) workspace_ = std::make_unique<Workspace>(pool_.size(), tile_floats);
  if (fast) fast_scratch_ = std::make_unique<FastScratch>(pool_.size());
}

std::unique_ptr<StateStore> CpuBackend::make_state_store(int64_t rows, std::vector<float> initial) const {
  return std::make_unique<HostStateStore>(rows, std::move(initial));
}

std::unique_ptr<Backend> make_backend(const Device& device, int threads, int64_t tile_floats, bool fast,
                                      int64_t max_staged) {
  if (device.is_cpu()) return std::make_unique<CpuBackend>(threads, tile_floats, fast);
#ifdef RRWKV_WITH_CUDA
  return make_cuda_backend(device, std::max<int64_t>(max_staged, 256));
#else
  throw_backend_unavailable("an engine", device);
#endif
}

DeviceScope::DeviceScope(const Device& device) {
#ifdef RRWKV_WITH_CUDA
  if (!device.is_cpu()) previous_ = gpu::select_device(device.index);
#else
  (void)device;
#endif
}

DeviceScope::~DeviceScope() {
#ifdef RRWKV_WITH_CUDA
  if (previous_ >= 0) gpu::restore_selected_device(previous_);
#endif
}

std::shared_ptr<float> device_floats(const Device& device, int64_t n) {
#ifdef RRWKV_WITH_CUDA
  if (!device.is_cpu()) return cuda_floats(device, n);
#endif
  if (!device.is_cpu()) throw_backend_unavailable("device memory", device);
  return std::shared_ptr<float>(new float[static_cast<size_t>(n)](), std::default_delete<float[]>());
}

}  // namespace rrwkv
