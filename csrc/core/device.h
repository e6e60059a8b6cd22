// Devices: where a model's weights and a batch's state live and its ops run. The CPU always
// exists; CUDA devices exist when the CUDA kernels were compiled in and a driver sees a GPU, or,
// in a build with RRWKV_GPU_EMULATION, as one emulated device whose kernels run on the CPU.
// Every query is callable in every build: without CUDA it reports zero devices, never fails.
#pragma once

#include <cstdint>
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

// A device name as users give it, resolved: "cpu", "cuda", "cuda:N" (Device::parse) or "auto",
// which picks cuda:0 when a usable CUDA device exists (cuda_device_count() > 0) and otherwise
// the CPU. `cpu_only` is non-empty when the caller's options run on the CPU only (e.g.
// "exact=False runs on the CPU only"); "auto" then picks the CPU and says so. Every front (the
// Python bindings, the C API, through it rrwkv.hpp and the CLI) resolves names here.
struct DeviceChoice {
  Device device;
  std::string notice;  // for "auto": one line naming the device picked and why; "" otherwise
};
DeviceChoice resolve_device(const std::string& name, const std::string& cpu_only = "");
// True for the first caller in the process only: the notice of "auto" is given once per process.
bool claim_device_notice();

// Memory that a caller hands in (a CUDA array's __cuda_array_interface__): whether `p` is memory
// of `device` (false in a build without CUDA), and a wait for the work the caller queued on its
// own `stream` (the interface's handle: 1 the legacy default stream, 2 the per-thread one).
bool is_device_pointer(const void* p, const Device& device);
void wait_for_stream(const Device& device, std::uintptr_t stream);

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
