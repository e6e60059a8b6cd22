// Devices: where a model's weights and a batch's state live and its ops run. The CPU always
// exists; CUDA devices exist when the CUDA kernels were compiled in and a driver sees a GPU, or,
// in a build with RRWKV_GPU_EMULATION, as one emulated device whose kernels run on the CPU.
// Every query is callable in every build: without CUDA it reports zero devices, never fails.
#pragma once

#include <string>

namespace rrwkv {

enum class DeviceKind { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;  // CUDA device ordinal (0 for the CPU)

  static Device cpu() { return {}; }
  static Device cuda(int index) { return {DeviceKind::CUDA, index}; }
  // "cpu", "cuda", "cuda:N"; throws InvalidArgument naming the accepted forms.
  static Device parse(const std::string& name);
  std::string str() const;  // "cpu", "cuda:0"
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator<(const Device& o) const { return kind != o.kind ? kind < o.kind : index < o.index; }
};

bool cuda_compiled();       // were the CUDA kernels built into this library (by nvcc or emulated)?
bool gpu_emulated();        // is the device HIP-CPU's emulation (a test build: kernels run on the CPU)?
int cuda_device_count();    // usable CUDA devices now (0 when none, no driver, or not compiled)
std::string cuda_status();  // one line for diagnostics, e.g. "CUDA 13.0, 1 device(s): NVIDIA H100"

// The one place that says a backend is missing: throws InvalidArgument "OP needs DEVICE, but
// this build ..." with what to do. Ops call it through RRWKV_DISPATCH.
[[noreturn]] void throw_backend_unavailable(const char* op, const Device& device);

}  // namespace rrwkv

// Runs `cpu_call` on the CPU, `cuda_call` on a CUDA device (an op's front, CTranslate2-style).
#ifdef RRWKV_WITH_CUDA
#define RRWKV_DISPATCH(op, device, cpu_call, cuda_call) \
  do {                                                  \
    if ((device).is_cpu()) {                            \
      cpu_call;                                         \
    } else {                                            \
      cuda_call;                                        \
    }                                                   \
  } while (0)
#else
#define RRWKV_DISPATCH(op, device, cpu_call, cuda_call)          \
  do {                                                           \
    if ((device).is_cpu()) {                                     \
      cpu_call;                                                  \
    } else {                                                     \
      ::rrwkv::throw_backend_unavailable(op, device);            \
    }                                                            \
  } while (0)
#endif
