// Run-time choice of the weight-streaming kernels (matvec.h).
#include "kernels/cpu/matvec.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "core/aligned.h"
#include "core/errors.h"

namespace rrwkv::cpu {
namespace {

// clang before 15 does not know "f16c" in __builtin_cpu_supports (the sanitizer and fuzzer
// builds use clang 14); every CPU with AVX2 and FMA has F16C (it came with Ivy Bridge).
#if defined(__clang__) && __clang_major__ < 15
#define RRWKV_CPU_HAS_F16C() true
#else
#define RRWKV_CPU_HAS_F16C() __builtin_cpu_supports("f16c")
#endif

bool cpu_has(const std::string& isa) {
#if defined(RRWKV_X86_KERNELS)
  __builtin_cpu_init();
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && RRWKV_CPU_HAS_F16C();
  if (isa == "avx2")
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && RRWKV_CPU_HAS_F16C();
#endif
  return isa == "scalar";
}

const KernelTable* table_for(const std::string& isa) {
  if (!cpu_has(isa)) return nullptr;
  if (isa == "avx512") return kernels_avx512();
  if (isa == "avx2") return kernels_avx2();
  if (isa == "scalar") return kernels_scalar();
  return nullptr;
}

const KernelTable* best() {
  // RRWKV_ISA=avx2|scalar caps the choice (for benchmarks and for testing the fallbacks).
  const char* env = std::getenv("RRWKV_ISA");
  if (env && *env) {
    if (const KernelTable* t = table_for(env)) return t;
  }
  for (const char* isa : {"avx512", "avx2"})
    if (const KernelTable* t = table_for(isa)) return t;
  return kernels_scalar();
}

std::atomic<const KernelTable*>& current() {
  static std::atomic<const KernelTable*> table{best()};
  return table;
}

}  // namespace

#if !defined(RRWKV_X86_KERNELS)
const KernelTable* kernels_avx512() { return nullptr; }
const KernelTable* kernels_avx2() { return nullptr; }
#endif

const KernelTable& kernels() { return *current().load(std::memory_order_relaxed); }

float* thread_scratch(int64_t floats) {
  static thread_local AlignedFloats scratch;
  static thread_local int64_t size = 0;  // 0: nothing allocated yet (even for a request of 0)
  if (size == 0 || floats > size) {
    size = std::max<int64_t>(floats, 1);
    scratch = AlignedFloats({size});
  }
  return scratch[0];
}

bool isa_supported(const std::string& name) { return name == "auto" || table_for(name) != nullptr; }

void set_isa(const std::string& name) {
  if (name == "auto") {
    current().store(best());
    return;
  }
  if (name != "avx512" && name != "avx2" && name != "scalar")
    throw InvalidArgument("unknown ISA '" + name + "'; expected 'auto', 'avx512', 'avx2' or 'scalar'");
  const KernelTable* t = table_for(name);
  if (!t) throw InvalidArgument("this CPU (or this build) does not support the '" + name + "' kernels");
  current().store(t);
}

std::string isa_name() { return kernels().name; }

}  // namespace rrwkv::cpu
