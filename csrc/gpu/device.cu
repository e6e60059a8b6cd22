// The device queries of core/device.h in a GPU build. With nvcc they ask the CUDA runtime, which
// answers "no device" (not a crash) without a driver; under emulation the one device is the CPU.
#include "core/device.h"
#include "gpu/vendor.h"

namespace rrwkv {
#if !defined(RRWKV_GPU_EMULATION)
namespace {

std::string version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// cudaGetDeviceCount's error, said as what is missing and what to do: the runtime reports a
// missing driver and an old one with the same code, which only the driver's version tells apart.
std::string why_unusable(cudaError_t err) {
  int driver = 0;
  cudaDriverGetVersion(&driver);
  if (err == cudaErrorInsufficientDriver && driver == 0)
    return "no NVIDIA driver is installed or loaded (libcuda.so.1 not found); install the driver, or use the CPU";
  if (err == cudaErrorInsufficientDriver)
    return "the NVIDIA driver supports CUDA up to " + version(driver) + ", older than this build's runtime " +
           version(CUDART_VERSION) + "; update the driver, or use the CPU";
  if (err == cudaErrorNoDevice)
    return "the driver sees no CUDA device (CUDA_VISIBLE_DEVICES may hide them); use the CPU";
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

}  // namespace
#endif

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
    return "CUDA " + version(CUDART_VERSION) + " compiled in, no usable device: " + why_unusable(err);
  }
  std::string s = "CUDA " + version(CUDART_VERSION) + ", " + std::to_string(n) + " device(s)";
  for (int i = 0; i < n; ++i) s += std::string(i ? ", " : ": ") + gpu::device_name(i);
  return s;
#endif
}

bool is_device_pointer(const void* p, const Device& device) {
  return !device.is_cpu() && gpu::is_device_memory(p, device.index);
}

void wait_for_stream(const Device& device, std::uintptr_t stream) {
  gpu::DeviceGuard on(device.index);
#if defined(RRWKV_GPU_EMULATION)
  if (stream <= 2) stream = 0;  // HIP-CPU has no legacy / per-thread handles: both are its null stream
#endif
  gpu::stream_synchronize(reinterpret_cast<gpu::Stream>(stream));
}

}  // namespace rrwkv
