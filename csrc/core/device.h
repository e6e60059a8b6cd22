// Which accelerators this build can use. Always callable: without CUDA support compiled in, or
// without a driver, it reports zero devices instead of failing.
#pragma once

#include <string>

namespace rrwkv {

bool cuda_compiled();       // were the CUDA kernels built into this library?
int cuda_device_count();    // usable CUDA devices now (0 when none, no driver, or not compiled)
std::string cuda_status();  // one line for diagnostics, e.g. "CUDA 13.0, 1 device(s): NVIDIA H100"

}  // namespace rrwkv
