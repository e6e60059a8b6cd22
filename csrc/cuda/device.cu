// Build with CUDA: asks the runtime, which answers "no device" (not a crash) without a driver.
#include <cuda_runtime.h>

#include "core/device.h"

namespace rrwkv {

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

std::string cuda_status() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("CUDA compiled in, no usable device: ") + cudaGetErrorString(err);
  }
  std::string s = "CUDA " + std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10) +
                  ", " + std::to_string(n) + " device(s)";
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess) s += std::string(i ? ", " : ": ") + p.name;
  }
  return s;
}

}  // namespace rrwkv
