// Run-time choice of the fast kernels (fast_kernels.h): within the ISA the matvec kernels use
// (matvec.cpp: the CPU's best, capped by RRWKV_ISA or set_isa), the best implementation of each
// family this CPU runs. All implementations of a family give the same numbers, so the choice
// changes speed only.
#include <string>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/matvec.h"

#if defined(RRWKV_X86_KERNELS)
#include <cpuid.h>
#endif

namespace rrwkv::cpu {
namespace {

// CPUID leaf 7 feature bits beyond what the base ISAs check (their OS support comes with the
// base ISA: AVX-512's register state for the AVX-512 extensions, AVX's for AVX-VNNI).
struct Extensions {
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false, amx_bf16 = false, amx_int8 = false;
};

Extensions extensions() {
  Extensions e;
#if defined(RRWKV_X86_KERNELS)
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    e.avx512vnni = (c >> 11) & 1u;
    e.amx_bf16 = (d >> 22) & 1u;
    // AMX-TILE and AMX-INT8, and the OS saving the tile state (XCR0 bits 17 and 18)
    const bool osxsave = __get_cpuid(1, &a, &b, &c, &d) && ((c >> 27) & 1u);
    unsigned lo = 0, hi = 0;
    if (osxsave) __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    e.amx_int8 = ((d >> 24) & 1u) && ((d >> 25) & 1u) && (lo & 0x60000u) == 0x60000u;
    if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
      e.avxvnni = (a >> 4) & 1u;
      e.avx512bf16 = (a >> 5) & 1u;
    }
  }
#endif
  return e;
}

const Extensions& cpu_extensions() {
  static const Extensions e = extensions();
  return e;
}

bool supported(const FastKernels* k) {
  if (!k) return false;
  const std::string n = k->name;
  const Extensions& e = cpu_extensions();
  if (n == "scalar") return true;
  if (n == "avx2") return isa_supported("avx2");
  if (n == "avxvnni") return isa_supported("avx2") && e.avxvnni;
  if (n == "avx512") return isa_supported("avx512");
  if (n == "avx512vnni") return isa_supported("avx512") && e.avx512vnni;
  if (n == "avx512bf16") return isa_supported("avx512") && e.avx512bf16;
  if (n == "amx") return isa_supported("avx512") && e.avx512vnni && e.amx_int8 && amx_permitted();
  return false;
}

const FastKernels* table(FastFamily f, const std::string& name) {
  const bool bf = f == FastFamily::Bf16;
  if (name == "scalar") return bf ? fast_bf16_scalar() : fast_int8_scalar();
  if (name == "avx2") return bf ? fast_bf16_avx2() : fast_int8_avx2();
  if (bf && name == "avx512") return fast_bf16_avx512();
  if (bf && name == "avx512bf16") return fast_bf16_avx512bf16();
  if (!bf && name == "avxvnni") return fast_int8_avxvnni();
  if (!bf && name == "avx512vnni") return fast_int8_avx512vnni();
  if (!bf && name == "amx") return fast_int8_amx();
  return nullptr;
}

// Preference order under each base ISA. vdpbf16ps is not always the fastest bf16 route: where the
// CPU has AMX (Sapphire Rapids and later) it issues one per two cycles, half the multiply-adds
// per cycle of the two f32 FMA ports, so the exact FMA emulation is faster there (tools/bench.py
// prints both peaks).
std::vector<std::string> preference(FastFamily f, const std::string& isa) {
  if (isa == "avx512") {
    // AMX is not preferred yet: measured on one Sapphire Rapids core, its int8 kernel is 1.25x the
    // VNNI one for q8_0 at 64 rows and no faster for q4_1, and slower below 16 rows (the scaling
    // of each block's integer tile in AVX-512 registers bounds it; fast_int8_amx.cpp)
    if (f == FastFamily::Int8) return {"avx512vnni", "amx", "avxvnni", "avx2", "scalar"};
    if (cpu_extensions().amx_bf16) return {"avx512", "avx512bf16", "avx2", "scalar"};
    return {"avx512bf16", "avx512", "avx2", "scalar"};
  }
  if (isa == "avx2") return f == FastFamily::Int8 ? std::vector<std::string>{"avxvnni", "avx2", "scalar"}
                                                  : std::vector<std::string>{"avx2", "scalar"};
  return {"scalar"};
}

const FastKernels* choose(FastFamily f, const std::string& isa) {
  for (const std::string& name : preference(f, isa))
    if (const FastKernels* k = fast_kernels_named(f, name)) return k;
  return nullptr;
}

}  // namespace

#if !defined(RRWKV_X86_KERNELS)
const FastKernels* fast_bf16_avx2() { return nullptr; }
const FastKernels* fast_bf16_avx512() { return nullptr; }
const FastKernels* fast_bf16_avx512bf16() { return nullptr; }
const FastKernels* fast_int8_avx2() { return nullptr; }
const FastKernels* fast_int8_avxvnni() { return nullptr; }
const FastKernels* fast_int8_avx512vnni() { return nullptr; }
const FastKernels* fast_int8_amx() { return nullptr; }
bool amx_permitted() { return false; }
float amx_dpbssd_loop(int64_t) { return 0.0f; }
#endif

FastFamily fast_family(DType w) {
  switch (w) {
    case DType::F32:
    case DType::F16:
    case DType::BF16: return FastFamily::Bf16;
    case DType::Q8_0:
    case DType::Q4_1: return FastFamily::Int8;
    default: return FastFamily::None;
  }
}

const FastKernels* fast_kernels_named(FastFamily f, const std::string& name) {
  if (f == FastFamily::None) return nullptr;
  const FastKernels* k = table(f, name);
  return supported(k) ? k : nullptr;
}

std::vector<std::string> fast_kernel_names(FastFamily f) {
  if (f == FastFamily::Bf16) return {"scalar", "avx2", "avx512", "avx512bf16"};
  if (f == FastFamily::Int8) return {"scalar", "avx2", "avxvnni", "avx512vnni", "amx"};
  return {};
}

const FastKernels* fast_kernels(FastFamily f) {
  if (f == FastFamily::None) return nullptr;
  // one cached choice per base ISA (the base ISA can change: set_isa)
  static const FastKernels* const chosen[2][3] = {
      {choose(FastFamily::Bf16, "avx512"), choose(FastFamily::Bf16, "avx2"), choose(FastFamily::Bf16, "scalar")},
      {choose(FastFamily::Int8, "avx512"), choose(FastFamily::Int8, "avx2"), choose(FastFamily::Int8, "scalar")}};
  const std::string isa = isa_name();
  const int i = isa == "avx512" ? 0 : isa == "avx2" ? 1 : 2;
  return chosen[f == FastFamily::Bf16 ? 0 : 1][i];
}

const FastKernels* fast_kernels_for(DType w) { return fast_kernels(fast_family(w)); }

}  // namespace rrwkv::cpu
