// Prints what a CUDA build says about the machine's GPUs: the device count and cuda_status().
#include <cstdio>

#include "core/device.h"

int main() {
  std::printf("%d device(s): %s\n", rrwkv::cuda_device_count(), rrwkv::cuda_status().c_str());
  return 0;
}
