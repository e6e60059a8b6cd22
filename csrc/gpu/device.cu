// The device queries of core/device.h in a GPU build. With nvcc they ask the CUDA runtime, which
// answers "no device" (not a crash) without a driver; under emulation the one device is the CPU.
#include "core/device.h"
#include "gpu/vendor.h"

namespace rrwkv {

bool cuda_compiled() { return true; }

#if defined(RRWKV_GPU_EMULATION)
bool gpu_emulated() { return true; }
#else
bool gpu_emulated() { return false; }
#endif

int cuda_device_count() {
  int n = 0;
  if (gpu::try_device_count(&n) != gpu::kSuccess) {
    gpu::last_error();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

std::string cuda_status() {
#if defined(RRWKV_GPU_EMULATION)
  return "GPU emulation (HIP-CPU): 1 device, the CPU running the GPU kernels as fibers; a test build, "
         "not a GPU (rebuild with RRWKV_CUDA=ON for one)";
#else
  int n = 0;
  const gpu::Error err = gpu::try_device_count(&n);
  if (err != gpu::kSuccess) {
    gpu::last_error();
    return std::string("CUDA compiled in, no usable device: ") + gpu::error_string(err);
  }
  std::string s = "CUDA " + std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10) +
                  ", " + std::to_string(n) + " device(s)";
  for (int i = 0; i < n; ++i) s += std::string(i ? ", " : ": ") + gpu::device_name(i);
  return s;
#endif
}

}  // namespace rrwkv
