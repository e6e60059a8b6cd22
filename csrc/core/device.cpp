#include "core/device.h"

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
