// Compute peaks (peak.h). The loops are compiled for their instruction with target attributes
// and run only after the CPU was checked (fast_kernels_named: the same checks as the kernels).
#include "kernels/cpu/peak.h"

#include <atomic>
#include <chrono>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/matvec.h"

#if defined(RRWKV_X86_KERNELS)
#include <immintrin.h>
#endif

namespace rrwkv::cpu {
namespace {

constexpr int kChains = 12;  // independent accumulators: more than latency x issue rate

#if defined(RRWKV_X86_KERNELS)
#define RRWKV_CHAINS(STEP) \
  for (int c = 0; c < kChains; ++c) STEP(c)

__attribute__((target("avx512f,fma"))) float fma512(int64_t iters) {
  __m512 acc[kChains];
  const __m512 x = _mm512_set1_ps(0.5f), y = _mm512_set1_ps(0.25f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iters; ++i) {
#define STEP(c) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
    RRWKV_CHAINS(STEP)
#undef STEP
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float fma256(int64_t iters) {
  __m256 acc[kChains];
  const __m256 x = _mm256_set1_ps(0.5f), y = _mm256_set1_ps(0.25f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f,avx512bf16"))) float dpbf16(int64_t iters) {
  __m512 acc[kChains];
  const __m512bh p = (__m512bh)_mm512_set1_epi16(0x3f00);  // 0.5
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], p, p);
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) float dpbusd512(int64_t iters) {
  __m512i acc[kChains];
  const __m512i u = _mm512_set1_epi8(3), v = _mm512_set1_epi8(-2);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], u, v);
  __m512i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_epi32(s, acc[c]);
  return static_cast<float>(_mm512_reduce_add_epi32(s));
}

__attribute__((target("avx2,avxvnni"))) float dpbusd256(int64_t iters) {
  __m256i acc[kChains];
  const __m256i u = _mm256_set1_epi8(3), v = _mm256_set1_epi8(-2);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_epi32(c);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_dpbusd_avx_epi32(acc[c], u, v);
  __m256i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_epi32(s, acc[c]);
  return static_cast<float>(_mm256_extract_epi32(s, 0));
}
#undef RRWKV_CHAINS
#endif

struct Instruction {
  const char* name;
  double macs_per_iter;  // multiply-adds per iteration of the loop
  bool (*available)();
  float (*loop)(int64_t iters);
};

bool has(FastFamily f, const char* name) { return fast_kernels_named(f, name) != nullptr; }

const Instruction kInstructions[] = {
#if defined(RRWKV_X86_KERNELS)
    {"fma512", 16 * kChains, [] { return isa_supported("avx512"); }, &fma512},
    {"fma256", 8 * kChains, [] { return isa_supported("avx2"); }, &fma256},
    {"dpbf16ps512", 32 * kChains, [] { return has(FastFamily::Bf16, "avx512bf16"); }, &dpbf16},
    {"vpdpbusd512", 64 * kChains, [] { return has(FastFamily::Int8, "avx512vnni"); }, &dpbusd512},
    {"vpdpbusd256", 32 * kChains, [] { return has(FastFamily::Int8, "avxvnni"); }, &dpbusd256},
    {"tdpbssd", 4 * 16 * 16 * 64, [] { return has(FastFamily::Int8, "amx"); }, &amx_dpbssd_loop},
#else
    {"fma512", 16 * kChains, [] { return false; }, nullptr},
    {"fma256", 8 * kChains, [] { return false; }, nullptr},
    {"dpbf16ps512", 32 * kChains, [] { return false; }, nullptr},
    {"vpdpbusd512", 64 * kChains, [] { return false; }, nullptr},
    {"vpdpbusd256", 32 * kChains, [] { return false; }, nullptr},
    {"tdpbssd", 4 * 16 * 16 * 64, [] { return false; }, nullptr},
#endif
};

}  // namespace

std::vector<std::string> peak_instructions() {
  std::vector<std::string> out;
  for (const Instruction& i : kInstructions) out.emplace_back(i.name);
  return out;
}

double measure_peak(const std::string& name, int threads, double seconds) {
  for (const Instruction& ins : kInstructions) {
    if (name != ins.name) continue;
    if (!ins.available()) return 0.0;
    ThreadPool pool(threads > 0 ? threads : ThreadPool::available_cpus());
    std::atomic<float> sink{0.0f};
    // calibrate: iterations for about `seconds` on one thread
    int64_t iters = 1 << 16;
    for (;;) {
      const auto t0 = std::chrono::steady_clock::now();
      sink.store(ins.loop(iters));
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (dt > seconds / 8 || iters > (int64_t{1} << 34)) {
        iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-9)) + 1;
        break;
      }
      iters *= 4;
    }
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(pool.size(), [&](int64_t, int) { sink.store(ins.loop(iters)); });
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(pool.size()) * static_cast<double>(iters) * ins.macs_per_iter / dt;
  }
  throw InvalidArgument("unknown instruction '" + name + "'; expected one of fma512, fma256, dpbf16ps512, "
                        "vpdpbusd512, vpdpbusd256, tdpbssd");
}

std::string fast_instruction(const std::string& family) {
  const FastKernels* k = fast_kernels(family == "int8" ? FastFamily::Int8 : FastFamily::Bf16);
  const std::string n = k ? k->name : "";
  if (family == "int8")
    return n == "amx" ? "tdpbssd" : n == "avx512vnni" ? "vpdpbusd512" : n == "avxvnni" ? "vpdpbusd256" : "";
  return n == "avx512" ? "fma512" : n == "avx512bf16" ? "dpbf16ps512" : n == "avx2" ? "fma256" : "";
}

}  // namespace rrwkv::cpu
