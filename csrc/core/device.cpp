#include "core/device.h"

#include <atomic>
#include <cstdlib>

#include "core/errors.h"

namespace rrwkv {

Device Device::parse(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "cuda") return cuda(0);
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9) {
    int index = 0;
    for (size_t i = 5; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') index = -1;
      if (index >= 0) index = index * 10 + (name[i] - '0');
    }
    if (index >= 0) return cuda(index);
  }
  throw InvalidArgument("unknown device '" + name + "'; expected 'cpu', 'cuda' or 'cuda:N'");
}

DeviceChoice resolve_device(const std::string& name, const std::string& cpu_only) {
  if (name != "auto") {
    try {
      return {Device::parse(name), ""};
    } catch (const InvalidArgument&) {
      throw InvalidArgument("unknown device '" + name + "'; expected 'cpu', 'cuda', 'cuda:N' or 'auto'");
    }
  }
  const int n = cuda_device_count();
  const std::string prefix = "device=\"auto\": ";
  if (n == 0) return {Device::cpu(), prefix + "running on the CPU: no usable CUDA device (" + cuda_status() + ")"};
  if (!cpu_only.empty())
    return {Device::cpu(), prefix + "running on the CPU although a CUDA device is usable: " + cpu_only};
  return {Device::cuda(0), prefix + "running on cuda:0 (" + cuda_status() + ")"};
}

bool claim_device_notice() {
  static std::atomic<bool> given{false};
  return !given.exchange(true);
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

void throw_backend_unavailable(const char* op, const Device& device) {
  if (!cuda_compiled())
    throw InvalidArgument(std::string(op) + " was asked to run on " + device.str() +
                          ", but this build of rrwkv_rt has no CUDA backend (built without nvcc); run on "
                          "device 'cpu', or rebuild from source on a machine with the CUDA toolkit "
                          "(pip install . with nvcc on PATH, or -DRRWKV_CUDA=ON)");
  throw InvalidArgument(std::string(op) + " has no CUDA implementation yet in this build; run it on device 'cpu'");
}

}  // namespace rrwkv
