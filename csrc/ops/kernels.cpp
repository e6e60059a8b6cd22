#include "ops/kernels.h"

#include <string>

#include "core/errors.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv {

bool has_kernel(DType t, const Device& device) {
  if (device.is_cpu()) return cpu::kernels().of(t) != nullptr;
  // the CUDA backend's: gpu/matvec.h and gpu/embedding.h read every storable type
  return cuda_compiled() && t != DType::F64;
}

void require_kernel(const char* op, DType t, const Device& device) {
  if (!device.is_cpu() && !cuda_compiled()) throw_backend_unavailable(op, device);
  if (!has_kernel(t, device))
    throw InvalidArgument(std::string(op) + ": no kernel for weights of dtype " + dtype_name(t) + " on " +
                          device.str() + "; use a type that has one (f32, f16, bf16, q8_0, q4_1)");
}

}  // namespace rrwkv
