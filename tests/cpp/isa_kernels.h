// The kernel table of one ISA by name, for tests parameterised over "scalar", "avx2", "avx512";
// nullptr where this CPU cannot run it (the test then skips).
#pragma once

#include <string>

#include "kernels/cpu/matvec.h"

inline const rrwkv::cpu::KernelTable* kernels_for_isa(const std::string& isa) {
  if (!rrwkv::cpu::isa_supported(isa)) return nullptr;
  if (isa == "avx512") return rrwkv::cpu::kernels_avx512();
  if (isa == "avx2") return rrwkv::cpu::kernels_avx2();
  return rrwkv::cpu::kernels_scalar();
}
