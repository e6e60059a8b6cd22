// Build without CUDA: no devices.
#include "core/device.h"

namespace rrwkv {

bool cuda_compiled() { return false; }
bool gpu_emulated() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_status() { return "CUDA not compiled into this build"; }
bool is_device_pointer(const void*, const Device&) { return false; }
void wait_for_stream(const Device&, std::uintptr_t) {}

}  // namespace rrwkv
